"""The dashboard at ``/``: the day's work of the signed-in person, the pipeline at a glance and, for
administrators, the portal's first steps (setup checklist)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from crm.core import selectors_dashboard as dashboard
from crm.core.navigation import readable_entities
from identity.members import permissions
from identity.members.security import two_factor_reminder
from identity.members.selectors import active_members
from tenants import modules

# Session flags: the checklist hidden for good, and items an administrator saw and kept as they were.
SETUP_DISMISSED = "kompas_setup_dismissed"
SETUP_SEEN = "kompas_setup_seen"
TEAM_SHOWN = 6


def _checklist(request: HttpRequest, member) -> dict | None:
    if not member.has_admin_rights or request.session.get(SETUP_DISMISSED):
        return None
    items = dashboard.setup_checklist(member, seen=set(request.session.get(SETUP_SEEN, [])), user=request.user)
    items = modules.keep_enabled(items, lambda item: item.url, request.tenant)  # no steps of modules that are off
    done = sum(item.done for item in items)
    if done == len(items):
        return None
    return {"items": items, "done": done, "total": len(items), "percent": round(100 * done / len(items))}


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    member = request.member
    if request.method == "POST":
        # The checklist's two buttons: hide it, or keep a starting configuration as it is.
        choice = request.POST.get("setup", "")
        if choice == "dismiss":
            request.session[SETUP_DISMISSED] = True
        elif choice in ("pipeline", "sources"):
            request.session[SETUP_SEEN] = sorted(set(request.session.get(SETUP_SEEN, [])) | {choice})
        return redirect("portal:home")
    readable = readable_entities(member)  # leaves out the entities of modules switched off
    show_agenda = modules.is_enabled("activities", request.tenant)
    tasks, task_counts = dashboard.my_open_tasks(member) if "task" in readable else ([], None)
    today = timezone.localdate()
    team = list(active_members()[:TEAM_SHOWN + 1])
    return render(request, "portal/home.html", {
        "membership": member,
        "today": today,
        "two_factor_reminder": two_factor_reminder(request.user),
        "checklist": _checklist(request, member),
        "tasks": tasks,
        "task_counts": task_counts,
        "can_create_task": "task" in readable and permissions.can(member, "task", "create", creating=True),
        "agenda": dashboard.agenda(member, *dashboard.local_day_bounds(today)) if member and show_agenda else [],
        "show_agenda": show_agenda,
        "show_calendar": "task" in readable,
        "recent": dashboard.recent_records(member) if member else [],
        "pipeline": dashboard.pipeline_summary(member) if "deal" in readable else None,
        "team": team[:TEAM_SHOWN],
        "team_more": len(team) > TEAM_SHOWN,
    })
