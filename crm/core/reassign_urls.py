from django.urls import path

from crm.core import reassign_views

urlpatterns = [
    path("settings/people/<int:pk>/reassign/", reassign_views.hand_over, name="crm-hand-over"),
]
