"""URLs served on every portal's own host."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("auth/", include("identity.members.urls")),
    path("settings/billing/", include("billing.urls")),
    path("settings/api-keys/", include("identity.members.api_key_urls")),
    path("settings/people/", include("identity.members.people_urls")),
    path("settings/security/", include("identity.members.security_urls")),
    path("settings/roles/", include("identity.members.role_urls")),
    path("api/v1/", include("identity.members.api_urls")),
    path("", include("kompas.portal.urls")),
]
