from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "crm.tasks"
    label = "crm_tasks"
    verbose_name = _("Tasks")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.tasks.models import Task
        from crm.tasks.services import prepare_task

        register(RecordType("task", Task, prepare=prepare_task,
                            m2m_fields=("participants", "observers", "depends_on"), title=lambda task: task.title,
                            subtitle=lambda task: task.get_status_display(),
                            default_columns=("title", "status", "priority", "deadline", "owner"),
                            default_ordering=("deadline", "id"),
                            read_only=frozenset({"completed_at"})))
