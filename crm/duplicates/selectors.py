"""Finding records that may be the same person, company, lead or deal.

Two reads:

- ``possible_duplicates(code, values)``: before a record is created (or changed), the existing
  records that share a normalised e-mail, an E.164 phone number, a NIP, or have a very similar
  name. Every signal is served by an index: e-mails and phones by GIN jsonb_path_ops indexes on the
  lists (this app's migration 0001; the trigram index on ``search_text`` was 50–350 ms at a million
  contacts, every address shares "gmail.com"'s trigrams), NIP by the company NIP index, names by the
  trigram index on ``search_text`` (every word of the name; ``%>`` word similarity for typos), then
  ranked by ``similarity`` of the normalised name on those candidates only.
- ``duplicate_groups(principal, code, by)``: the finder, groups of live records sharing a value,
  computed by SQL grouping (``jsonb_array_elements`` for the lists), a page at a time.

Names are compared lower-cased and without Polish letters ("Łukasz Żółkiewski" = "Lukasz
Zolkiewski") by the same SQL function that builds ``search_text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import F, Q, Value
from django.db.models import lookups as L
from django.utils.translation import gettext_lazy as _

from crm.core import selectors
from crm.core.contact_points import normalise_email, normalise_phone
from crm.core.models import SearchDocument
from crm.core.registry import record_type
from crm.core.search import search_terms

# Record types the duplicate checks, the finder and the merge wizard know.
SUPPORTED = ("contact", "company", "lead", "deal")
NAME_SIMILARITY = 0.6  # similarity() of the normalised names; pg_trgm's own default threshold
NAME_CANDIDATES = 50  # word-similar rows (index) ranked by name similarity per check
# The typo search (pg_trgm word similarity through the GIN index) reads the posting lists of every
# trigram of the name: ~5 ms on 10 000 contacts but 175 ms (p95 > 1 s) on a million on the bench machine,
# so by default it runs only on tables estimated below this many rows.
FUZZY_MAX_ROWS = 200_000

REASONS = {
    "email": _("same e-mail address"),
    "phone": _("same phone number"),
    "nip": _("same NIP"),
    "name": _("similar name"),
    "title": _("similar title, same company"),
}

# The finder's groupings per record type: key → label.
GROUPINGS = {
    "contact": ("email", "phone", "name"),
    "company": ("nip", "email", "phone", "name"),
    "lead": ("email", "phone", "name"),
    "deal": ("title",),
}
GROUPING_LABELS = {
    "email": _("Same e-mail"),
    "phone": _("Same phone"),
    "nip": _("Same NIP"),
    "name": _("Same name"),
    "title": _("Same title and company"),
}


@dataclass
class Match:
    """An existing record that may be the same one, and why (``reasons``: keys of REASONS)."""

    entity: str
    record: models.Model
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def id(self) -> int:
        return self.record.pk

    @property
    def title(self) -> str:
        return str(record_type(self.entity).title(self.record))

    @property
    def subtitle(self) -> str:
        return str(record_type(self.entity).subtitle(self.record) or "")

    @property
    def url(self) -> str:
        return f"/crm/{record_type(self.entity).url_slug}/{self.record.pk}/"

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASONS[reason]) for reason in self.reasons]

    def as_dict(self) -> dict:
        return {"type": self.entity, "id": self.id, "title": self.title, "subtitle": self.subtitle,
                "url": self.url, "reasons": list(self.reasons), "reason_labels": self.reason_labels}


# --- Normalising what was typed -------------------------------------------------------------------

def _texts(raw) -> list[str]:
    """A list field as given by a form ("a@b.pl\nc@d.pl"), a list of strings or of {"value": …}."""
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = raw.replace(",", "\n").splitlines()
    if isinstance(raw, dict):
        raw = [raw]
    texts = []
    for item in raw:
        text = item.get("value", "") if isinstance(item, dict) else str(item)
        if text.strip():
            texts.append(text.strip())
    return texts


def emails_of(values: dict) -> list[str]:
    found = []
    for text in _texts(values.get("emails")):
        try:
            found.append(normalise_email(text))
        except ValidationError:
            continue
    return list(dict.fromkeys(found))


def phones_of(values: dict) -> list[str]:
    found = []
    for text in _texts(values.get("phones")):
        try:
            found.append(normalise_phone(text))
        except ValidationError:
            continue
    return list(dict.fromkeys(found))


def nip_of(values: dict) -> str:
    digits = re.sub(r"\D", "", str(values.get("nip") or ""))
    return digits if len(digits) == 10 else ""


def name_of(code: str, values: dict) -> str:
    if code == "company":
        text = values.get("name") or ""
    elif code == "deal":
        text = values.get("title") or ""
    else:
        text = " ".join(str(values.get(part) or "").strip() for part in ("first_name", "last_name"))
    return " ".join(str(text).split())


def _name_expression(code: str) -> models.Expression:
    if code == "company":
        return SearchDocument(F("name"))
    if code == "deal":
        return SearchDocument(F("title"))
    return SearchDocument(F("first_name"), F("last_name"))


# --- Detection -------------------------------------------------------------------------------------

def _base(code: str, principal, exclude_pk) -> models.QuerySet:
    rt = record_type(code)
    if principal is not None:
        queryset = selectors.records(principal, code)
    else:
        queryset = rt.model.objects.alive().select_related(*rt.select_related)
    if exclude_pk:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset


def _estimated_rows(code: str) -> float:
    """The planner's estimate of the table's rows (pg_class.reltuples; -1 before the first ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                       [connection.ops.quote_name(record_type(code).model._meta.db_table)])
        row = cursor.fetchone()
    return float(row[0]) if row else 0.0


