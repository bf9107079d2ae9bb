"""Lead conversion, repeat leads and recurring leads (seed 000 L2725–3140, L2949–2961).

Every record is created or changed through crm.core.services, so each gets its history lines and
the permission checks of its type. The few fields those services keep read-only on purpose
(a lead's converted status and time, ``is_repeat``, a deal's ``lead``) are set here, in the same
transaction, with history lines written through crm.core.history.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from django.contrib.postgres.search import TrigramWordSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.activities.models import ActivityKind, Direction
from crm.activities.services import add_activity
from crm.contacts.models import Company, Contact
from crm.core import history, selectors
from crm.core import services as records
from crm.core.contact_points import normalise_email, normalise_phone
from crm.core.models import ChangeKind, SearchDocument
from crm.deals.models import Deal, StageKind
from crm.leads.models import Lead, LeadStatus
from crm.sales.models import (
    AutoConvertCondition,
    ConversionMapping,
    ConversionSettings,
    ConversionTarget,
    Frequency,
    RecurringLead,
)
from identity.members import permissions
from identity.members.models import Membership

NAME_SIMILARITY = 0.5
MATCH_LIMIT = 5

# (lead field, target, target field); ``custom.<code>`` on either side names a custom field.
DEFAULT_MAPPING: list[tuple[str, str, str]] = [
    ("first_name", "contact", "first_name"),
    ("last_name", "contact", "last_name"),
    ("emails", "contact", "emails"),
    ("phones", "contact", "phones"),
    ("position", "contact", "position"),
    ("source", "contact", "source"),
    ("company_name", "company", "name"),
    ("title", "deal", "title"),
    ("value", "deal", "value"),
    ("currency", "deal", "currency"),
    ("source", "deal", "source"),
]


# --- Field mapping ------------------------------------------------------------------------------

def mapping() -> list[tuple[str, str, str]]:
    rows = list(ConversionMapping.objects.values_list("lead_field", "target", "target_field"))
    return rows or list(DEFAULT_MAPPING)


@transaction.atomic
def set_mapping(rows: list[tuple[str, str, str]]) -> None:
    """Replace the portal's mapping (an empty list brings the defaults back)."""
    from crm.core.registry import record_type

    errors = []
    seen = set()
    lead_fields = _field_names("lead")
    for lead_field, target, target_field in rows:
        if target not in ConversionTarget.values:
            errors.append(_("“%(target)s” is not a record a lead becomes.") % {"target": target})
            continue
        if lead_field not in lead_fields:
            errors.append(_("The lead has no field “%(field)s”.") % {"field": lead_field})
        if target_field not in _field_names(target):
            errors.append(_("The %(target)s has no field “%(field)s”.")
                          % {"target": record_type(target).label, "field": target_field})
        if (target, target_field) in seen:
            errors.append(_("“%(field)s” is filled twice.") % {"field": f"{target}.{target_field}"})
        seen.add((target, target_field))
    if errors:
        raise ValidationError(errors)
    ConversionMapping.objects.all().delete()
    ConversionMapping.objects.bulk_create(
        ConversionMapping(lead_field=lf, target=t, target_field=tf, position=i) for i, (lf, t, tf) in enumerate(rows))


def _field_names(code: str) -> set[str]:
    from crm.core.custom_fields import definitions
    from crm.core.registry import record_type

    rt = record_type(code)
    names = {f.name for f in rt.model._meta.concrete_fields if f.editable} - records.ALWAYS_READ_ONLY - {"custom"}
    return names | {f"custom.{d.code}" for d in definitions(code)}


def field_choices(code: str) -> list[tuple[str, str]]:
    """(name, label) of the fields a mapping may use on a record type, custom ones included."""
    from crm.core.custom_fields import definitions
    from crm.core.registry import record_type

    rt = record_type(code)
    plain = [(f.name, str(f.verbose_name)) for f in rt.model._meta.concrete_fields
             if f.editable and f.name not in records.ALWAYS_READ_ONLY | {"custom"}]
    return plain + [(f"custom.{d.code}", d.label) for d in definitions(code)]


