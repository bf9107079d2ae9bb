"""Quotes: numbering, lines from a deal, totals, the PDF, sending, and the client's online view and
decision (seed 000 L908–965).

A quote is a record (crm.core.services writes it; ``prepare_quote`` holds its rules). Lines and
extra costs are plain rows written here with the quote's edit right. The client reaches the quote
only through a signed token bound to the portal's schema and the quote's id.
"""

from __future__ import annotations

import base64
import datetime
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core import selectors
from crm.core.money import clean_currency
from crm.products.pricing import DocumentTotals, LineAmounts, document_totals, money
from crm.products.services import _history, clean_line_values
from crm.quotes.models import NumberSequence, Quote, QuoteCost, QuoteLine, QuoteStatus, QuoteTemplate
from identity.members import permissions

TOKEN_SALT = "kompas.quotes.public-link"
SERIES_PREFIX = "OF"
BEACON_MAX_SECONDS = 30
INSERT_SERIES = (f"INSERT INTO {NumberSequence._meta.db_table} (series, last_number) VALUES (%s, 0) "  # noqa: S608
                 "ON CONFLICT (series) DO NOTHING")
DECIDED = {QuoteStatus.ACCEPTED, QuoteStatus.DECLINED}


# --- Numbers -------------------------------------------------------------------------------------

def next_number(*, today: datetime.date | None = None) -> str:
    """The next number of this year's series, e.g. OF/2026/0001. The series row is locked until the
    caller's transaction ends, so two quotes never share a number (and a rolled back one gives its
    number back)."""
    year = (today or timezone.localdate()).year
    series = f"{SERIES_PREFIX}/{year}"
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SERIES, [series])
    sequence = NumberSequence.objects.select_for_update().get(series=series)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{series}/{sequence.last_number:04d}"


# --- The record's rules ----------------------------------------------------------------------------

def default_template() -> QuoteTemplate:
    template = QuoteTemplate.objects.filter(is_default=True).first() or QuoteTemplate.objects.first()
    if template is None:
        template = QuoteTemplate.objects.create(name=_("Standard"), is_default=True)
    return template


def _first_email(items) -> str:
    for item in items or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value:
            return str(value)
    return ""


def client_snapshot(quote: Quote) -> dict:
    """What the quote says about the client, frozen at issue time."""
    data = {}
    company, contact = quote.company, quote.contact
    if company is not None:
        data |= {"company": company.name, "nip": company.nip, "street": company.street,
                 "postal_code": company.postal_code, "city": company.city, "country": company.country,
                 "company_email": _first_email(company.emails)}
    if contact is not None:
        data |= {"contact": str(contact), "email": _first_email(contact.emails)}
        if company is None and contact.company_id:
            data |= {"company": contact.company.name}
    data.setdefault("email", data.get("company_email", ""))
    return data


def _readable(actor, code: str, value, field: str):
    pk = getattr(value, "pk", value)
    try:
        return selectors.record_for(actor, code, pk)
    except (Http404, ValueError, TypeError):
        raise ValidationError({field: [_("No such record, or you may not see it.")]}) from None


def prepare_quote(values: dict, record: Quote | None, actor) -> dict:
    """Currency follows the deal; client comes from the deal unless given; a new quote gets the next
    number of the series, the default template and the client's data as they are now."""
    if record is not None and record.status in DECIDED:
        raise ValidationError(_("The client has already decided on this quote; it cannot be changed."))
    deal = None
    if values.get("deal") not in (None, ""):
        deal = _readable(actor, "deal", values["deal"], "deal")
        values["deal"] = deal
    elif record is not None and "deal" not in values:
        deal = record.deal
    for code, field in (("company", "company"), ("contact", "contact")):
        if values.get(field) not in (None, ""):
            values[field] = _readable(actor, code, values[field], field)
    if deal is not None:
        values["currency"] = deal.currency
        if record is None and not values.get("company") and deal.company_id:
            values["company"] = deal.company
        if record is None and not values.get("contact"):
            values["contact"] = deal.contacts.order_by("id").first()
        if record is None and not values.get("title"):
            values["title"] = deal.title
    elif record is None or "currency" in values:
        values["currency"] = clean_currency(values.get("currency"))
    if record is None:
        values["number"] = next_number()
        values.setdefault("template", default_template())
        probe = Quote(company=values.get("company"), contact=values.get("contact"))
        values["client"] = client_snapshot(probe)
    return values


