from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from billing.models import Plan
from tenants.models import Partner, Tenant


class PublicLoginForm(AuthenticationForm):
    """E-mail and password on the public host; one message for every refusal (no account enumeration)."""

    username = forms.EmailField(label=_("E-mail address"),
                                widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("The e-mail address or password is incorrect, or this account cannot sign in here."),
        "inactive": _("The e-mail address or password is incorrect, or this account cannot sign in here."),
    }


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code from your authenticator app, or a recovery code"), max_length=20,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))


class TenantFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"placeholder": _("Name, address, domain or e-mail")}))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), *Tenant.Status.choices])
    plan = forms.ChoiceField(label=_("Plan"), required=False)
    partner = forms.ChoiceField(label=_("Partner"), required=False)
    created_from = forms.DateField(label=_("Signed up from"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label=_("Signed up to"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", _("Any plan"))] + [(plan.code, plan.name) for plan in Plan.objects.all()]
        self.fields["partner"].choices = [("", _("Any partner")), ("none", _("No partner"))] + [
            (str(partner.pk), partner.name) for partner in Partner.objects.all()]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.TextInput(
        attrs={"placeholder": _("Why, for the audit log")}))


class ExtendTrialForm(ReasonForm):
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=365, initial=14)


class ChangePlanForm(ReasonForm):
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.all(), to_field_name="code",
                                  empty_label=None)
    seats = forms.IntegerField(label=_("Seats (per-user plans)"), min_value=1, required=False)

    field_order = ["plan", "seats", "reason"]


class ImpersonateForm(ReasonForm):
    as_user = forms.TypedChoiceField(label=_("View the portal as"), coerce=int)

    field_order = ["as_user", "reason"]

    def __init__(self, *args, members=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["as_user"].choices = [
            (member.user_id, f"{member.user.full_name} <{member.user.email}>" if member.user.full_name
             else member.user.email) for member in members]


class PlatformSettingsForm(forms.Form):
    deletion_grace_days = forms.IntegerField(label=_("Days between cancellation and deletion"), min_value=1,
                                             max_value=365)
    impersonation_minutes = forms.IntegerField(label=_("Longest staff access, minutes"), min_value=5,
                                               max_value=240)


class AuditFilterForm(forms.Form):
    tenant = forms.ChoiceField(label=_("Portal"), required=False)
    actor = forms.CharField(label=_("Who (e-mail)"), required=False, max_length=254)
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actions=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from tenants.selectors import portals

        self.fields["tenant"].choices = [("", _("All portals"))] + [
            (str(tenant.pk), f"{tenant.name} ({tenant.slug})") for tenant in portals()]
        self.fields["action"].choices = [("", _("Any action"))] + [(action, action) for action in actions]
