"""URLs of the public site (the public schema): landing page, portal finder, later signup."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("billing/", include("billing.urls_public")),
    path("", include("kompas.site.urls")),
]