# --- Lines and costs -------------------------------------------------------------------------------

def _locked(actor, quote: Quote) -> Quote:
    locked = Quote.objects.select_for_update().get(pk=quote.pk)
    if locked.deleted_at is not None:
        raise ValidationError(_("This record is in the recycle bin; restore it before changing it."))
    permissions.require(actor, "quote", "edit", owner=locked.owner)
    if locked.status in DECIDED:
        raise ValidationError(_("The client has already decided on this quote; it cannot be changed."))
    return locked


def _line_summary(quote: Quote) -> str:
    return "; ".join(f"{line.name} × {line.quantity.normalize():f}" for line in quote.lines.all())


@transaction.atomic
def add_line(*, actor, quote: Quote, values: dict) -> QuoteLine:
    quote = _locked(actor, quote)
    before = _line_summary(quote)
    line = QuoteLine(quote=quote, unit_price=None, position=quote.lines.count())
    clean_line_values(values, line)
    line.save()
    _history(actor, "quote", quote.pk, "lines", _("items"), before, _line_summary(quote))
    return line


@transaction.atomic
def update_line(*, actor, line: QuoteLine, values: dict) -> QuoteLine:
    quote = _locked(actor, line.quote)
    before = _line_summary(quote)
    line = QuoteLine.objects.get(pk=line.pk, quote=quote)
    clean_line_values(values, line)
    line.save()
    _history(actor, "quote", quote.pk, "lines", _("items"), before, _line_summary(quote))
    return line


@transaction.atomic
def remove_line(*, actor, line: QuoteLine) -> None:
    quote = _locked(actor, line.quote)
    before = _line_summary(quote)
    QuoteLine.objects.filter(pk=line.pk, quote=quote).delete()
    _history(actor, "quote", quote.pk, "lines", _("items"), before, _line_summary(quote))


@transaction.atomic
def lines_from_deal(*, actor, quote: Quote) -> list[QuoteLine]:
    """Copy the deal's products onto the quote (after any lines it has)."""
    quote = _locked(actor, quote)
    if quote.deal_id is None:
        return []
    start = quote.lines.count()
    lines = [QuoteLine(quote=quote, product_id=item.product_id, name=item.name, quantity=item.quantity,
                       unit=item.unit, unit_price=item.unit_price, discount_percent=item.discount_percent,
                       vat_rate=item.vat_rate, position=start + index)
             for index, item in enumerate(quote.deal.product_lines.order_by("position", "id"))]
    QuoteLine.objects.bulk_create(lines)
    if lines:
        _history(actor, "quote", quote.pk, "lines", _("items"), "", _line_summary(quote))
    return lines


@transaction.atomic
def add_cost(*, actor, quote: Quote, name: str, amount, vat_rate: str = "23") -> QuoteCost:
    from crm.products.services import _decimal

    quote = _locked(actor, quote)
    cost = QuoteCost(quote=quote, name=(name or "").strip(), vat_rate=vat_rate or "23",
                     amount=_decimal({"amount": amount}, "amount"), position=quote.costs.count())
    if not cost.name:
        raise ValidationError({"name": [_("Name the cost, e.g. delivery.")]})
    if cost.amount is None:
        raise ValidationError({"amount": [_("Enter the net amount.")]})
    try:
        cost.full_clean(exclude=["quote"])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    cost.save()
    _history(actor, "quote", quote.pk, "costs", _("extra costs"), "", f"{cost.name}: {cost.amount}")
    return cost


@transaction.atomic
def remove_cost(*, actor, cost: QuoteCost) -> None:
    quote = _locked(actor, cost.quote)
    QuoteCost.objects.filter(pk=cost.pk, quote=quote).delete()
    _history(actor, "quote", quote.pk, "costs", _("extra costs"), f"{cost.name}: {cost.amount}", "")


@transaction.atomic
def create_from_deal(*, actor, deal, values: dict | None = None) -> Quote:
    """A new draft quote for a deal with the deal's products as its lines."""
    from crm.core import services as records

    quote = records.create_record(actor=actor, code="quote", values={"deal": deal.pk} | dict(values or {}))
    lines_from_deal(actor=actor, quote=quote)
    return quote


