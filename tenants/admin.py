from django.contrib import admin

from tenants.models import Domain, Tenant


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