def _lead_value(lead: Lead, name: str):
    if name.startswith("custom."):
        return (lead.custom or {}).get(name.removeprefix("custom."))
    field_ = lead._meta.get_field(name)
    return getattr(lead, field_.attname)


def mapped_values(lead: Lead, target: str, rows: list[tuple[str, str, str]] | None = None) -> dict:
    """What the lead gives the ``target`` record, as values for crm.core.services."""
    values: dict = {}
    for lead_field, row_target, target_field in rows if rows is not None else mapping():
        if row_target != target:
            continue
        value = _lead_value(lead, lead_field)
        if value in (None, "", []):
            continue
        if target_field.startswith("custom."):
            values.setdefault("custom", {})[target_field.removeprefix("custom.")] = value
        else:
            values[target_field] = value
    return values


# --- Matches ------------------------------------------------------------------------------------

@dataclass
class Match:
    record: models.Model
    reasons: list[str] = field(default_factory=list)


@dataclass
class Matches:
    contacts: list[Match]
    companies: list[Match]


def _points(items, normalise) -> list[str]:
    found = []
    for item in items or []:
        raw = item.get("value") if isinstance(item, dict) else item
        try:
            found.append(normalise(raw))
        except ValidationError:
            continue
    return found


def _lead_nip(lead: Lead) -> str:
    return "".join(ch for ch in str((lead.custom or {}).get("nip") or "") if ch.isdigit())


def _point_q(emails: list[str], phones: list[str]) -> Q:
    q = Q(pk__in=[])
    for email in emails:
        q |= Q(emails__contains=[{"value": email}])
    for phone in phones:
        q |= Q(phones__contains=[{"value": phone}])
    return q


def _reasons(record, emails: list[str], phones: list[str]) -> list[str]:
    reasons = []
    values = {item.get("value") for item in (record.emails or []) + (record.phones or []) if isinstance(item, dict)}
    if any(email in values for email in emails):
        reasons.append(_("same e-mail"))
    if any(phone in values for phone in phones):
        reasons.append(_("same phone"))
    return reasons


def conversion_matches(lead: Lead, *, actor=None) -> Matches:
    """Existing contacts and companies the lead may be, instead of creating duplicates: the same
    e-mail or phone (GIN jsonb_path_ops), the same NIP, a company name alike (trigram word
    similarity on the GIN-indexed search text). Two queries, each bounded."""
    emails = _points(lead.emails, normalise_email)
    phones = _points(lead.phones, normalise_phone)
    contacts_qs = selectors.records(actor, "contact") if actor is not None else Contact.objects.alive()
    companies_qs = selectors.records(actor, "company") if actor is not None else Company.objects.alive()
    contact_q = _point_q(emails, phones)
    if lead.contact_id:
        contact_q |= Q(pk=lead.contact_id)
    contacts = []
    if emails or phones or lead.contact_id:
        for contact in contacts_qs.filter(contact_q).select_related("company").order_by("-updated_at")[:MATCH_LIMIT]:
            reasons = _reasons(contact, emails, phones)
            if contact.pk == lead.contact_id:
                reasons.insert(0, _("linked to the lead"))
            contacts.append(Match(contact, reasons))
    company_q = _point_q(emails, phones)
    nip = _lead_nip(lead)
    if nip:
        company_q |= Q(nip=nip)
    if lead.company_id:
        company_q |= Q(pk=lead.company_id)
    name = (lead.company_name or "").strip()
    companies_found = companies_qs
    if name:
        doc = SearchDocument(Value(name))
        company_q |= Q(search_text__trigram_word_similar=doc)
        companies_found = companies_found.annotate(name_score=TrigramWordSimilarity(doc, "search_text"))
    else:
        companies_found = companies_found.annotate(name_score=Value(0.0, output_field=models.FloatField()))
    companies = []
    if emails or phones or nip or name or lead.company_id:
        ordered = companies_found.filter(company_q).order_by("-name_score", "-updated_at")[:MATCH_LIMIT * 2]
        for company in ordered:
            reasons = _reasons(company, emails, phones)
            if nip and company.nip == nip:
                reasons.insert(0, _("same NIP"))
            if company.pk == lead.company_id:
                reasons.insert(0, _("linked to the lead"))
            if name and company.name_score >= NAME_SIMILARITY:
                reasons.append(_("similar name"))
            if reasons:
                companies.append(Match(company, reasons))
        companies = companies[:MATCH_LIMIT]
    # A contact's company is a likely match too, when the contact matched.
    known = {m.record.pk for m in companies}
    for match in contacts:
        company = match.record.company
        if company is None or company.pk in known or company.deleted_at is not None:
            continue
        if len(companies) < MATCH_LIMIT:
            companies.append(Match(company, [_("company of a matching contact")]))
            known.add(company.pk)
    return Matches(contacts, companies)


