from django.contrib import admin

from tenants.models import Domain, Signup, Tenant


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """A read-mostly list for staff; lifecycle actions belong to the staff console (control-plane issue)."""

    list_display = ["name", "slug", "schema_name", "kind", "status", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "slug", "schema_name"]
    readonly_fields = ["schema_name", "slug", "created_at", "updated_at"]
    inlines = [DomainInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # dropping a schema is never a click in a list


@admin.register(Signup)
class SignupAdmin(admin.ModelAdmin):
    """Self-service signups, for staff to answer "I never got the e-mail"; read only, secrets left out."""

    list_display = ["slug", "email", "kind", "language", "created_at", "expires_at", "completed_at", "tenant"]
    list_filter = ["kind", "language"]
    search_fields = ["slug", "email", "company_name", "full_name"]
    fields = ["email", "full_name", "company_name", "kind", "slug", "language", "ip", "created_at", "expires_at",
              "completed_at", "tenant"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
