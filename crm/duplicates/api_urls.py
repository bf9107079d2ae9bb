"""Duplicates in the API (under /api/v1/)."""

from django.urls import path

from crm.duplicates import api

urlpatterns = [
    path("duplicates/check/", api.CheckView.as_view(), name="api-duplicates-check"),
    path("duplicates/merge/", api.MergeView.as_view(), name="api-duplicates-merge"),
]
