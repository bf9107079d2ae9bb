from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    tenant = getattr(request, "tenant", None)
    is_portal = tenant is not None and tenant.schema_name != "public"
    from tenants.lifecycle import banner_for

    return {"portal": tenant if is_portal else None, "portal_banner": banner_for(tenant) if is_portal else None}