# --- Totals --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuoteTotals:
    lines: list[tuple[QuoteLine, LineAmounts]]
    costs: list[QuoteCost]
    items_net_before_discount: Decimal
    discount_net: Decimal
    totals: DocumentTotals


def totals_of(quote: Quote, lines=None, costs=None) -> QuoteTotals:
    lines = list(quote.lines.all()) if lines is None else lines
    costs = list(quote.costs.all()) if costs is None else costs
    priced = [(line, line.amounts(quote.discount_percent)) for line in lines]
    before = sum((line.amounts().net for line in lines), Decimal(0))
    extra: dict[str, Decimal] = defaultdict(Decimal)
    for cost in costs:
        extra[cost.vat_rate] += cost.amount
    totals = document_totals([(line.vat_rate, amounts) for line, amounts in priced], extra_net_by_rate=extra)
    after = sum((amounts.net for _line, amounts in priced), Decimal(0))
    return QuoteTotals(lines=priced, costs=costs, items_net_before_discount=before,
                       discount_net=money(before - after), totals=totals)


# --- PDF -----------------------------------------------------------------------------------------

def _logo_data_uri(tenant) -> str:
    path = getattr(tenant, "logo", "")
    if not path:
        return ""
    try:
        with default_storage.open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    kind = "jpeg" if path.lower().endswith((".jpg", ".jpeg")) else "png"
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def document_context(quote: Quote) -> dict:
    tenant = connection.tenant
    template = quote.template or default_template()
    return {"quote": quote, "t": totals_of(quote), "template": template, "portal": tenant,
            "logo": _logo_data_uri(tenant) if template.show_logo else "", "client": quote.client or {}}


def render_pdf(quote: Quote) -> bytes:
    from weasyprint import HTML

    tenant = connection.tenant
    with translation.override(getattr(tenant, "language", "") or "pl"):
        html = render_to_string("quotes/pdf.html", document_context(quote))
    return HTML(string=html).write_pdf()


def pdf_filename(quote: Quote) -> str:
    return f"{(quote.number or str(quote.pk)).replace('/', '-')}.pdf"


# --- Sending and the public link -------------------------------------------------------------------

def public_token(quote: Quote) -> str:
    return signing.dumps([connection.schema_name, quote.pk], salt=TOKEN_SALT)


def public_path(quote: Quote) -> str:
    return f"/q/{public_token(quote)}/"


