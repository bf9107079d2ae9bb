from django.urls import path

from identity.members import api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("members/", api.MemberListView.as_view(), name="api-members"),
]
