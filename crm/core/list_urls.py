"""List pages of contacts, companies, leads and deals (crm.core.list_views); after the fixed
addresses and record pages in crm/urls.py. Tasks have their own pages (crm/tasks/urls.py)."""

from django.urls import path

from crm.core import list_views

urlpatterns = [
    path("crm/<slug:slug>/", list_views.record_list, name="crm-list"),
    path("crm/<slug:slug>/filter-row/", list_views.filter_row, name="crm-list-filter-row"),
    path("crm/<slug:slug>/bulk/", list_views.bulk, name="crm-list-bulk"),
    path("crm/<slug:slug>/views/", list_views.create_view, name="crm-list-view-create"),
    path("crm/<slug:slug>/views/<int:pk>/", list_views.change_view, name="crm-list-view-change"),
    path("crm/<slug:slug>/views/<int:pk>/delete/", list_views.delete_view, name="crm-list-view-delete"),
]
