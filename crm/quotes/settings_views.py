"""Settings → Quotes: how quotes look and where an accepted quote moves its deal (administrators)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.deals.models import Stage
from crm.quotes import services
from crm.quotes.models import QuoteTemplate
from identity.members.decorators import portal_admin_required


class TemplateForm(forms.ModelForm):
    class Meta:
        model = QuoteTemplate
        fields = ["name", "header_text", "footer_text", "primary_color", "accent_color", "show_logo",
                  "accepted_stage"]
        widgets = {"primary_color": forms.TextInput(attrs={"type": "color"}),
                   "accent_color": forms.TextInput(attrs={"type": "color"}),
                   "header_text": forms.Textarea(attrs={"rows": 3}), "footer_text": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"accepted_stage": gettext_lazy("A stage that asks for fields is not entered by itself: "
                                                     "the deal's owner gets a task instead.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accepted_stage"].queryset = (Stage.objects.select_related("pipeline").exclude(kind="lost")
                                                  .order_by("pipeline__position", "position"))
        self.fields["accepted_stage"].empty_label = _("The won stage of the deal's pipeline")
        self.fields["accepted_stage"].label_from_instance = lambda stage: f"{stage.pipeline.name} → {stage.name}"


@portal_admin_required
def quote_settings(request: HttpRequest) -> HttpResponse:
    template = services.default_template()
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_template(template=QuoteTemplate.objects.get(pk=template.pk),
                                     values={name: form.cleaned_data[name] for name in form.Meta.fields})
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("Saved."))
            return redirect("/settings/crm/quotes/")
    return render(request, "quotes/settings.html", {"form": form},
                  status=400 if request.method == "POST" else 200)
