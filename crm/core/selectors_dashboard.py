"""Reads behind the dashboard, the notifications and the task calendar: each is a fixed number of
queries however many records the portal holds, and each starts from the permission-filtered
``crm.core.selectors.records`` so nothing shows here that a list would hide."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone, translation

from crm.activities.models import Activity, ActivityKind
from crm.core import selectors
from crm.core.models import ChangeEntry, CustomField
from crm.core.money import portal_currency
from crm.core.registry import record_type
from crm.tasks.models import OPEN_STATUSES, Task, TaskStatus

RECENT_SCAN = 200  # history lines looked at to find the last records someone touched
NOTIFICATION_DAYS = 7


def record_url(entity: str, record_id: int) -> str:
    return f"/crm/{record_type(entity).url_slug}/{record_id}/"


def local_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The start of ``day`` and of the next one, in the portal's time zone (active per request)."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    return start, end


@dataclass(frozen=True)
class RecordRef:
    entity: str
    id: int
    title: str
    url: str

    @property
    def label(self):
        return record_type(self.entity).label


def titles_for(principal, pairs) -> dict[tuple[str, int], RecordRef]:
    """Titles of the given (entity, id) records the principal may read: one query per record type
    present. Records the principal may not read (or that are in the recycle bin) are left out."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for entity, record_id in pairs:
        wanted[entity].add(record_id)
    found = {}
    for entity, ids in wanted.items():
        try:
            rt = record_type(entity)
        except LookupError:
            continue
        for record in selectors.records(principal, entity).filter(pk__in=ids):
            found[(entity, record.pk)] = RecordRef(entity, record.pk, str(rt.title(record)),
                                                   record_url(entity, record.pk))
    return found


# --- Tasks ------------------------------------------------------------------------------------------

def with_progress(tasks: models.QuerySet) -> models.QuerySet:
    """Subtask counts for ``progress``, in the same query (no query per row)."""
    alive = Q(subtasks__deleted_at__isnull=True)
    done = alive & Q(subtasks__status__in=(TaskStatus.COMPLETED, TaskStatus.REJECTED))
    return tasks.annotate(subtask_count=Count("subtasks", filter=alive, distinct=True),
                          subtask_done=Count("subtasks", filter=done, distinct=True))


def progress_of(task: Task) -> int | None:
    """crm.tasks.services.progress from the counts ``with_progress`` annotated."""
    total = getattr(task, "subtask_count", 0)
    if not total:
        return None
    return round(100 * task.subtask_done / total)


def my_open_tasks(member, *, limit: int = 8) -> tuple[list[Task], dict]:
    """The member's open tasks, soonest deadline first, and how many are open and overdue."""
    now = timezone.now()
    mine = selectors.records(member, "task").filter(owner=member.pk, status__in=OPEN_STATUSES)
    counts = mine.aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(deadline__lt=now)))
    tasks = list(mine.order_by(F("deadline").asc(nulls_last=True), "id")[:limit]) if counts["open"] else []
    for task in tasks:
        task.is_overdue = bool(task.deadline and task.deadline < now)
    return tasks, counts


# --- Calls and meetings -------------------------------------------------------------------------------

@dataclass
class AgendaEntry:
    activity: Activity
    record: RecordRef | None

    @property
    def starts_at(self):
        return self.activity.starts_at


def agenda(member, start: datetime.datetime, end: datetime.datetime) -> list[AgendaEntry]:
    """The member's own calls and meetings starting in [start, end), with the records they are about."""
    activities = list(Activity.objects.filter(
        author=member.pk, kind__in=(ActivityKind.CALL, ActivityKind.MEETING), deleted_at__isnull=True,
        starts_at__gte=start, starts_at__lt=end).order_by("starts_at", "id"))
    refs = titles_for(member, {(item.entity, item.record_id) for item in activities}) if activities else {}
    return [AgendaEntry(item, refs.get((item.entity, item.record_id))) for item in activities]


# --- Recently touched records -------------------------------------------------------------------------

@dataclass(frozen=True)
class RecentRecord:
    record: RecordRef
    at: datetime.datetime


def recent_records(member, *, limit: int = 10) -> list[RecentRecord]:
    """The last records the member created or changed, newest first, each once.

    Reads at most RECENT_SCAN history lines of the member (a bounded query), then the titles."""
    lines = (ChangeEntry.objects.filter(actor=member.pk).order_by("-at", "-id")
             .values_list("entity", "record_id", "at")[:RECENT_SCAN])
    seen: dict[tuple[str, int], datetime.datetime] = {}
    for entity, record_id, at in lines:
        if (entity, record_id) not in seen:
            seen[(entity, record_id)] = at
            if len(seen) >= limit * 2:  # some may be unreadable or deleted by now
                break
    if not seen:
        return []
    refs = titles_for(member, seen)
    return [RecentRecord(refs[key], at) for key, at in seen.items() if key in refs][:limit]


# --- Pipeline -------------------------------------------------------------------------------------------

@dataclass
class StageSummary:
    stage: object
    count: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # currency → sum

    def sorted_amounts(self) -> list[tuple[str, Decimal]]:
        main = portal_currency()
        return sorted(self.amounts.items(), key=lambda item: (item[0] != main, item[0]))


