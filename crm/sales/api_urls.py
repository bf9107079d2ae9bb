"""The sales flow's API under ``/api/v1/``."""

from django.urls import path

from crm.sales import api

urlpatterns = [
    path("leads/<int:pk>/convert/", api.ConvertLeadView.as_view(), name="api-lead-convert"),
    path("interactions/", api.InteractionView.as_view(), name="api-interactions"),
    path("forecast/", api.ForecastView.as_view(), name="api-forecast"),
    path("recurring-leads/", api.RecurringLeadList.as_view(), name="api-recurring-leads"),
    path("recurring-leads/<int:pk>/", api.RecurringLeadDetail.as_view(), name="api-recurring-lead"),
]
