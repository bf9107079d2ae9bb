"""Record pages (``/crm/<type>/new/``, ``/crm/<type>/<id>/…``), deal stage moves and the recycle bin.

Included after the deal board and the task pages (crm/urls.py), before the lists; the fixed
``/crm/recycle-bin/`` comes first so it is never read as a record type.
"""

from django.urls import path

from crm.activities import views as activity_views
from crm.core import record_views as views

urlpatterns = [
    path("crm/recycle-bin/", views.recycle_bin, name="crm-recycle-bin"),
    path("crm/deals/<int:pk>/stage/<int:stage_id>/", views.move, name="crm-deal-move"),
    path("crm/deals/<int:pk>/contacts/", views.deal_contacts, name="crm-deal-contacts"),
    path("crm/tasks/<int:pk>/status/", views.task_status, name="crm-task-status"),
    path("crm/<slug:slug>/new/", views.create, name="crm-record-new"),
    path("crm/<slug:slug>/<int:pk>/", views.detail, name="crm-record"),
    path("crm/<slug:slug>/<int:pk>/sections/<slug:key>/", views.section, name="crm-record-section"),
    path("crm/<slug:slug>/<int:pk>/sections/<slug:key>/edit/", views.edit_section, name="crm-record-edit"),
    path("crm/<slug:slug>/<int:pk>/add/<slug:kind>/", activity_views.quick_add, name="crm-quick-add"),
    path("crm/<slug:slug>/<int:pk>/delete/", views.delete, name="crm-record-delete"),
    path("crm/<slug:slug>/<int:pk>/restore/", views.restore, name="crm-record-restore"),
    path("crm/<slug:slug>/<int:pk>/purge/", views.purge, name="crm-record-purge"),
]
