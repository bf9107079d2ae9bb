"""The staff console on the public host, under /staff/ (included from kompas.urls_public)."""

from django.urls import path

from kompas.staff import auth_views, views

app_name = "staff"

urlpatterns = [
    path("", views.tenant_list, name="tenants"),
    path("two-factor/setup/", auth_views.two_factor_setup, name="two-factor-setup"),
    path("tenants/<int:pk>/", views.tenant_detail, name="tenant"),
    path("tenants/<int:pk>/actions/<str:action>/", views.tenant_action, name="action"),
    path("tenants/<int:pk>/plan/", views.change_plan, name="change-plan"),
    path("tenants/<int:pk>/impersonate/", views.impersonate, name="impersonate"),
    path("audit/", views.audit_log, name="audit"),
    path("settings/", views.platform_settings, name="settings"),
    path("provisioning/", views.provisioning, name="provisioning"),
]
