"""Tasks over the REST API (``/api/v1/tasks/``), with their links to the records they are about."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.core.api import IdField, IdListField, RecordSerializer, RecordViewSet
from crm.core.registry import record_types
from crm.tasks import services as tasks
from crm.tasks.models import Task, TaskLink


class LinkSerializer(serializers.Serializer):
    entity = serializers.ChoiceField(choices=[])
    record_id = serializers.IntegerField(min_value=1)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [rt.code for rt in record_types()]


@extend_schema_field(LinkSerializer(many=True, read_only=True))
class LinksField(serializers.Field):
    """The records a task is about, from the ``links_list`` annotation of the list query."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, task: Task) -> list[dict]:
        links = getattr(task, "links_list", None)
        if links is None:
            links = list(task.links.order_by("id").values("entity", "record_id"))
        return [{"entity": link["entity"], "record_id": link["record_id"]} for link in links]


class TaskSerializer(RecordSerializer):
    entity = "task"
    participants = IdListField()
    observers = IdListField()
    depends_on = IdListField()
    parent = IdField()
    links = LinksField()

    class Meta(RecordSerializer.Meta):
        model = Task
        fields = [*RecordSerializer.COMMON, "title", "description", "status", "priority", "deadline",
                  "completed_at", "participants", "observers", "parent", "depends_on", "links"]


class TaskViewSet(RecordViewSet):
    code = "task"
    serializer_class = TaskSerializer
    m2m = ("participants", "observers", "depends_on")

    def decorate(self, queryset):
        links = ArraySubquery(TaskLink.objects.filter(task=OuterRef("pk")).order_by("id")
                              .values(json=JSONObject(entity="entity", record_id="record_id")))
        return super().decorate(queryset).annotate(links_list=links)

    @extend_schema(request=LinkSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post", "delete"], url_path="links")
    def links(self, request: Request, pk=None) -> Response:
        """POST ``{"entity": "deal", "record_id": 7}`` links the task to a record the caller may read;
        DELETE with the same body removes the link."""
        task = self.record(pk, action="edit")
        link = self.validated(request.data, serializer_class=LinkSerializer)
        if request.method == "DELETE":
            tasks.unlink_task(task=task, entity=link["entity"], record_id=link["record_id"])
            return Response(self.represent(task))
        tasks.link_task(actor=self.actor, task=task, entity=link["entity"], record_id=link["record_id"])
        return Response(self.represent(task), status=status.HTTP_201_CREATED)