def possible_duplicates(code: str, values: dict, *, exclude_pk=None, limit: int = 5,
                        principal=None, fuzzy: bool | None = None) -> list[Match]:
    """Existing live records of ``code`` that may be the record described by ``values``, strongest
    first (an exact e-mail, phone or NIP before a similar name). With a ``principal``, only records
    they may read are returned (a warning must not reveal others' records). Names match when every word
    occurs (ignoring case and Polish letters) and the whole name is similar; ``fuzzy`` adds the typo
    search ("Kowalsky"); by default only while the table is below FUZZY_MAX_ROWS."""
    if code not in SUPPORTED:
        return []
    base = _base(code, principal, exclude_pk)
    found: dict[int, Match] = {}

    def add(queryset, reason: str, score: float = 1.0) -> None:
        for record in queryset[:limit]:
            match = found.setdefault(record.pk, Match(code, record))
            if reason not in match.reasons:
                match.reasons.append(reason)
            match.score = max(match.score, score)

    if code != "deal":
        emails = emails_of(values)
        if emails:
            condition = Q()
            for email in emails:
                condition |= Q(emails__contains=[{"value": email}])
            add(base.filter(condition).order_by("-pk"), "email", 2.0)
        phones = phones_of(values)
        if phones:
            condition = Q()
            for phone in phones:
                condition |= Q(phones__contains=[{"value": phone}])
            add(base.filter(condition).order_by("-pk"), "phone", 2.0)
    if code == "company":
        nip = nip_of(values)
        if nip:
            add(base.filter(nip=nip).exclude(nip="").order_by("-pk"), "nip", 3.0)
    name = name_of(code, values)
    if code == "deal":
        company = values.get("company")
        company = getattr(company, "pk", company)
        if name and company:
            similar = (base.filter(company_id=company)
                       .annotate(name_score=TrigramSimilarity(_name_expression(code), SearchDocument(Value(name))))
                       .filter(name_score__gte=NAME_SIMILARITY).order_by("-name_score", "-pk"))
            for record in similar[:limit]:
                match = found.setdefault(record.pk, Match(code, record))
                match.reasons.append("title")
                match.score = max(match.score, float(record.name_score))
    elif len(name) >= 3:
        query = SearchDocument(Value(name))
        # Candidates from the trigram index: every word of the name in the document (Polish letters
        # and case ignored; ~20 ms on a million contacts), and, for typos ("Żółkiewsky"), a few rows
        # word-similar to the name (pg_trgm ``%>``; the slower part, ~70–150 ms there).
        words = Q()
        for word in search_terms(name):
            words &= Q(L.Contains(F("search_text"), SearchDocument(Value(word))))
        # Ids first (an OR of two subqueries would scan the table), then one ranking query on them.
        candidates = list(base.filter(words).order_by("-pk").values_list("pk", flat=True)[:NAME_CANDIDATES * 4])
        if fuzzy is None:
            fuzzy = _estimated_rows(code) < FUZZY_MAX_ROWS
        if fuzzy:
            candidates += base.filter(search_text__trigram_word_similar=query).order_by().values_list(
                "pk", flat=True)[:NAME_CANDIDATES]
        similar = (base.filter(pk__in=set(candidates))
                   .annotate(name_score=TrigramSimilarity(_name_expression(code), query))
                   .filter(name_score__gte=NAME_SIMILARITY).order_by("-name_score", "-pk"))
        for record in similar[:limit]:
            match = found.setdefault(record.pk, Match(code, record))
            match.reasons.append("name")
            match.score = max(match.score, float(record.name_score))
    matches = sorted(found.values(), key=lambda match: (-len(match.reasons), -match.score, -match.id))
    return matches[:limit]


