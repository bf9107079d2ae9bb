"""Pages of the sales flow: lead conversion, the forecast, conversion settings, recurring leads."""

from django.urls import path

from crm.sales import views

urlpatterns = [
    path("crm/leads/<int:pk>/convert/", views.convert, name="sales-convert-lead"),
    path("crm/forecast/", views.forecast, name="sales-forecast"),
    path("crm/recurring-leads/", views.recurring_leads, name="sales-recurring-leads"),
    path("settings/crm/conversion/", views.conversion_settings, name="sales-conversion-settings"),
]
