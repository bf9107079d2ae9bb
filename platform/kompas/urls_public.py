"""URLs of the public site (the public schema): landing page, portal finder, signup."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Platform staff only (is_staff), on the public host; the staff console (2FA required) is /staff/.
    path("staff/admin/", admin.site.urls),
    path("staff/", include("kompas.staff.urls")),
    path("", include("kompas.staff.login_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("billing/", include("billing.urls_public")),
    path("partners/", include("kompas.partners.urls")),
    path("", include("kompas.site.urls")),
]
