"""URLs served on every portal's own host."""

from django.urls import include, path, re_path

from crm.core.api import api_not_found

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("auth/", include("identity.members.urls")),
    path("settings/billing/", include("billing.urls")),
    path("settings/api-keys/", include("identity.members.api_key_urls")),
    path("settings/people/", include("identity.members.people_urls")),
    path("settings/security/", include("identity.members.security_urls")),
    path("settings/roles/", include("identity.members.role_urls")),
    path("", include("kompas.staff.portal_urls")),
    path("settings/partner/", include("kompas.partners.portal_urls")),
    path("api/v1/", include("identity.members.api_urls")),
    path("api/v1/", include("crm.core.settings_api_urls")),
    path("api/v1/", include("crm.sales.api_urls")),
    path("api/v1/", include("crm.duplicates.api_urls")),
    path("api/v1/", include("crm.products.api_urls")),
    path("api/v1/", include("crm.quotes.api_urls")),
    path("api/v1/", include("crm.invoices.api_urls")),
    path("api/v1/", include("crm.core.api_urls")),
    # Keep last of the API: any other /api/ address answers 404 in the API's error shape.
    re_path(r"^api/", api_not_found),
    path("", include("crm.urls")),
    path("", include("kompas.portal.urls")),
]
