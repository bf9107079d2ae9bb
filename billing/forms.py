from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import BillingDetails, PlanPrice
from billing.validators import clean_nip, clean_vat_id


class BillingDetailsForm(forms.ModelForm):
    # Wider than the stored value: people type NIPs with dashes and a PL prefix.
    nip = forms.CharField(label=_("NIP"), max_length=20, required=False)
    vat_id = forms.CharField(label=_("EU VAT ID"), max_length=24, required=False)

    class Meta:
        model = BillingDetails
        fields = ["company_name", "nip", "vat_id", "street", "postal_code", "city", "country", "email"]

    def clean_nip(self) -> str:
        return clean_nip(self.cleaned_data.get("nip", ""))

    def clean_vat_id(self) -> str:
        return clean_vat_id(self.cleaned_data.get("vat_id", ""))

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("country", "").upper() == "PL" and not cleaned.get("nip") and "nip" not in self.errors:
            self.add_error("nip", _("A Polish company needs its NIP on invoices."))
        return cleaned


class ChoosePlanForm(forms.Form):
    plan = forms.SlugField()
    interval = forms.ChoiceField(choices=PlanPrice.Interval.choices, initial=PlanPrice.Interval.MONTH)
    currency = forms.ChoiceField(choices=PlanPrice.Currency.choices, initial=PlanPrice.Currency.PLN)
    seats = forms.IntegerField(min_value=1, max_value=10_000, required=False)