# --- Conversion ---------------------------------------------------------------------------------

class AlreadyConverted(ValidationError):
    pass


@dataclass
class Conversion:
    lead: Lead
    contact: Contact | None
    company: Company | None
    deal: Deal | None


def _existing(actor, code: str, pk) -> models.Model:
    try:
        return selectors.record_for(actor, code, int(pk))
    except (TypeError, ValueError):
        raise ValidationError({code: [_("Choose an existing record or “new”.")]}) from None


def _set_hidden(actor, code: str, record: models.Model, values: dict) -> None:
    """Fields crm.core.services keeps read-only (set only by this flow), with their history lines."""
    shown = [name for name in values if name != "converted_at"]  # the "converted" event carries the time
    before = {name: value for name, value in history.snapshot(record).items() if name in shown}
    for name, value in values.items():
        setattr(record, name, value)
    record.save(update_fields=[*values, "updated_at"])
    after = {name: value for name, value in history.snapshot(record).items() if name in shown}
    history.record_changes(actor=actor, entity=code, record=record, before=before, after=after)


@transaction.atomic
def convert_lead(*, actor, lead: Lead, contact=None, company=None, deal=None) -> Conversion:
    """Make the lead a contact, a company and a deal — new ones, or existing ones chosen instead of
    duplicates — linked together; the lead is marked converted and keeps its history.

    ``contact``/``company``: an existing id, "new", or None (none). ``deal``: "new", a dict of deal
    values (title, value, currency, pipeline, stage, expected_close_date …) or None.
    """
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.deleted_at is not None:
        raise ValidationError(_("This lead is in the recycle bin; restore it before converting it."))
    permissions.require(actor, "lead", "edit", owner=locked.owner)
    if locked.status == LeadStatus.CONVERTED:
        raise AlreadyConverted(_("This lead has already been converted."))
    if locked.is_repeat and ("new" in (contact, company)):
        raise ValidationError(_("A repeat lead comes from a known customer: it becomes a deal only."))
    if locked.is_repeat and contact is None and locked.contact_id:
        contact = locked.contact_id
    if locked.is_repeat and company is None and locked.company_id:
        company = locked.company_id
    if contact is None and company is None and deal is None:
        raise ValidationError(_("Choose at least one record to convert the lead into."))
    rows = mapping()

    company_record = None
    if company == "new":
        values = mapped_values(locked, "company", rows)
        values.setdefault("name", locked.company_name or locked.title)
        company_record = records.create_record(actor=actor, code="company", values=values)
    elif company is not None:
        company_record = _existing(actor, "company", company)

    contact_record = None
    if contact == "new":
        values = mapped_values(locked, "contact", rows)
        if company_record is not None:
            values["company"] = company_record.pk
        if not values.get("first_name") and not values.get("last_name"):
            values["last_name"] = locked.title
        contact_record = records.create_record(actor=actor, code="contact", values=values)
    elif contact is not None:
        contact_record = _existing(actor, "contact", contact)
        if company_record is not None and contact_record.company_id is None:
            contact_record = records.update_record(actor=actor, record=contact_record,
                                                   values={"company": company_record.pk})

    deal_record = None
    if deal is not None:
        values = mapped_values(locked, "deal", rows)
        if isinstance(deal, dict):
            given = {k: v for k, v in deal.items() if v not in (None, "")}
            values = values | given
        values.setdefault("title", locked.title)
        if company_record is not None:
            values.setdefault("company", company_record.pk)
        if contact_record is not None:
            values.setdefault("contacts", [contact_record.pk])
        deal_record = records.create_record(actor=actor, code="deal", values=values)
        _set_hidden(actor, "deal", deal_record, {"lead": locked})

    links = {}
    if contact_record is not None and locked.contact_id != contact_record.pk:
        links["contact"] = contact_record.pk
    if company_record is not None and locked.company_id != company_record.pk:
        links["company"] = company_record.pk
    if links:
        locked = records.update_record(actor=actor, record=locked, values=links)
    _set_hidden(actor, "lead", locked, {"status": LeadStatus.CONVERTED, "converted_at": timezone.now()})
    made = [str(r) for r in (contact_record, company_record, deal_record) if r is not None]
    history.record_event(actor=actor, entity="lead", record_id=locked.pk, kind=ChangeKind.CONVERTED,
                         note=", ".join(made))
    return Conversion(locked, contact_record, company_record, deal_record)


