"""URLs of the public site (the public schema): landing page, portal finder, later signup."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("kompas.site.urls")),
]
