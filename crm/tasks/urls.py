"""Task pages with fixed addresses; ``/crm/tasks/new/`` and ``/crm/tasks/<id>/`` are the generic
record pages (crm.core.record_urls)."""

from django.urls import path

from crm.tasks import views

urlpatterns = [
    path("crm/tasks/", views.task_list, name="task-list"),
    path("crm/tasks/calendar/", views.task_calendar, name="task-calendar"),
    path("crm/tasks/<int:pk>/quick-status/", views.quick_status, name="task-quick-status"),
]