class PossibleDuplicates(ValidationError):
    """Raised by ``check_duplicates``: the record may already exist. ``matches`` says which and why;
    the caller may repeat the write with ``force=True``."""

    def __init__(self, matches: list[Match]) -> None:
        self.matches = matches
        names = ", ".join(f"{match.title} ({', '.join(match.reason_labels)})" for match in matches)
        super().__init__(_("This may already exist: %(names)s.") % {"names": names}, code="possible_duplicates")


def check_duplicates(code: str, values: dict, *, force: bool = False, exclude_pk=None, principal=None,
                     fuzzy: bool | None = None) -> None:
    """Raise PossibleDuplicates when ``values`` look like an existing record, unless ``force``."""
    if force:
        return
    matches = possible_duplicates(code, values, exclude_pk=exclude_pk, principal=principal, fuzzy=fuzzy)
    if matches:
        raise PossibleDuplicates(matches)


# --- The finder ------------------------------------------------------------------------------------

@dataclass
class Group:
    by: str
    value: str
    ids: list[int]
    records: list[models.Model] = field(default_factory=list)

    @property
    def ids_param(self) -> str:
        return ",".join(str(pk) for pk in self.ids)


# ``{scope}``: the live records the principal may read (crm.core.selectors.records) with the columns the
# grouping needs, scanned once. E-mails are unique within a record (contact_points), so count(*) counts
# records. On a million contacts a grouping reads the whole table: ~2.5 s for e-mails, more for names
# (unaccenting every name), see the reply of issue 8.
_GROUP_SQL = {
    "email": "SELECT item->>'value' AS v, array_agg(t.id) AS ids FROM ({scope}) t, "
             "jsonb_array_elements(t.emails) AS item GROUP BY 1 HAVING count(*) > 1",
    "phone": "SELECT item->>'value' AS v, array_agg(t.id) AS ids FROM ({scope}) t, "
             "jsonb_array_elements(t.phones) AS item GROUP BY 1 HAVING count(*) > 1",
    "nip": "SELECT t.nip AS v, array_agg(t.id) AS ids FROM ({scope}) t WHERE t.nip <> '' "
           "GROUP BY 1 HAVING count(*) > 1",
    "name": "SELECT public.kompas_search_doc({name}) AS v, array_agg(t.id) AS ids FROM ({scope}) t "
            "WHERE btrim(concat_ws(' ', {name})) <> '' GROUP BY 1 HAVING count(*) > 1",
    "title": "SELECT t.company_id::text || ':' || public.kompas_search_doc(t.title) AS v, array_agg(t.id) AS ids "
             "FROM ({scope}) t WHERE t.company_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1",
}
_GROUP_COLUMNS = {"email": ("emails",), "phone": ("phones",), "nip": ("nip",), "title": ("title", "company_id")}
_NAME_COLUMNS = {"contact": ("first_name", "last_name"), "lead": ("first_name", "last_name"), "company": ("name",)}


def duplicate_groups(principal, code: str, by: str, *, page: int = 1, per_page: int = 20) -> tuple[list[Group], bool]:
    """Groups of live records the principal may read that share ``by`` (a key of GROUPINGS[code]),
    ordered by value; one page and whether there is a next one. Two queries whatever the page size:
    the grouping, then the page's records."""
    if code not in GROUPINGS or by not in GROUPINGS[code]:
        raise ValueError(f"no grouping {by!r} for {code!r}")
    columns = _NAME_COLUMNS[code] if by == "name" else _GROUP_COLUMNS[by]
    scope = selectors.records(principal, code).order_by().values("id", *columns)
    scope_sql, scope_params = scope.query.sql_with_params()
    statement = _GROUP_SQL[by].format(scope=scope_sql, name=", ".join(f"t.{column}" for column in columns))
    offset = (max(page, 1) - 1) * per_page
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} ORDER BY 1 LIMIT %s OFFSET %s", [*scope_params, per_page + 1, offset])
        rows = cursor.fetchall()
    has_next = len(rows) > per_page
    groups = [Group(by=by, value=value, ids=sorted(ids)) for value, ids in rows[:per_page]]
    wanted = {pk for group in groups for pk in group.ids}
    records = {record.pk: record for record in selectors.records(principal, code).filter(pk__in=wanted)} \
        if wanted else {}
    for group in groups:
        group.records = [records[pk] for pk in group.ids if pk in records]
    return [group for group in groups if len(group.records) > 1], has_next
