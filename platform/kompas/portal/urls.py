from django.urls import path

from kompas.portal import domain_views, lifecycle_views, settings_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("settings/", settings_views.settings_home, name="settings-home"),
    path("settings/portal/", settings_views.portal_settings, name="settings"),
    path("settings/domains/", domain_views.domain_list, name="domains"),
    path("settings/domains/add/", domain_views.add, name="domain-add"),
    path("settings/domains/<int:domain_id>/check/", domain_views.check_now, name="domain-check"),
    path("settings/domains/<int:domain_id>/primary/", domain_views.make_primary, name="domain-primary"),
    path("settings/domains/<int:domain_id>/remove/", domain_views.remove, name="domain-remove"),
    path("settings/portal/modules/", settings_views.portal_modules, name="settings-modules"),
    path("settings/portal/close/", lifecycle_views.close_portal, name="close"),
    path("settings/portal/reactivate/", lifecycle_views.reactivate_portal, name="reactivate"),
    path("settings/portal/export/", lifecycle_views.request_export, name="export"),
    path("settings/portal/export/<str:name>", lifecycle_views.download_export, name="export-download"),
    path("files/<path:name>", settings_views.portal_file, name="file"),
]