@dataclass
class PipelineSummary:
    pipeline: object
    stages: list[StageSummary]
    open_count: int
    open_amounts: list[tuple[str, Decimal]]
    weighted_amounts: list[tuple[str, Decimal]]
    max_count: int


def pipeline_summary(member) -> PipelineSummary | None:
    """Deals the member may read in their default pipeline: count and sum per stage, and the open
    pipeline's total and weighted total (value × probability) per currency. Three queries."""
    from crm.deals.models import StageKind
    from crm.deals.services import pipelines_for

    pipeline = pipelines_for(member).order_by("-is_default", "position", "id").first()
    if pipeline is None:
        return None
    stages = list(pipeline.stages.order_by("position", "id"))
    weighted = ExpressionWrapper(F("value") * F("probability") / Decimal(100),
                                 output_field=DecimalField(max_digits=20, decimal_places=4))
    rows = (selectors.records(member, "deal").filter(pipeline=pipeline).order_by()
            .values("stage_id", "currency").annotate(count=Count("pk"), total=Sum("value"), weighted=Sum(weighted)))
    by_stage = {stage.pk: StageSummary(stage) for stage in stages}
    open_total: dict[str, Decimal] = defaultdict(Decimal)
    weighted_total: dict[str, Decimal] = defaultdict(Decimal)
    open_count = 0
    for row in rows:
        summary = by_stage.get(row["stage_id"])
        if summary is None:
            continue
        summary.count += row["count"]
        summary.amounts[row["currency"]] = summary.amounts.get(row["currency"], Decimal(0)) + (row["total"] or 0)
        if summary.stage.kind == StageKind.OPEN:
            open_count += row["count"]
            open_total[row["currency"]] += row["total"] or 0
            weighted_total[row["currency"]] += (row["weighted"] or 0)

    def ordered(amounts: dict) -> list[tuple[str, Decimal]]:
        main = portal_currency()
        items = dict(amounts) or {main: Decimal(0)}
        return sorted(items.items(), key=lambda item: (item[0] != main, item[0]))

    summaries = [by_stage[stage.pk] for stage in stages]
    return PipelineSummary(pipeline=pipeline, stages=summaries, open_count=open_count,
                           open_amounts=ordered(open_total), weighted_amounts=ordered(weighted_total),
                           max_count=max([summary.count for summary in summaries] or [0]))


# --- Setup checklist ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SetupItem:
    key: str
    label: str
    hint: str
    url: str
    done: bool
    can_mark_seen: bool = False  # "looks fine as it is": the starting configuration may be right


def _in_every_language(build) -> list:
    """What ``build()`` gives in each language of the product (starting names were stored in the
    portal's language at the time, which may have changed since)."""
    from django.conf import settings

    results = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            results.append(build())
    return results


def _stages_changed(stages: list[tuple]) -> bool:
    from crm.deals.services import DEFAULT_STAGES

    pipelines = {row[0] for row in stages}
    if len(pipelines) != 1:
        return len(pipelines) > 1
    current = [tuple(row[1:]) for row in stages]
    starting = _in_every_language(lambda: [(str(name), probability, str(kind), color, [])
                                           for name, probability, kind, color in DEFAULT_STAGES])
    return current not in starting


def _sources_changed(rows: list[tuple]) -> bool:
    from crm.dictionaries.services import DEFAULT_CATEGORIES

    current = sorted((kind, name, category or "") for kind, name, category in rows)
    starting = _in_every_language(lambda: sorted(
        [("source_category", str(category), "") for category in DEFAULT_CATEGORIES]
        + [("source", str(source), str(category)) for category, sources in DEFAULT_CATEGORIES.items()
           for source in sources]))
    return current not in starting