def conversion_settings() -> ConversionSettings:
    found = ConversionSettings.objects.first()
    return found or ConversionSettings()


@transaction.atomic
def save_conversion_settings(*, auto_convert: bool, condition: str) -> ConversionSettings:
    if condition not in AutoConvertCondition.values:
        raise ValidationError({"condition": [_("Choose a condition from the list.")]})
    found = ConversionSettings.objects.select_for_update().first() or ConversionSettings()
    found.auto_convert, found.condition = auto_convert, condition
    found.save()
    return found


def _meets(lead: Lead, condition: str) -> bool:
    if lead.status != LeadStatus.IN_PROGRESS or lead.deleted_at is not None:
        return False
    if condition == AutoConvertCondition.IN_PROGRESS_WITH_COMPANY:
        return bool((lead.company_name or "").strip())
    return True


def maybe_auto_convert(*, actor, lead: Lead) -> Conversion | None:
    """The automatic rule, called by the lead page and the API after a lead is saved: when it is on
    and the lead meets its condition, convert it — using the one existing contact/company that
    matches by e-mail, phone or NIP (never a new duplicate), new ones otherwise, and a new deal."""
    rule = conversion_settings()
    if not rule.auto_convert or lead.status == LeadStatus.CONVERTED or not _meets(lead, rule.condition):
        return None
    if not permissions.can(actor, "lead", "edit", owner=lead.owner):
        return None
    found = conversion_matches(lead, actor=actor)
    strong = [m for m in found.companies if _("similar name") not in m.reasons or len(m.reasons) > 1]
    contact = found.contacts[0].record.pk if found.contacts else ("new" if not lead.is_repeat else None)
    company = strong[0].record.pk if strong else ("new" if lead.company_name and not lead.is_repeat else None)
    return convert_lead(actor=actor, lead=lead, contact=contact, company=company, deal="new")


def auto_convert_recent(*, since: datetime.datetime) -> int:
    """The periodic sweep that applies the automatic rule to leads changed since ``since``, acting
    as each lead's owner (the lead page and API may also call maybe_auto_convert right after a save)."""
    rule = conversion_settings()
    if not rule.auto_convert:
        return 0
    candidates = (Lead.objects.alive().filter(status=LeadStatus.IN_PROGRESS, updated_at__gte=since,
                                              owner__isnull=False).select_related("owner").order_by("id")[:500])
    converted = 0
    for lead in candidates:
        try:
            if maybe_auto_convert(actor=lead.owner, lead=lead) is not None:
                converted += 1
        except (ValidationError, PermissionDenied):
            continue  # e.g. a required deal field: the lead stays for a person to convert
    return converted


