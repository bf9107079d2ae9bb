"""URLs served on every portal's own host."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("auth/", include("identity.members.urls")),
    path("settings/billing/", include("billing.urls")),
    path("", include("kompas.portal.urls")),
]