def setup_checklist(member, *, seen: set[str] = frozenset(), user=None) -> list[SetupItem]:
    """The portal's first steps (like "Postęp konfiguracji panelu"), each computed from what the
    portal really holds. Four queries; meant for administrators, who can reach every page named.
    ``user`` is the member's account when the caller has it already (the signed-in user)."""
    from django.utils.translation import gettext as _

    from crm.contacts.models import Contact
    from crm.deals.models import Deal, Stage
    from crm.dictionaries.models import Choice, ChoiceKind
    from identity.members.models import Invitation, Membership
    from identity.members.security import has_two_factor

    others = Membership.objects.filter(is_active=True).exclude(pk=member.pk)
    invited = Invitation.objects.filter(revoked_at__isnull=True)
    facts = Membership.objects.filter(pk=member.pk).annotate(
        colleagues=Exists(others) | Exists(invited),
        custom_field=Exists(CustomField.objects.all()),
        contact=Exists(Contact.objects.all()),
        deal=Exists(Deal.objects.all()),
    ).values("colleagues", "custom_field", "contact", "deal").first() or {}
    stages = list(Stage.objects.filter(pipeline__is_active=True).order_by("pipeline_id", "position", "id")
                  .values_list("pipeline_id", "name", "probability", "kind", "color", "required_fields"))
    sources = list(Choice.objects.filter(kind__in=(ChoiceKind.SOURCE, ChoiceKind.SOURCE_CATEGORY))
                   .values_list("kind", "name", "category__name"))
    tenant = connection.tenant
    return [
        SetupItem("logo", _("Add your company logo"), _("It appears at the top of every page."),
                  "/settings/portal/", bool(getattr(tenant, "logo", ""))),
        SetupItem("people", _("Invite your colleagues"), _("Work on leads and deals together."),
                  "/settings/people/", bool(facts.get("colleagues"))),
        SetupItem("pipeline", _("Review your sales stages"),
                  _("Name the stages the way your team sells and set their win probabilities."),
                  "/settings/crm/pipelines/", _stages_changed(stages) or "pipeline" in seen, can_mark_seen=True),
        SetupItem("sources", _("Set up acquisition sources"), _("Know where your customers come from."),
                  "/settings/crm/lists/", _sources_changed(sources) or "sources" in seen, can_mark_seen=True),
        SetupItem("fields", _("Add a custom field"), _("Keep what your business needs on contacts or deals."),
                  "/settings/crm/fields/", bool(facts.get("custom_field"))),
        SetupItem("contact", _("Add your first contact"), _("A customer or someone you work with."),
                  "/crm/contacts/new/", bool(facts.get("contact"))),
        SetupItem("deal", _("Add your first deal"), _("See it move through your pipeline."),
                  "/crm/deals/new/", bool(facts.get("deal"))),
        SetupItem("two_factor", _("Turn on two-factor authentication"),
                  _("Protect your account with a code from your phone."),
                  "/auth/two-factor/setup/", has_two_factor(user or member.user)),
    ]


# --- Notifications --------------------------------------------------------------------------------------

class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM …)`` of a queryset, to read several counts in one query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = models.IntegerField()
    empty_result_set_value = 0  # a member who may read nothing of that kind


def _since() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=NOTIFICATION_DAYS)


def _overdue_tasks(member) -> models.QuerySet:
    return selectors.records(member, "task").filter(owner=member.pk, status__in=OPEN_STATUSES,
                                                    deadline__lt=timezone.now())


def _owner_changes(member, since) -> models.QuerySet:
    """History lines of tasks whose responsible person someone else changed since ``since``."""
    return (ChangeEntry.objects.filter(entity="task", field="owner", at__gte=since, record_id=OuterRef("pk"))
            .exclude(actor=member.pk))


def _assigned_tasks(member) -> models.QuerySet:
    """Open tasks the member is responsible for that someone else gave them in the last days: created
    for them by a colleague, or handed over (the task's history of its responsible person)."""
    since = _since()
    given_at = Subquery(_owner_changes(member, since).order_by("-at").values("at")[:1])
    created_for = Q(created_at__gte=since) & ~Q(created_by=member.pk) & Q(created_by__isnull=False)
    return (selectors.records(member, "task").filter(owner=member.pk, status__in=OPEN_STATUSES)
            .filter(created_for | Exists(_owner_changes(member, since)))
            .annotate(handed_at=given_at))


def _moved_deals(member) -> models.QuerySet:
    """Stage changes of the member's deals made by someone else in the last days."""
    from crm.deals.models import Deal

    mine = selectors.records(member, "deal").filter(owner=member.pk).values("pk")
    titles = Deal.objects.filter(pk=OuterRef("record_id")).values("title")[:1]
    return (ChangeEntry.objects.filter(entity="deal", field="stage", at__gte=_since(), record_id__in=mine)
            .exclude(actor=member.pk).select_related("actor__user")
            .annotate(deal_title=Subquery(titles)).order_by("-at", "-id"))


def notification_count(member) -> int:
    """How many notifications the bell shows: one query (plus the member's rights for non-admins)."""
    from identity.members.models import Membership

    row = Membership.objects.filter(pk=member.pk).annotate(
        overdue=SubqueryCount(_overdue_tasks(member).values("pk")),
        assigned=SubqueryCount(_assigned_tasks(member).values("pk")),
        moved=SubqueryCount(_moved_deals(member).values("pk")),
    ).values("overdue", "assigned", "moved").first()
    return sum(value or 0 for value in row.values()) if row else 0


@dataclass
class Notifications:
    overdue: list[Task]
    assigned: list[Task]
    moved: list[ChangeEntry]

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.assigned) + len(self.moved)


def notifications(member, *, limit: int = 50) -> Notifications:
    """Computed, not stored: overdue tasks, tasks given to the member, their deals others moved."""
    overdue = list(_overdue_tasks(member).order_by("deadline", "id")[:limit])
    assigned = list(_assigned_tasks(member).select_related("created_by__user")
                    .order_by("-created_at", "-id")[:limit])
    for task in assigned:
        task.given_at = max(filter(None, [task.handed_at, task.created_at]))
    assigned.sort(key=lambda task: task.given_at, reverse=True)
    moved = list(_moved_deals(member)[:limit])
    for entry in moved:
        entry.url = record_url("deal", entry.record_id)
    return Notifications(overdue=overdue, assigned=assigned, moved=moved)

