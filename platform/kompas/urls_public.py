"""URLs of the public site (the public schema): landing page, portal finder, signup."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Platform staff only (is_staff), on the public host; the full staff console is still to come.
    path("staff/admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("billing/", include("billing.urls_public")),
    path("", include("kompas.site.urls")),
]
