from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from tenants.models import Partner, PartnerMember

LANGUAGES = [("pl", "Polski"), ("en", "English")]


class _ManagersField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, member: PartnerMember) -> str:
        return f"{member.user.get_full_name()} ({member.user.email})"


class CreateClientForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Client's company or portal name"), max_length=200)
    slug = forms.CharField(label=gettext_lazy("Portal address"), max_length=63,
                           help_text=gettext_lazy("Lower-case letters, digits and hyphens, e.g. acme."))
    owner_email = forms.EmailField(label=gettext_lazy("Client owner's e-mail address"),
                                   help_text=gettext_lazy("They get an invitation and become the portal's owner."))
    language = forms.ChoiceField(label=gettext_lazy("Portal language"), choices=LANGUAGES)
    managers = _ManagersField(label=gettext_lazy("Your people who manage this portal"), required=False,
                              queryset=PartnerMember.objects.none(), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["managers"].queryset = (PartnerMember.objects.select_related("user")
                                            .filter(partner=partner, is_active=True).order_by("user__email"))


class LinkForm(forms.Form):
    address = forms.CharField(label=gettext_lazy("Portal address"), max_length=253,
                              help_text=gettext_lazy("For example acme or acme.kompas.pl."))
    message = forms.CharField(label=gettext_lazy("Message to the portal's administrators"), max_length=500,
                              required=False, widget=forms.Textarea(attrs={"rows": 3}))


class InviteMemberForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail address"))
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=PartnerMember.Role.choices,
                             initial=PartnerMember.Role.MEMBER)


class AcceptExistingForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Your password"), widget=forms.PasswordInput)


class AcceptNewForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Your name"), max_length=200)
    password = forms.CharField(label=gettext_lazy("Choose a password"), widget=forms.PasswordInput)
