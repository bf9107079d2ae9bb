from django.urls import path

from kompas.portal import settings_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("settings/", settings_views.settings_home, name="settings-home"),
    path("settings/portal/", settings_views.portal_settings, name="settings"),
    path("files/<path:name>", settings_views.portal_file, name="file"),
]
