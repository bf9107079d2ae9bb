"""The partner portal on the public host, mounted at /partners/ (kompas.urls_public)."""

from django.urls import path

from kompas.partners import views

app_name = "partners"

urlpatterns = [
    path("", views.index, name="index"),
    path("invitation/<str:token>/", views.accept_invitation, name="invitation"),
    path("<slug:partner_slug>/", views.dashboard, name="dashboard"),
    path("<slug:partner_slug>/clients/new/", views.create_client, name="create-client"),
    path("<slug:partner_slug>/clients/<int:tenant_id>/access/", views.client_access, name="client-access"),
    path("<slug:partner_slug>/link/", views.link, name="link"),
    path("<slug:partner_slug>/members/", views.members, name="members"),
    path("<slug:partner_slug>/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("<slug:partner_slug>/members/<int:member_id>/active/", views.member_active, name="member-active"),
]