# --- Repeat leads -------------------------------------------------------------------------------

CHANNELS = ("form", "email", "call", "api", "chat")
CHANNEL_LABELS = {"form": gettext_lazy("form"), "email": gettext_lazy("e-mail"), "call": gettext_lazy("phone call"),
                  "api": gettext_lazy("integration"), "chat": gettext_lazy("chat")}


@dataclass
class Interaction:
    outcome: str  # "repeat_lead" | "attached" | "new_lead"
    record: models.Model
    entity: str
    contact: Contact | None


def _known_contact(contact_data: dict) -> Contact | None:
    emails = _points(contact_data.get("emails") or ([contact_data["email"]] if contact_data.get("email") else []),
                     normalise_email)
    phones = _points(contact_data.get("phones") or ([contact_data["phone"]] if contact_data.get("phone") else []),
                     normalise_phone)
    if not emails and not phones:
        return None
    return Contact.objects.alive().filter(_point_q(emails, phones)).order_by("-updated_at").first()


@transaction.atomic
def register_interaction(*, actor, channel: str, summary: str = "", contact_data: dict | None = None,
                         contact=None) -> Interaction:
    """A person got in touch (form, e-mail, call, API). A known customer with an active lead or an
    open deal gets the interaction attached to it; a known customer without one gets a repeat lead;
    anyone else a new lead."""
    if channel not in CHANNELS:
        raise ValidationError({"channel": [_("Use one of: %(channels)s.") % {"channels": ", ".join(CHANNELS)}]})
    contact_data = dict(contact_data or {})
    if contact is not None:
        found = contact if isinstance(contact, Contact) else _existing(actor, "contact", contact)
    else:
        found = _known_contact(contact_data)
    summary = (summary or "").strip()
    title = contact_data.get("title") or (summary.splitlines()[0][:200] if summary else "")
    if found is not None:
        lead = (Lead.objects.alive().filter(contact=found, status__in=[LeadStatus.NEW, LeadStatus.IN_PROGRESS])
                .order_by("-created_at").first())
        deal = None if lead else (Deal.objects.alive().filter(contacts=found, stage__kind=StageKind.OPEN)
                                  .order_by("-created_at").first())
        target = lead or deal
        if target is not None:
            entity = "lead" if lead else "deal"
            kind = ActivityKind.CALL if channel == "call" else ActivityKind.NOTE
            extra = ({"starts_at": timezone.now(), "direction": Direction.INBOUND, "is_done": True}
                     if kind == ActivityKind.CALL else {})
            label = CHANNEL_LABELS[channel]
            body = summary or _("%(name)s got in touch again (%(channel)s).") % {"name": found, "channel": label}
            activity = add_activity(actor=actor, entity=entity, record_id=target.pk, kind=kind,
                                    subject=_("Got in touch again (%(channel)s)") % {"channel": label},
                                    body=body, **extra)
            return Interaction("attached", activity, entity, found)
        values = {"title": title or _("%(name)s got in touch again") % {"name": found},
                  "first_name": found.first_name, "last_name": found.last_name, "position": found.position,
                  "emails": found.emails, "phones": found.phones, "contact": found.pk,
                  "company": found.company_id, "company_name": found.company.name if found.company_id else "",
                  "description": summary}
        if contact_data.get("owner"):
            values["owner"] = contact_data["owner"]
        elif found.owner_id:
            values["owner"] = found.owner_id
        lead = records.create_record(actor=actor, code="lead", values={k: v for k, v in values.items()
                                                                          if v not in (None, "")})
        _set_hidden(actor, "lead", lead, {"is_repeat": True})
        return Interaction("repeat_lead", lead, "lead", found)
    values = {name: contact_data[name] for name in ("first_name", "last_name", "company_name", "position", "emails",
                                                    "phones", "value", "currency", "source", "owner")
              if contact_data.get(name) not in (None, "", [])}
    if contact_data.get("email") and "emails" not in values:
        values["emails"] = [contact_data["email"]]
    if contact_data.get("phone") and "phones" not in values:
        values["phones"] = [contact_data["phone"]]
    name = " ".join(filter(None, [values.get("first_name"), values.get("last_name")]))
    values["title"] = title or name or values.get("company_name") or _("New enquiry")
    if summary:
        values["description"] = summary
    lead = records.create_record(actor=actor, code="lead", values=values)
    return Interaction("new_lead", lead, "lead", None)


