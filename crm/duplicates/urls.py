"""The duplicates finder, the merge wizard and the new-record warning (before the generic /crm/<type>/ pages)."""

from django.urls import path

from crm.duplicates import views

urlpatterns = [
    path("crm/duplicates/<slug:slug>/", views.finder, name="duplicates-finder"),
    path("crm/duplicates/<slug:slug>/merge/", views.merge, name="duplicates-merge"),
    path("crm/duplicates/<slug:slug>/check/", views.check, name="duplicates-check"),
]
