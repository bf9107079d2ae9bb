from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
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


class PortalPasswordResetForm(PasswordResetForm):
    """Sends the reset link only to active members of this portal; the page says the same either way."""

    def get_users(self, email):
        from identity.members.models import Membership

        member_ids = Membership.objects.filter(is_active=True).values_list("user_id", flat=True)
        return (user for user in super().get_users(email) if user.pk in set(member_ids))