# --- Recurring leads ----------------------------------------------------------------------------

def next_date(day: datetime.date, frequency: str) -> datetime.date:
    if frequency == Frequency.DAILY:
        return day + datetime.timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        return day + datetime.timedelta(days=7)
    month = day.month % 12 + 1
    year = day.year + (1 if month == 1 else 0)
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def create_recurring_lead(*, actor, values: dict) -> RecurringLead:
    permissions.require(actor, "lead", "create", creating=True)
    item = RecurringLead(**values)
    if item.owner_id is None and isinstance(actor, Membership):
        item.owner = actor
    if item.contact_id is None and item.company_id is None:
        raise ValidationError({"contact": [_("Choose a contact or a company.")]})
    for code, pk in (("contact", item.contact_id), ("company", item.company_id)):
        if pk is not None:
            _existing(actor, code, pk)
    try:
        item.full_clean()
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    item.save()
    return item


def update_recurring_lead(*, actor, item: RecurringLead, values: dict) -> RecurringLead:
    permissions.require(actor, "lead", "create", creating=True)
    for name, value in values.items():
        setattr(item, name, value)
    if item.contact_id is None and item.company_id is None:
        raise ValidationError({"contact": [_("Choose a contact or a company.")]})
    for code, pk in (("contact", item.contact_id), ("company", item.company_id)):
        if pk is not None and ("contact_id" if code == "contact" else "company_id") in values:
            _existing(actor, code, pk)
    try:
        item.full_clean()
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    item.save()
    return item


def delete_recurring_lead(*, actor, item: RecurringLead) -> None:
    permissions.require(actor, "lead", "create", creating=True)
    item.delete()


def create_due_recurring_leads(*, today: datetime.date | None = None) -> int:
    """Open the leads whose day has come (the periodic job); a missed day catches up once."""
    today = today or timezone.localdate()
    created = 0
    for item in RecurringLead.objects.filter(active=True, next_run__lte=today).select_related(
            "contact__company", "company"):
        with transaction.atomic():
            locked = (RecurringLead.objects.select_for_update(skip_locked=True, of=("self",))
                      .select_related("owner").filter(pk=item.pk, next_run__lte=today).first())
            if locked is None or locked.owner is None or not locked.owner.is_active:
                continue  # nobody to open it for: the list shows it as waiting for an owner
            contact, company = item.contact, item.company
            values = {"title": locked.title_template.replace("{date}", today.isoformat())[:250]}
            if contact is not None:
                values |= {"contact": contact.pk, "first_name": contact.first_name, "last_name": contact.last_name,
                           "emails": contact.emails, "phones": contact.phones}
                company = company or contact.company
            if company is not None:
                values |= {"company": company.pk, "company_name": company.name}
            owner = locked.owner
            lead = records.create_record(actor=owner, code="lead", values={k: v for k, v in values.items()
                                                                           if v not in (None, "", [])})
            _set_hidden(owner, "lead", lead, {"is_repeat": True})
            run = locked.next_run
            while run <= today:
                run = next_date(run, locked.frequency)
            locked.next_run = run
            locked.save(update_fields=["next_run"])
            created += 1
    return created