def quote_for_token(token: str) -> Quote:
    """The quote a client's link names, on this portal only; Http404 for anything else."""
    try:
        schema, pk = signing.loads(token, salt=TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404 from None
    if schema != connection.schema_name:
        raise Http404
    quote = Quote.objects.alive().select_related("template").filter(pk=pk).first()
    if quote is None or quote.status == QuoteStatus.DRAFT:
        raise Http404
    return quote


@transaction.atomic
def send_quote(*, actor, quote: Quote, to: str = "", base_url: str = "", message: str = "") -> Quote:
    """E-mail the quote (PDF attached, link to the online view) after the transaction commits."""
    from tenants.selectors import portal_url

    quote = _locked(actor, quote)
    if not quote.lines.exists():
        raise ValidationError(_("Add at least one item before sending the quote."))
    if quote.status == QuoteStatus.DRAFT:
        quote.client = client_snapshot(quote)
    to = (to or quote.client.get("email") or "").strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ValidationError({"to": [_("Give the client's e-mail address (the contact has none).")]}) from None
    old_status = quote.status
    quote.sent_at, quote.sent_to = timezone.now(), to
    if quote.status in (QuoteStatus.DRAFT, QuoteStatus.EXPIRED):
        quote.status = QuoteStatus.SENT
    quote.save(update_fields=["client", "sent_at", "sent_to", "status", "updated_at"])
    _history(actor, "quote", quote.pk, "status", _("status"), QuoteStatus(old_status).label,
             _("sent to %(email)s") % {"email": to})
    link = (base_url.rstrip("/") if base_url else portal_url(connection.tenant).rstrip("/")) + public_path(quote)
    pdf = render_pdf(quote)
    tenant = connection.tenant
    sender = actor.user.get_full_name() if hasattr(actor, "user") else tenant.name
    with translation.override(tenant.language or "pl"):
        subject = _("Quote %(number)s from %(portal)s") % {"number": quote.number, "portal": tenant.name}
        body = _("Hello,\n\nplease find our quote %(number)s attached. You can also see it online, and accept "
                 "or decline it there:\n%(link)s\n\n%(message)sBest regards,\n%(sender)s\n") % {
            "number": quote.number, "link": link, "sender": sender,
            "message": f"{message.strip()}\n\n" if message.strip() else ""}
    filename = pdf_filename(quote)

    def deliver() -> None:
        email = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
        email.attach(filename, pdf, "application/pdf")
        email.send()

    transaction.on_commit(deliver)
    return quote


def is_expired(quote: Quote) -> bool:
    return bool(quote.valid_until and quote.valid_until < timezone.localdate())


def record_open(quote: Quote) -> None:
    now = timezone.now()
    Quote.objects.filter(pk=quote.pk).update(open_count=F("open_count") + 1, last_opened_at=now,
                                             first_opened_at=Coalesce(F("first_opened_at"), now))
    if (quote.status == QuoteStatus.SENT
            and Quote.objects.filter(pk=quote.pk, status=QuoteStatus.SENT).update(status=QuoteStatus.VIEWED)):
        _history(None, "quote", quote.pk, "status", _("status"), QuoteStatus.SENT.label, QuoteStatus.VIEWED.label)


def record_view_time(quote: Quote, seconds, *, now=None) -> None:
    """A beacon from the open page: adds at most BEACON_MAX_SECONDS per call, and never more than the
    wall-clock time since the page was opened or last credited — the beacon is anonymous, so a script
    replaying it must not be able to inflate "time viewed"."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return
    now = now or timezone.now()
    opened = Quote.objects.filter(pk=quote.pk).values_list("last_opened_at", flat=True).first()
    if opened is None:
        return
    key = f"quote-beacon:{connection.schema_name}:{quote.pk}"
    credited_until = max(opened, cache.get(key) or opened)
    seconds = max(0, min(seconds, BEACON_MAX_SECONDS, int((now - credited_until).total_seconds())))
    if seconds:
        cache.set(key, credited_until + datetime.timedelta(seconds=seconds), timeout=24 * 3600)
        Quote.objects.filter(pk=quote.pk).update(seconds_viewed=F("seconds_viewed") + seconds)


def _acting_for_client(quote: Quote):
    """The client has no account: the deal is moved in the name of the quote's owner (or the deal's)."""
    return quote.owner or (quote.deal.owner if quote.deal_id else None)


@transaction.atomic
def decide(*, quote: Quote, accepted: bool, comment: str = "") -> Quote:
    """The client accepts or declines. Accepted moves the deal to the template's stage or the won stage
    of its pipeline, unless that stage asks for fields: then a task asks the owner to move it."""
    from crm.activities.services import add_activity
    from crm.deals.models import StageKind
    from crm.deals.services import missing_for_stage, move_deal

    quote = Quote.objects.select_for_update(of=("self",)).select_related("template", "deal").get(pk=quote.pk)
    if quote.status in DECIDED:
        raise ValidationError(_("You have already answered this quote."))
    if is_expired(quote):
        raise ValidationError(_("This quote is no longer valid; please ask for a new one."))
    comment = (comment or "").strip()[:2000]
    old_status = quote.status
    quote.status = QuoteStatus.ACCEPTED if accepted else QuoteStatus.DECLINED
    quote.decided_at, quote.decision_comment = timezone.now(), comment
    quote.save(update_fields=["status", "decided_at", "decision_comment", "updated_at"])
    _history(None, "quote", quote.pk, "status", _("status"), QuoteStatus(old_status).label,
             QuoteStatus(quote.status).label)
    deal, actor = quote.deal, _acting_for_client(quote)
    if deal is None or deal.deleted_at is not None or actor is None:
        return quote
    what = (_("The client accepted quote %(number)s.") if accepted
            else _("The client declined quote %(number)s.")) % {"number": quote.number}
    note = what + (f"\n{_('Comment')}: {comment}" if comment else "")
    if accepted:
        stage = (quote.template.accepted_stage if quote.template and quote.template.accepted_stage_id else None)
        if stage is None or stage.pipeline_id != deal.pipeline_id:
            stage = deal.pipeline.stages.filter(kind=StageKind.WON).order_by("position", "id").first()
        if stage is not None and stage.pk != deal.stage_id:
            missing = missing_for_stage(deal, stage)
            moved = False
            if not missing:
                try:
                    with transaction.atomic():
                        move_deal(actor=actor, deal=deal, stage=stage)
                    moved = True
                except (ValidationError, permissions.NotPermitted):
                    moved = False
            if moved:
                note += "\n" + _("The deal moved to “%(stage)s”.") % {"stage": stage.name}
            else:
                _ask_owner_to_move(actor, deal, stage, quote, missing)
                note += "\n" + _("The deal stays where it is: moving it to “%(stage)s” needs %(fields)s. "
                                 "A task asks its owner to do it.") % {
                    "stage": stage.name, "fields": ", ".join(str(label) for _name, label in missing) or "—"}
    add_activity(actor=actor, entity="deal", record_id=deal.pk, kind="note", body=note)
    return quote


def _ask_owner_to_move(actor, deal, stage, quote: Quote, missing) -> None:
    from crm.core import services as records
    from crm.tasks.services import link_task

    owner = deal.owner or actor
    task = records.create_record(actor=actor, code="task", values={
        "title": _("Quote %(number)s accepted: move the deal to “%(stage)s”") % {"number": quote.number,
                                                                               "stage": stage.name},
        "owner": owner.pk, "deadline": timezone.now() + datetime.timedelta(days=1)})
    link_task(actor=actor, task=task, entity="deal", record_id=deal.pk)


def change_status(*, actor, quote: Quote, status: str) -> Quote:
    """What a person may set by hand: back to draft, or expired."""
    if status not in (QuoteStatus.DRAFT, QuoteStatus.EXPIRED):
        raise ValidationError({"status": [_("Only draft or expired can be set by hand.")]})
    with transaction.atomic():
        locked = _locked(actor, quote)
        old = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        if old != status:
            _history(actor, "quote", locked.pk, "status", _("status"), QuoteStatus(old).label,
                     QuoteStatus(status).label)
    return locked



# --- The template ----------------------------------------------------------------------------------

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
TEMPLATE_FIELDS = ("name", "header_text", "footer_text", "primary_color", "accent_color", "show_logo", "accepted_stage")


@transaction.atomic
def update_template(*, template: QuoteTemplate, values: dict) -> QuoteTemplate:
    """Change how quotes look (administrators); colours are #rrggbb, the stage must be a won or open stage."""
    unknown = set(values) - set(TEMPLATE_FIELDS)
    if unknown:
        message = _("This field does not exist or cannot be changed.")
        raise ValidationError({name: [message] for name in sorted(unknown)})
    for name, value in values.items():
        setattr(template, name, value)
    errors = {}
    for name in ("primary_color", "accent_color"):
        if not COLOR.match(getattr(template, name) or ""):
            errors[name] = [_("Give the colour as #rrggbb, e.g. #1f3a68.")]
    stage = template.accepted_stage
    if stage is not None and stage.kind == "lost":
        errors["accepted_stage"] = [_("An accepted quote cannot move a deal to a lost stage.")]
    if errors:
        raise ValidationError(errors)
    template.save()
    return template


def expire_overdue(*, today: datetime.date | None = None) -> int:
    """Quotes sent or viewed whose validity ended are marked expired (a daily job); history says so."""
    today = today or timezone.localdate()
    expired = 0
    for quote in Quote.objects.alive().filter(status__in=[QuoteStatus.SENT, QuoteStatus.VIEWED],
                                              valid_until__lt=today).only("pk", "status"):
        with transaction.atomic():
            if Quote.objects.filter(pk=quote.pk, status=quote.status).update(status=QuoteStatus.EXPIRED):
                _history(None, "quote", quote.pk, "status", _("status"), QuoteStatus(quote.status).label,
                         QuoteStatus.EXPIRED.label)
                expired += 1
    return expired
