from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from identity.accounts.models import User
from tenants.models import Tenant


class FindPortalForm(forms.Form):
    slug = forms.CharField(label=_("Your portal address"), max_length=63,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                         "placeholder": _("your-company")}))

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower().split(".")[0]


class SignupForm(forms.Form):
    """Sign up as a company or as an individual; every field checked on submit, with or without JavaScript."""

    kind = forms.ChoiceField(
        label=_("Who is the portal for?"), initial=Tenant.Kind.COMPANY, widget=forms.RadioSelect,
        choices=[(Tenant.Kind.COMPANY, _("A company")),
                 (Tenant.Kind.INDIVIDUAL, _("Just me — a sole trader or freelancer"))])
    full_name = forms.CharField(label=_("Your full name"), max_length=200,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("E-mail address"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), strip=False,
                               help_text=_("At least 10 characters, not a common password and not only digits."),
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    company_name = forms.CharField(label=_("Company name"), max_length=200, required=False,
                                   widget=forms.TextInput(attrs={"autocomplete": "organization"}))
    slug = forms.CharField(label=_("Portal address"), max_length=63, widget=forms.TextInput(attrs={
        "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false", "placeholder": _("your-company")}))
    # Honeypot: hidden from people by the page's CSS, filled in by bots that fill in everything.
    website = forms.CharField(label=_("Leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def clean_full_name(self) -> str:
        value = self.cleaned_data["full_name"].strip()
        if not value:
            raise forms.ValidationError(_("Please enter your name."))
        return value

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_slug(self) -> str:
        from kompas.site.signup import check_address

        return check_address(self.cleaned_data["slug"], email=(self.data.get("email") or "").strip().lower())

    def clean(self) -> dict:
        data = super().clean()
        if data.get("kind") == Tenant.Kind.COMPANY and not (data.get("company_name") or "").strip():
            self.add_error("company_name", _("Please enter the company name (or choose “Just me”)."))
        if data.get("kind") == Tenant.Kind.INDIVIDUAL:
            data["company_name"] = ""
        password = data.get("password")
        if password:
            try:
                validate_password(password, User(email=data.get("email") or "", full_name=data.get("full_name") or ""))
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data

    @property
    def is_bot(self) -> bool:
        return bool((self.data.get("website") or "").strip())


class ConfirmSignupForm(forms.Form):
    """The one click after the e-mailed link: the address (changeable if it was taken meanwhile)
    and, in another browser than the one that signed up, the password chosen then."""

    slug = forms.CharField(label=_("Portal address"), max_length=63, widget=forms.TextInput(attrs={
        "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}))
    password = forms.CharField(label=_("The password you chose when signing up"), strip=False, required=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
