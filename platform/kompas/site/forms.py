from django import forms
from django.utils.translation import gettext_lazy as _


class FindPortalForm(forms.Form):
    slug = forms.CharField(label=_("Your portal address"), max_length=63,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                         "placeholder": _("your-company")}))

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower().split(".")[0]
