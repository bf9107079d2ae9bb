"""Settings → Partner on every portal host, mounted at /settings/partner/ (kompas.urls_portal)."""

from django.urls import path

from kompas.partners import portal_views

app_name = "partner-settings"

urlpatterns = [
    path("", portal_views.partner_settings, name="page"),
    path("requests/<int:request_id>/", portal_views.decide, name="decide"),
    path("access/<int:membership_id>/revoke/", portal_views.revoke_person, name="revoke-person"),
    path("end/", portal_views.end_partnership, name="end"),
]
