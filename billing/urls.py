from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.billing_page, name="page"),
    path("details/", views.save_details, name="details"),
    path("plan/", views.choose_plan, name="choose-plan"),
    path("plan/cancel-change/", views.cancel_scheduled_change, name="cancel-change"),
    path("payments/", views.manage_payments, name="payments"),
]
