"""Settings → People → a person → "Hand over records" (administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from crm.core.reassign import reassign_records, records_owned_by
from crm.core.registry import record_type
from identity.members.decorators import portal_admin_required
from identity.members.models import Membership


@portal_admin_required
def hand_over(request, pk: int):
    person = get_object_or_404(Membership.objects.select_related("user"), pk=pk)
    owned = records_owned_by(person)
    colleagues = (Membership.objects.filter(is_active=True).exclude(pk=person.pk).select_related("user")
                  .order_by("user__full_name"))
    error = None
    if request.method == "POST":
        target = colleagues.filter(pk=request.POST.get("to_member") or 0).first()
        codes = [code for code in request.POST.getlist("codes") if code in owned]
        if target is None:
            error = _("Choose who takes over the records.")
        elif not codes:
            error = _("Choose at least one kind of record.")
        else:
            try:
                moved = reassign_records(actor=request.member, from_member=person, to_member=target, codes=codes,
                                         open_only=request.POST.get("open_only") == "1")
            except ValidationError as refused:
                error = " ".join(refused.messages)
            else:
                messages.success(request, _("%(count)d records moved to %(name)s.")
                                 % {"count": sum(moved.values()), "name": target})
                return redirect("people:list")
    rows = [(code, record_type(code).label_plural, count) for code, count in owned.items()]
    return render(request, "crm/hand_over.html", {"person": person, "rows": rows, "colleagues": colleagues,
                                                  "error": error, "total": sum(owned.values())})
