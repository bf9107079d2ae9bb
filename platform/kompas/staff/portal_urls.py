"""Staff access URLs on every portal host (included from kompas.urls_portal)."""

from django.urls import path

from kompas.staff import portal_views

app_name = "staff_access"

urlpatterns = [
    path("staff-access/enter/<str:token>/", portal_views.enter, name="enter"),
    path("staff-access/end/", portal_views.end, name="end"),
    path("settings/staff-access/", portal_views.staff_access, name="list"),
]
