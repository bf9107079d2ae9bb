"""Staff add partner agencies in Django admin (/staff/admin/): the partner and its first administrator.

Adding goes through kompas.partners.services.create_partner_with_admin, which a staff console
can call as well; after that the partner's administrators run everything from /partners/.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy

from kompas.partners import services
from kompas.partners.models import PartnerInvitation
from tenants.models import Partner, PartnerMember


class NewPartnerForm(forms.ModelForm):
    admin_email = forms.EmailField(label=gettext_lazy("First administrator's e-mail address"),
                                   help_text=gettext_lazy("They get an e-mailed invitation to the partner pages."))

    class Meta:
        model = Partner
        fields = ["name", "slug", "email"]


class PartnerMemberInline(admin.TabularInline):
    model = PartnerMember
    extra = 0
    fields = ["user", "role", "is_active", "created_at"]
    readonly_fields = ["user", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # people join by invitation, never added behind their back


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "email", "created_at"]
    search_fields = ["name", "slug", "email"]
    inlines = [PartnerMemberInline]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = NewPartnerForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        port = request.get_port()
        suffix = f":{port}" if port and str(port) not in ("80", "443") else ""
        scheme = "https" if settings.USE_TLS else "http"
        try:
            partner = services.create_partner_with_admin(
                staff=request.user, name=data["name"], slug=data["slug"], email=data["email"],
                admin_email=data["admin_email"],
                link_for=lambda token: f"{scheme}://{settings.BASE_DOMAIN}{suffix}"
                                       f"{reverse('partners:invitation', args=[token])}")
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        obj.pk = partner.pk
        obj.created_at = partner.created_at


@admin.register(PartnerInvitation)
class PartnerInvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "partner", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    search_fields = ["email", "partner__name"]
    fields = list_display
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False
