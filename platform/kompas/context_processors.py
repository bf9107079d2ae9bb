from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _portal_switcher(request: HttpRequest) -> list[dict]:
    """The person's other portals with their addresses (one query, only when a page shows it)."""
    from identity.accounts.selectors import portals_of
    from tenants.selectors import portal_address

    if not request.user.is_authenticated:
        return []
    scheme, port = ("https" if request.is_secure() else "http"), request.get_port()
    current = getattr(request, "tenant", None)
    return [{"name": tenant.name, "url": portal_address(tenant.slug, scheme=scheme, port=port),
             "current": current is not None and tenant.pk == current.pk}
            for tenant in portals_of(request.user)]


def _navigation(request: HttpRequest, member) -> list[dict]:
    from crm.core.navigation import navigation_for

    return navigation_for(member, request.path) if member else []


def portal(request: HttpRequest) -> dict:
    from tenants.lifecycle import banner_for

    tenant = getattr(request, "tenant", None)
    is_portal = tenant is not None and tenant.schema_name != "public"
    member = getattr(request, "member", None) if is_portal else None
    return {
        "portal": tenant if is_portal else None,
        "app_navigation": SimpleLazyObject(lambda: _navigation(request, member)) if is_portal else [],
        "portal_banner": banner_for(tenant) if is_portal else None,
        "my_portals": SimpleLazyObject(lambda: _portal_switcher(request)) if is_portal else [],
    }
