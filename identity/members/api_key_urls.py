from django.urls import path

from identity.members import api_key_views

app_name = "api-keys"

urlpatterns = [
    path("", api_key_views.api_keys, name="list"),
    path("<int:key_id>/revoke/", api_key_views.revoke, name="revoke"),
]
