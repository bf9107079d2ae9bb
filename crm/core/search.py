"""Search over CRM records, insensitive to case and Polish diacritics ("zolkiewski" finds "Żółkiewski").

Every record table keeps ``search_text``: its main columns lower-cased and unaccented by
``public.kompas_search_doc``, with a trigram GIN index. A query is normalised by the same SQL
function, so both sides always agree; each of its words must occur in the document (``LIKE
'%word%'``, which the trigram index serves) and matches are ranked by trigram word similarity.
Phone numbers are stored as E.164, so a query typed as a phone number ("600 100 200",
"+48 600-100-200") is searched for by its digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import models
from django.db.models import F, Value
from django.db.models import lookups as L

from crm.core.models import SearchDocument
from crm.core.registry import record_type, record_types
from identity.members import permissions

MIN_QUERY = 2
MAX_QUERY = 200
MAX_WORDS = 8
# Global search ranks at most this many (the newest) matches per record type. Ranking costs ~17 µs a row, so a
# common surname matching 3 000 of a million contacts would cost 50 ms to rank in full
# (bench/run crm); the quick box shows the best five of a bounded set, lists rank everything.
RANKED_CANDIDATES = 200
# Digits with the usual separators of a written phone number (or NIP, REGON: "521-301-72-28").
_NUMBER = re.compile(r"[+(]?\d[\d\s().\-/]*")
_PUNCTUATION = "\"'„”“«»,;:!?()[]{}"


@dataclass(frozen=True)
class SearchHit:
    entity: str  # record type code: "contact", "deal", …
    id: int
    title: str
    subtitle: str
    score: float


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phone_digits(run: list[str]) -> str:
    digits = _digits("".join(run))
    return digits.removeprefix("00") if len(digits) > 9 else digits  # 0048… is +48…


def search_terms(query: str) -> list[str]:
    """The words a record must contain, lower-cased (unaccenting happens in SQL). Numbers written
    with spaces or dashes ("+48 600-100-200", "521-301-72-28") become one term of their digits, as
    phone numbers (E.164) and tax numbers are stored."""
    text = " ".join((query or "").split())[:MAX_QUERY].lower()
    words = [word.strip(_PUNCTUATION) for word in text.split(" ")]
    words = [word for word in words if any(character.isalnum() for character in word)]
    groups: list[list[str]] = []
    for index, word in enumerate(words):
        if _NUMBER.fullmatch(word):
            if groups and index and _NUMBER.fullmatch(words[index - 1]):
                groups[-1].append(word)  # "600 100 200": one number typed with spaces
            else:
                groups.append([word])
        else:
            groups.append([word])
    terms: list[str] = []
    for group in groups:
        if not _NUMBER.fullmatch(group[0]):
            candidates = group
        elif len(group) == 1 or len(_phone_digits(group)) >= 6:
            candidates = [_phone_digits(group)]
        else:
            candidates = [_digits(word) for word in group]  # "ul. 3 5": separate short numbers
        for term in candidates:
            if term and term not in terms:
                terms.append(term)
    return terms[:MAX_WORDS]


def search_records(queryset: models.QuerySet, query: str) -> models.QuerySet:
    """Records of the queryset whose search document contains every word of the query, best first
    (annotated with ``search_score``). A blank query leaves the queryset as it is."""
    terms = search_terms(query)
    if not terms:
        return queryset
    for term in terms:
        # The term goes through the same SQL normalisation as the document; a parameter, never SQL.
        queryset = queryset.filter(L.Contains(F("search_text"), SearchDocument(Value(term))))
    score = TrigramWordSimilarity(SearchDocument(Value(" ".join(terms))), "search_text")
    return queryset.annotate(search_score=score).order_by("-search_score", "-pk")


def search_everything(principal, query: str, *, codes=None, limit_per_type: int = 5) -> list[SearchHit]:
    """The best matches of each record type the principal may read (live records only), best first.

    One query per record type; types the principal may not read at all are skipped."""
    query = (query or "").strip()
    if len(query) < MIN_QUERY or not search_terms(query):
        return []
    types = [record_type(code) for code in codes] if codes is not None else record_types()
    hits: list[SearchHit] = []
    for rt in types:
        scope = permissions.scope_q(principal, rt.code, "read")
        if scope is None:
            continue
        queryset = rt.model.objects.filter(deleted_at__isnull=True).filter(scope)
        if rt.access_q is not None:
            queryset = queryset.filter(rt.access_q(principal))
        # The newest matches: a stable set, and recent records are the likelier ones to be looked for.
        candidates = search_records(queryset, query).order_by("-pk").values("pk")[:RANKED_CANDIDATES]
        # Rank the bounded set on the record table alone; only the winners are joined for display.
        best = search_records(rt.model.objects.filter(pk__in=candidates), query).select_related(*rt.select_related)
        for record in best[:limit_per_type]:
            hits.append(SearchHit(entity=rt.code, id=record.pk, title=str(rt.title(record)),
                                  subtitle=str(rt.subtitle(record) or ""), score=float(record.search_score)))
    hits.sort(key=lambda hit: -hit.score)  # stable: equal scores keep the registry's order of types
    return hits
