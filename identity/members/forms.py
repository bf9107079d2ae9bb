from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class PortalLoginForm(AuthenticationForm):
    """E-mail and password; one message for every refusal so it never tells who has an account."""

    username = forms.EmailField(label=_("E-mail address"),
                                widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("The e-mail address or password is incorrect, or this account has no access "
                           "to this portal."),
        "inactive": _("The e-mail address or password is incorrect, or this account has no access "
                      "to this portal."),
    }
