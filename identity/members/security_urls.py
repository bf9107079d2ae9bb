from django.urls import path

from identity.members import security_views

app_name = "security"

urlpatterns = [path("", security_views.security_settings, name="settings")]
