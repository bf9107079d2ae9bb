from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    tenant = getattr(request, "tenant", None)
    is_portal = tenant is not None and tenant.schema_name != "public"
    return {"portal": tenant if is_portal else None}
