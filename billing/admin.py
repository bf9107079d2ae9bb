"""Staff edit plans as data here (no deploy to change a price or a limit), and watch billing health."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import BillingDrift, Feature, Invoice, Plan, PlanPrice, Resource, StripeEvent, Subscription


class PlanAdminForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ["code", "name_pl", "name_en", "description_pl", "description_en", "per_seat", "limits",
                  "features", "rank", "is_public", "is_free"]

    def clean_limits(self) -> dict:
        limits = self.cleaned_data.get("limits") or {}
        if not isinstance(limits, dict):
            raise forms.ValidationError(_("Limits must be an object like {\"seats\": 12}."))
        for key, value in limits.items():
            if key not in Resource.values:
                raise forms.ValidationError(_("Unknown limit %(key)s; known limits: %(known)s.")
                                            % {"key": key, "known": ", ".join(Resource.values)})
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise forms.ValidationError(_("The limit %(key)s must be a whole number of 0 or more, or null "
                                              "for no limit.") % {"key": key})
        return limits

    def clean_features(self) -> dict:
        features = self.cleaned_data.get("features") or {}
        if not isinstance(features, dict):
            raise forms.ValidationError(_("Features must be an object like {\"api_access\": true}."))
        for key, value in features.items():
            if key not in Feature.values:
                raise forms.ValidationError(_("Unknown feature %(key)s; known features: %(known)s.")
                                            % {"key": key, "known": ", ".join(Feature.values)})
            if not isinstance(value, bool):
                raise forms.ValidationError(_("The feature %(key)s must be true or false.") % {"key": key})
        return features


class PlanPriceInline(admin.TabularInline):
    model = PlanPrice
    extra = 0
    readonly_fields = ["stripe_price_id"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanAdminForm
    inlines = [PlanPriceInline]
    list_display = ["code", "name_pl", "name_en", "rank", "per_seat", "is_public", "is_free"]
    ordering = ["rank"]
    readonly_fields = ["stripe_product_id", "created_at", "updated_at"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "plan", "status", "seats", "trial_ends_at", "current_period_end", "past_due_since"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__name", "tenant__slug", "stripe_customer_id", "stripe_subscription_id"]
    list_select_related = ["tenant", "plan"]
    # Stripe is the source of truth for paid subscriptions: staff change plans through Stripe
    # or the portal's billing page, so the mirror stays consistent.
    readonly_fields = ["stripe_customer_id", "stripe_subscription_id", "past_due_since", "updated_at"]


@admin.register(BillingDrift)
class BillingDriftAdmin(admin.ModelAdmin):
    list_display = ["tenant", "field", "local_value", "stripe_value", "found_at", "resolved_at"]
    list_filter = ["field", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "received_at", "processed_at", "attempts"]
    list_filter = ["type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["id"]
    readonly_fields = ["id", "type", "payload", "received_at", "processed_at", "attempts", "last_error"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "tenant", "status", "amount_due", "currency", "created_at"]
    list_filter = ["status", "currency"]
    list_select_related = ["tenant"]


admin.site.site_header = gettext_lazy("Kompas staff")
admin.site.site_title = gettext_lazy("Kompas staff")
