"""Benchmark "crm": lists, search and record pages of a portal with a million contacts.

One portal is filled once (PostgreSQL COPY, not the ORM) with N contacts, N/10 companies and N/10
deals, then the requests people make all day are timed through the real request path (Django's
test Client on the portal host: tenant routing, session auth, permission filtering, the REST
API) and against a baseline measured in the same run: the same questions as hand-written SQL on
a raw psycopg connection to the same tables, without Django, tenancy or permissions.

    bench/run crm [--contacts 1M] [--requests 200] [--warmup 20] [--reload] [--load-only] [--check]

The portal is reused on the next run when its data is complete (a marker on the schema, written
last); ``--reload`` loads it again. ``BENCH_CRM_CONTACTS`` sets the default size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import _harness

# This script lives in bench/, which Python puts first on sys.path, and has the name of the project's
# `crm` package (found by the editable install's finder, which comes after the path): with bench/ on the
# path, `import crm.core` would find this file. _harness is imported, so bench/ is not needed any more.
_BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _BENCH_DIR]

NAME = "crm"
ENV_CONTACTS = "BENCH_CRM_CONTACTS"
DEFAULT_CONTACTS = 1_000_000
# Bump when the generated data changes shape, so portals loaded by an older version are reloaded.
DATA_VERSION = 2
MARKER = "kompas-bench-crm"
SEED = 20260504
MEMBERS = 20
PAGE_SIZE = 50
GOAL_SEARCH_P95_MS = 50
GOAL_LIST_P95_MS = 100
GOAL_LIST_QUERIES = 6

out = _harness.out


# --- sizes and arguments ----------------------------------------------------------------------

def parse_count(text: str) -> int:
    """1000000, 1_000_000, 1M, 100k."""
    value = str(text).strip().lower().replace("_", "")
    factor = 1
    if value.endswith("k"):
        factor, value = 1_000, value[:-1]
    elif value.endswith("m"):
        factor, value = 1_000_000, value[:-1]
    try:
        number = int(float(value) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (use e.g. 100000, 100k or 1M)") from None
    if number < 1000:
        raise argparse.ArgumentTypeError("at least 1000 contacts")
    return number


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run crm", description=__doc__.split("\n\n")[0])
    default = os.environ.get(ENV_CONTACTS) or str(DEFAULT_CONTACTS)
    parser.add_argument("--contacts", type=parse_count, default=parse_count(default),
                        help=f"contacts in the portal (default {ENV_CONTACTS} or 1M); companies and deals are a tenth")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measurement (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per measurement first (default 20)")
    parser.add_argument("--reload", action="store_true", help="load the data again even when it is complete")
    parser.add_argument("--load-only", action="store_true", help="load (or check) the data, measure nothing")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of every measured query, not only of missed goals")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1, --warmup at least 0")
    args.companies = max(100, args.contacts // 10)
    args.deals = max(100, args.contacts // 10)
    return args


# --- realistic Polish data ----------------------------------------------------------------------

# (male form, female form, weight); weights follow the national frequency list roughly.
SURNAMES = [
    ("Nowak", "Nowak", 53), ("Kowalski", "Kowalska", 36), ("Wiśniewski", "Wiśniewska", 28),
    ("Wójcik", "Wójcik", 26), ("Kowalczyk", "Kowalczyk", 26), ("Kamiński", "Kamińska", 25),
    ("Lewandowski", "Lewandowska", 24), ("Zieliński", "Zielińska", 23), ("Szymański", "Szymańska", 22),
    ("Woźniak", "Woźniak", 22), ("Dąbrowski", "Dąbrowska", 21), ("Kozłowski", "Kozłowska", 19),
    ("Jankowski", "Jankowska", 17), ("Mazur", "Mazur", 17), ("Wojciechowski", "Wojciechowska", 16),
    ("Kwiatkowski", "Kwiatkowska", 16), ("Krawczyk", "Krawczyk", 16), ("Kaczmarek", "Kaczmarek", 15),
    ("Piotrowski", "Piotrowska", 15), ("Grabowski", "Grabowska", 14), ("Zając", "Zając", 14),
    ("Pawłowski", "Pawłowska", 14), ("Michalski", "Michalska", 14), ("Król", "Król", 13),
    ("Wieczorek", "Wieczorek", 13), ("Jabłoński", "Jabłońska", 13), ("Wróbel", "Wróbel", 13),
    ("Nowakowski", "Nowakowska", 12), ("Majewski", "Majewska", 12), ("Olszewski", "Olszewska", 12),
    ("Stępień", "Stępień", 12), ("Malinowski", "Malinowska", 12), ("Jaworski", "Jaworska", 12),
    ("Adamczyk", "Adamczyk", 12), ("Dudek", "Dudek", 12), ("Nowicki", "Nowicka", 11), ("Pawlak", "Pawlak", 11),
    ("Górski", "Górska", 11), ("Witkowski", "Witkowska", 11), ("Walczak", "Walczak", 11), ("Sikora", "Sikora", 11),
    ("Baran", "Baran", 11), ("Rutkowski", "Rutkowska", 10), ("Michalak", "Michalak", 10),
    ("Szewczyk", "Szewczyk", 10), ("Ostrowski", "Ostrowska", 10), ("Tomaszewski", "Tomaszewska", 10),
    ("Pietrzak", "Pietrzak", 10), ("Zalewski", "Zalewska", 10), ("Wróblewski", "Wróblewska", 10),
    ("Jasiński", "Jasińska", 9), ("Marciniak", "Marciniak", 9), ("Bąk", "Bąk", 9), ("Zawadzki", "Zawadzka", 9),
    ("Sadowski", "Sadowska", 9), ("Jakubowski", "Jakubowska", 9), ("Duda", "Duda", 9),
    ("Włodarczyk", "Włodarczyk", 9), ("Wilk", "Wilk", 9), ("Chmielewski", "Chmielewska", 9),
    ("Borkowski", "Borkowska", 8), ("Sokołowski", "Sokołowska", 8), ("Szczepański", "Szczepańska", 8),
    ("Sawicki", "Sawicka", 8), ("Lis", "Lis", 8), ("Kucharski", "Kucharska", 8), ("Mazurek", "Mazurek", 8),
    ("Kubiak", "Kubiak", 8), ("Kalinowski", "Kalinowska", 8), ("Wysocki", "Wysocka", 8),
    ("Kołodziej", "Kołodziej", 8), ("Czarnecki", "Czarnecka", 7), ("Kaźmierczak", "Kaźmierczak", 7),
    ("Sobczak", "Sobczak", 7), ("Konieczny", "Konieczna", 7), ("Urbański", "Urbańska", 7),
    ("Głowacki", "Głowacka", 7), ("Zakrzewski", "Zakrzewska", 7), ("Krupa", "Krupa", 7),
    ("Wasilewski", "Wasilewska", 7), ("Krajewski", "Krajewska", 7), ("Adamski", "Adamska", 7),
    ("Sikorski", "Sikorska", 7), ("Laskowski", "Laskowska", 6), ("Żak", "Żak", 6),
    ("Ziółkowski", "Ziółkowska", 6), ("Gajewski", "Gajewska", 6), ("Szulc", "Szulc", 6),
    ("Makowski", "Makowska", 6), ("Baranowski", "Baranowska", 6), ("Przybylski", "Przybylska", 6),
    ("Szymczak", "Szymczak", 6), ("Borowski", "Borowska", 6), ("Błaszczyk", "Błaszczyk", 6),
    ("Andrzejewski", "Andrzejewska", 6), ("Górecki", "Górecka", 6), ("Chojnacki", "Chojnacka", 6),
    ("Ciesielski", "Ciesielska", 6), ("Mróz", "Mróz", 6), ("Szczepaniak", "Szczepaniak", 6),
    ("Wesołowski", "Wesołowska", 5), ("Krzemiński", "Krzemińska", 5), ("Kowalewski", "Kowalewska", 5),
    ("Śliwiński", "Śliwińska", 5), ("Łuczak", "Łuczak", 5), ("Żukowski", "Żukowska", 5),
    ("Jędrzejczak", "Jędrzejczak", 5), ("Ślusarczyk", "Ślusarczyk", 4), ("Łukasik", "Łukasik", 4),
    ("Gąsiorowski", "Gąsiorowska", 4), ("Dziedzic", "Dziedzic", 4), ("Świątek", "Świątek", 4),
]
# The long tail: stems and endings make thousands of rarer, plausible surnames.
STEMS = ["Brzez", "Dęb", "Grab", "Jodł", "Kasprz", "Łęcz", "Mił", "Orzech", "Przyb", "Rzep", "Sośn", "Trzcin",
         "Wierzb", "Zabł", "Żeleź", "Bogusł", "Chełm", "Cies", "Gołęb", "Jarosł", "Kuczk", "Lesz", "Mąk",
         "Niedźwiedz", "Pieg", "Radom", "Skow", "Strzel", "Świer", "Wąs", "Zaręb", "Bielaw", "Czaj", "Frąck",
         "Gaw", "Hołown", "Iwan", "Kłos", "Koźm", "Lub", "Mic", "Nadol", "Ochm", "Pąk", "Rusz", "Sęk", "Tkacz",
         "Wilcz", "Żmij", "Bor", "Dziub", "Gąs", "Kret", "Mazan", "Pilch", "Rogal", "Szpak", "Węgrz", "Zdun"]
ENDINGS = [("owski", "owska"), ("ewski", "ewska"), ("iński", "ińska"), ("ak", "ak"), ("czyk", "czyk"),
           ("ik", "ik"), ("ecki", "ecka"), ("owicz", "owicz"), ("iak", "iak"), ("ek", "ek")]
MALE_NAMES = ["Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Jan", "Michał", "Marcin", "Jakub", "Adam",
              "Łukasz", "Marek", "Grzegorz", "Mateusz", "Wojciech", "Mariusz", "Dariusz", "Zbigniew", "Maciej",
              "Rafał", "Kamil", "Szymon", "Jerzy", "Ryszard", "Sławomir", "Przemysław", "Bartłomiej", "Józef",
              "Stanisław", "Kacper", "Filip", "Dominik", "Artur", "Sebastian", "Radosław", "Jarosław"]
FEMALE_NAMES = ["Anna", "Katarzyna", "Maria", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena",
                "Elżbieta", "Krystyna", "Joanna", "Aleksandra", "Monika", "Zofia", "Teresa", "Danuta",
                "Natalia", "Julia", "Karolina", "Marta", "Beata", "Dorota", "Halina", "Jadwiga", "Justyna",
                "Grażyna", "Paulina", "Iwona", "Urszula", "Żaneta", "Bożena", "Jolanta", "Weronika", "Łucja"]
# (city, weight, postal code prefix, region)
CITIES = [
    ("Warszawa", 18, "0", "mazowieckie"), ("Kraków", 8, "3", "małopolskie"), ("Łódź", 6, "9", "łódzkie"),
    ("Wrocław", 7, "5", "dolnośląskie"), ("Poznań", 6, "6", "wielkopolskie"), ("Gdańsk", 5, "8", "pomorskie"),
    ("Szczecin", 4, "7", "zachodniopomorskie"), ("Bydgoszcz", 3, "8", "kujawsko-pomorskie"),
    ("Lublin", 3, "2", "lubelskie"), ("Białystok", 3, "1", "podlaskie"), ("Katowice", 3, "4", "śląskie"),
    ("Gdynia", 2, "8", "pomorskie"), ("Częstochowa", 2, "4", "śląskie"), ("Radom", 2, "2", "mazowieckie"),
    ("Toruń", 2, "8", "kujawsko-pomorskie"), ("Rzeszów", 2, "3", "podkarpackie"),
    ("Kielce", 2, "2", "świętokrzyskie"), ("Gliwice", 2, "4", "śląskie"), ("Olsztyn", 2, "1", "warmińsko-mazurskie"),
    ("Zielona Góra", 1, "6", "lubuskie"), ("Opole", 1, "4", "opolskie"), ("Bielsko-Biała", 1, "4", "śląskie"),
    ("Gorzów Wielkopolski", 1, "6", "lubuskie"), ("Elbląg", 1, "8", "warmińsko-mazurskie"),
    ("Płock", 1, "0", "mazowieckie"), ("Zakopane", 1, "3", "małopolskie"), ("Sopot", 1, "8", "pomorskie"),
    ("Świnoujście", 1, "7", "zachodniopomorskie"), ("Łomża", 1, "1", "podlaskie"),
    ("Nowy Sącz", 1, "3", "małopolskie"), ("Tarnów", 1, "3", "małopolskie"), ("Kalisz", 1, "6", "wielkopolskie"),
]
STREETS = ["ul. Marszałkowska", "ul. Długa", "ul. Piłsudskiego", "ul. Mickiewicza", "ul. Słowackiego",
           "ul. Kościuszki", "ul. Żeromskiego", "ul. Świętokrzyska", "al. Jerozolimskie", "ul. Grunwaldzka",
           "ul. Łąkowa", "ul. Ogrodowa", "ul. Polna", "ul. Leśna", "ul. Źródlana", "ul. Wrzosowa", "ul. Kwiatowa",
           "ul. Szkolna", "ul. Kolejowa", "ul. Przemysłowa", "ul. Wiśniowa", "ul. Jagiellońska", "ul. Armii Krajowej"]
POSITIONS = ["", "", "Prezes Zarządu", "Dyrektor handlowy", "Kierownik sprzedaży", "Specjalista ds. zakupów",
             "Księgowa", "Główny księgowy", "Kierownik projektu", "Właściciel", "Asystentka zarządu",
             "Dyrektor finansowy", "Specjalista ds. marketingu", "Kierownik logistyki", "Inżynier sprzedaży",
             "Administrator IT", "Kierownik biura", "Przedstawiciel handlowy", "Dyrektor operacyjny"]
MAIL_DOMAINS = ["gmail.com", "wp.pl", "onet.pl", "o2.pl", "interia.pl", "op.pl", "poczta.fm", "outlook.com"]
# (tag, share of contacts)
TAGS = [("vip", 0.05), ("newsletter", 0.30), ("klient", 0.25), ("partner", 0.05), ("targi-2025", 0.10),
        ("webinar", 0.10), ("polecenie", 0.05), ("do-kontaktu", 0.10)]
COMPANY_WORDS = ["Handel", "Serwis", "Logistyka", "Budownictwo", "Consulting", "Technologie", "Systemy", "Transport",
                 "Meble", "Energia", "Dom", "Stal", "Druk", "Software", "Media", "Farmacja", "Ogrody", "Auto",
                 "Instalacje", "Agro", "Finanse", "Spedycja", "Elektro", "Projekt", "Żywność", "Łączność"]
COMPANY_FORMS = [("sp. z o.o.", "sp_zoo", 50), ("S.A.", "sa", 8), ("sp.j.", "sp_j", 8), ("sp.k.", "sp_k", 6),
                 ("s.c.", "sc", 8), ("", "jdg", 20)]
DEAL_WORDS = ["Wdrożenie CRM", "Dostawa materiałów", "Umowa serwisowa", "Licencje", "Szkolenie", "Audyt",
              "Modernizacja", "Abonament roczny", "Konsultacje", "Rozbudowa systemu", "Flota samochodowa",
              "Kampania marketingowa", "Wyposażenie biura", "Przegląd instalacji"]
ACTIVITIES = [("call", "Rozmowa telefoniczna"), ("call", "Telefon w sprawie oferty"), ("meeting", "Spotkanie"),
              ("meeting", "Prezentacja produktu"), ("note", "Notatka"), ("note", "Ustalenia po rozmowie")]
NOTES = ["Klient prosi o ofertę do końca miesiąca.", "Oddzwonić po urlopie.", "Zainteresowany wersją Pro.",
         "Wysłano cennik i warunki współpracy.", "Decyzja zapadnie na zarządzie w przyszłym tygodniu.", ""]
# Pipelines a bench portal has besides its default one: (name, stages (name, probability, kind)).
EXTRA_PIPELINES = [
    ("Partnerzy", [("Kontakt", 10, "open"), ("Rozmowy", 40, "open"), ("Umowa", 80, "open"),
                   ("Podpisana", 100, "won"), ("Rezygnacja", 0, "lost")]),
    ("Serwis", [("Zgłoszenie", 20, "open"), ("Wycena", 50, "open"), ("Realizacja", 90, "open"),
                ("Zakończone", 100, "won"), ("Odrzucone", 0, "lost")]),
]
CUSTOM_FIELDS = [
    ("contact", "segment", "Segment", "select", ["A", "B", "C"]),
    ("contact", "nps", "Ocena NPS", "number", []),
    ("contact", "zgoda_marketing", "Zgoda marketingowa", "boolean", []),
    ("company", "branza", "Branża", "select", ["produkcja", "usługi", "handel", "IT", "budownictwo"]),
    ("deal", "produkt", "Produkt", "select", ["Kompas Start", "Kompas Pro", "Kompas Enterprise"]),
]

ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def ascii_fold(text: str) -> str:
    return text.translate(ASCII)


def weighted(items: list, weights: list[float], rng: random.Random, size: int = 4096) -> list:
    """A long list drawn by weight, to pick from with rng.choice (much cheaper than choices() per row)."""
    return rng.choices(items, weights=weights, k=size)


def nip_digits(rng: random.Random) -> str:
    """A NIP with a valid check digit."""
    while True:
        digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(8))]
        check = sum(d * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def copy_text(value) -> str:
    """A value in COPY text format (no tab, newline or backslash ever occurs in the generated data)."""
    if value is None:
        return r"\N"
    return str(value)


def pg_array(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def jdump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class World:
    """What the generated rows refer to: members, pipelines and stages, list values."""

    member_ids: list[int]
    stages: list[tuple[int, int, int, str]]  # (pipeline_id, stage_id, probability, kind)
    sources: list[int]
    contact_types: list[int]
    industries: list[int]
    companies: int
    contacts: int
    deals: int
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


class Generator:
    def __init__(self, world: World, seed: int = SEED) -> None:
        self.world = world
        self.rng = random.Random(seed)
        rng = self.rng
        tail = [(stem + male, stem + female) for stem in STEMS for male, female in ENDINGS]
        top_weight = sum(w for _m, _f, w in SURNAMES)
        # The top names make ~15 % of the people, as in Poland's register; the rest is the long tail.
        names = [(m, f) for m, f, _w in SURNAMES] + tail
        weights = [w for _m, _f, w in SURNAMES] + [top_weight * 85 / 15 / len(tail)] * len(tail)
        self.surnames = weighted(names, weights, rng, 65536)
        self.cities = weighted(CITIES, [c[1] for c in CITIES], rng)
        self.owners = list(world.member_ids)
        self.company_names: list[str] = []

    # Shared columns of every record.
    def _record(self, created_days: int = 5 * 365) -> tuple[str, str, str | None, str]:
        rng, now = self.rng, self.world.now
        created = now - timedelta(seconds=rng.randrange(created_days * 86400))
        updated = created + timedelta(seconds=rng.randrange(max(1, int((now - created).total_seconds()))))
        deleted = None
        if rng.random() < 0.01:  # the recycle bin
            deleted = (updated + timedelta(seconds=rng.randrange(3600))).isoformat()
        return created.isoformat(), updated.isoformat(), deleted, str(rng.choice(self.owners))

    def phone(self) -> str:
        rng = self.rng
        return f"+48{rng.choice('5678')}{rng.randrange(10**8):08d}"

    def companies(self) -> Iterator[str]:
        rng = self.rng
        for pk in range(1, self.world.companies + 1):
            created, updated, deleted, owner = self._record()
            male, _female = rng.choice(self.surnames)
            form, kind, _w = rng.choices(COMPANY_FORMS, weights=[f[2] for f in COMPANY_FORMS])[0]
            word = rng.choice(COMPANY_WORDS)
            stem = male if rng.random() < 0.6 else f"{word} {rng.choice(self.cities)[0]}"
            name = f"{stem} {word} {form}".strip() if stem == male else f"{stem} {form}".strip()
            city, _w, postal, region = rng.choice(self.cities)
            self.company_names.append(name)
            slug = ascii_fold(f"{male}-{word}").lower().replace(" ", "-")
            domain = f"{slug}{pk}.pl"
            emails = jdump([{"value": f"biuro@{domain}", "kind": "work"}])
            phones = jdump([{"value": self.phone(), "kind": "work"}])
            nip = nip_digits(rng) if kind != "jdg" or rng.random() < 0.9 else ""
            tags = pg_array(["klient"] if rng.random() < 0.4 else [])
            custom = jdump({"branza": rng.choice(CUSTOM_FIELDS[3][4])} if rng.random() < 0.5 else {})
            industry = rng.choice(self.world.industries) if self.world.industries and rng.random() < 0.7 else None
            source = rng.choice(self.world.sources) if self.world.sources and rng.random() < 0.6 else None
            row = [pk, owner, owner, created, updated, deleted, tags, custom,
                   f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
                   f"{postal}{rng.randint(0, 9)}-{rng.randint(0, 999):03d}",
                   city, region, "PL", name, nip, "", "", kind, industry, f"https://www.{domain}", emails, phones,
                   source, rng.choice([None, 5, 12, 40, 85, 250, 1200]), ""]
            yield "\t".join(map(copy_text, row)) + "\n"

    def contacts(self) -> Iterator[str]:
        rng, world = self.rng, self.world
        for pk in range(1, world.contacts + 1):
            created, updated, deleted, owner = self._record()
            male_form, female_form = rng.choice(self.surnames)
            if rng.random() < 0.5:
                first, last = rng.choice(FEMALE_NAMES), female_form
            else:
                first, last = rng.choice(MALE_NAMES), male_form
            city, _w, postal, region = rng.choice(self.cities)
            login = ascii_fold(f"{first}.{last}").lower()
            emails = []
            if rng.random() < 0.9:
                emails.append({"value": f"{login}{rng.randrange(1000) if rng.random() < 0.5 else ''}"
                                        f"@{rng.choice(MAIL_DOMAINS)}", "kind": "home"})
            company = rng.randint(1, world.companies) if rng.random() < 0.7 else None
            if company is not None and rng.random() < 0.5:
                emails.append({"value": f"{login}@firma{company}.pl", "kind": "work"})
            phones = []
            if rng.random() < 0.8:
                phones.append({"value": self.phone(), "kind": "mobile"})
            if rng.random() < 0.2:
                phones.append({"value": self.phone(), "kind": "work"})
            tags = [tag for tag, share in TAGS if rng.random() < share]
            custom = {}
            if rng.random() < 0.6:
                custom["segment"] = rng.choice("AABBBCC")
            if rng.random() < 0.2:
                custom["nps"] = rng.randint(0, 10)
            if rng.random() < 0.5:
                custom["zgoda_marketing"] = rng.random() < 0.7
            birthday = date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)).isoformat() \
                if rng.random() < 0.3 else None
            row = [pk, owner, owner, created, updated, deleted, pg_array(tags), jdump(custom),
                   f"{rng.choice(STREETS)} {rng.randint(1, 180)}" if rng.random() < 0.6 else "",
                   f"{postal}{rng.randint(0, 9)}-{rng.randint(0, 999):03d}", city, region, "PL",
                   first, last, rng.choice(POSITIONS), company, jdump(emails), jdump(phones), birthday,
                   rng.choice(world.sources) if world.sources and rng.random() < 0.5 else None,
                   rng.choice(world.contact_types) if world.contact_types and rng.random() < 0.5 else None, ""]
            yield "\t".join(map(copy_text, row)) + "\n"

    def deals(self) -> Iterator[str]:
        rng, world = self.rng, self.world
        for pk in range(1, world.deals + 1):
            created, updated, deleted, owner = self._record(created_days=2 * 365)
            pipeline, stage, probability, kind = rng.choice(world.stages)
            company = rng.randint(1, world.companies) if rng.random() < 0.85 else None
            value = f"{rng.choice([1, 2, 5, 10, 25, 50, 120])* rng.randint(500, 2000)}.{rng.randrange(100):02d}"
            closed = updated if kind != "open" else None
            expected = (world.now.date() + timedelta(days=rng.randint(-120, 240))).isoformat()
            custom = jdump({"produkt": rng.choice(CUSTOM_FIELDS[4][4])} if rng.random() < 0.6 else {})
            client = self.company_names[company - 1] if company else " ".join(rng.choice(self.surnames)[:1])
            title = f"{rng.choice(DEAL_WORDS)} – {client}"
            lost_reason = rng.choice(["Za wysoka cena", "Wybrali konkurencję", "Brak budżetu", ""]) \
                if kind == "lost" else ""
            row = [pk, owner, owner, created, updated, deleted, pg_array(["pilne"] if rng.random() < 0.1 else []),
                   custom, title, value, "PLN", pipeline, stage, probability, expected, closed, updated, company,
                   None, rng.choice(world.sources) if world.sources and rng.random() < 0.5 else None, lost_reason,
                   float(pk), ""]
            yield "\t".join(map(copy_text, row)) + "\n"

    def activities(self) -> Iterator[str]:
        """Calls, meetings and notes on two contacts in five (the rest of a timeline is their history)."""
        rng, world, now = self.rng, self.world, self.world.now
        for pk in range(1, world.contacts * 2 // 5 + 1):
            kind, subject = rng.choice(ACTIVITIES)
            at = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
            starts = at.isoformat() if kind != "note" else None
            ends = (at + timedelta(minutes=rng.choice((15, 30, 60)))).isoformat() if kind == "meeting" else None
            row = [pk, kind, "contact", rng.randint(1, world.contacts), subject, rng.choice(NOTES),
                   rng.choice(("outbound", "inbound")) if kind == "call" else "", starts, ends,
                   "Biuro klienta" if kind == "meeting" else "", "", kind != "note" and at < now,
                   rng.choice(self.owners), at.isoformat(), at.isoformat(), None]
            yield "\t".join(map(copy_text, row)) + "\n"

    def deal_contacts(self) -> Iterator[str]:
        rng, world = self.rng, self.world
        pk = 0
        for deal in range(1, world.deals + 1):
            for contact in {rng.randint(1, world.contacts) for _ in range(rng.choice((1, 1, 1, 2, 3)))}:
                pk += 1
                yield f"{pk}\t{deal}\t{contact}\n"


# The columns each COPY writes (the generated search_text is computed by PostgreSQL).
RECORD_COLUMNS = ["id", "owner_id", "created_by_id", "created_at", "updated_at", "deleted_at", "tags", "custom"]
ADDRESS_COLUMNS = ["street", "postal_code", "city", "region", "country"]
TABLES = {
    "company": ("crm_contacts_company", [*RECORD_COLUMNS, *ADDRESS_COLUMNS, "name", "nip", "regon", "vat_id",
                                         "company_type", "industry_id", "website", "emails", "phones", "source_id",
                                         "employees", "description"]),
    "contact": ("crm_contacts_contact", [*RECORD_COLUMNS, *ADDRESS_COLUMNS, "first_name", "last_name", "position",
                                         "company_id", "emails", "phones", "birthday", "source_id",
                                         "contact_type_id", "description"]),
    "deal": ("crm_deals_deal", [*RECORD_COLUMNS, "title", "value", "currency", "pipeline_id", "stage_id",
                                "probability", "expected_close_date", "closed_at", "stage_changed_at",
                                "company_id", "lead_id", "source_id", "lost_reason", "board_position",
                                "description"]),
    "deal_contacts": ("crm_deals_deal_contacts", ["id", "deal_id", "contact_id"]),
    "activity": ("crm_activities_activity", ["id", "kind", "entity", "record_id", "subject", "body", "direction",
                                             "starts_at", "ends_at", "location", "outcome", "is_done", "author_id",
                                             "created_at", "updated_at", "deleted_at"]),
}
HISTORY_TABLE = "crm_core_changeentry"
# Every contact's "created" line, and a change of city for three in ten, as the services write them.
HISTORY_SQL = [
    """INSERT INTO crm_core_changeentry (entity, record_id, kind, field, field_label, old_value, new_value,
                                         actor_id, actor_label, at)
       SELECT 'contact', c.id, 'created', '', '', '', '', c.created_by_id, u.full_name, c.created_at
       FROM crm_contacts_contact c JOIN members_membership m ON m.id = c.created_by_id
       JOIN accounts_user u ON u.id = m.user_id""",
    """INSERT INTO crm_core_changeentry (entity, record_id, kind, field, field_label, old_value, new_value,
                                         actor_id, actor_label, at, batch)
       SELECT 'contact', c.id, 'updated', 'city', 'miasto', 'Warszawa', c.city, c.owner_id, u.full_name,
              c.updated_at, gen_random_uuid()
       FROM crm_contacts_contact c JOIN members_membership m ON m.id = c.owner_id
       JOIN accounts_user u ON u.id = m.user_id
       WHERE c.id % 10 < 3""",
]


# --- the portal -------------------------------------------------------------------------------

TEAM = ["Joanna Kowalska", "Marek Zieliński", "Agnieszka Wójcik", "Tomasz Lewandowski", "Katarzyna Dąbrowska",
        "Paweł Szymański", "Magdalena Woźniak", "Michał Kozłowski", "Ewa Jankowska", "Łukasz Mazur",
        "Aleksandra Krawczyk", "Grzegorz Piotrowski", "Monika Grabowska", "Rafał Pawłowski", "Natalia Michalska",
        "Krzysztof Król", "Justyna Wieczorek", "Sławomir Jabłoński", "Beata Wróbel", "Przemysław Nowakowski"]
OWN_ROLE = "Bench: own records only"


@dataclass
class Portal:
    tenant: object
    host: str
    schema: str
    created: bool
    viewer_all: object  # Membership whose role reads every contact (scope "all")
    viewer_own: object  # Membership whose role reads only its own records (scope "own")
    world: World


def portal_slug(contacts: int) -> str:
    return f"benchcrm-{contacts}"


def ensure_portal(args: argparse.Namespace) -> Portal:
    """Migrate, create the portal once, and give it its team, roles, pipelines and list values."""
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from kompas.cli import migrate_all
    from kompas.provisioning import create_portal
    from tenants.models import Domain, Tenant

    migrate_all(verbosity=0)
    slug = portal_slug(args.contacts)
    host = f"{slug}.{settings.BASE_DOMAIN}"
    tenant = Tenant.objects.filter(slug=slug).first()
    created = tenant is None
    if created:
        tenant = create_portal(name=f"Bench CRM {args.contacts:,}".replace(",", " "), slug=slug,
                               owner_email=f"wlasciciel@{slug}.example.pl", owner_name="Właściciel Bench").tenant
    Domain.objects.get_or_create(domain=host, defaults={"tenant": tenant, "is_primary": False})
    with tenant_context(tenant):
        viewer_all, viewer_own, world = _set_up_team_and_lists(tenant, slug, args)
    return Portal(tenant=tenant, host=host, schema=tenant.schema_name, created=created,
                  viewer_all=viewer_all, viewer_own=viewer_own, world=world)


def _set_up_team_and_lists(tenant, slug: str, args: argparse.Namespace):
    from crm.core.models import CustomField
    from crm.deals.models import Pipeline, Stage
    from crm.deals.services import add_stage, create_pipeline, default_pipeline
    from crm.dictionaries.models import Choice, ChoiceKind
    from identity.accounts.models import PortalAccess
    from identity.accounts.services import get_or_create_account
    from identity.members.models import Action, Membership, Role, RolePermission, Scope

    crm_manager = Role.objects.get(code="crm_manager")  # reads all contacts, no administrator shortcut
    salesperson = Role.objects.get(code="salesperson")
    own_role, _ = Role.objects.get_or_create(name=OWN_ROLE, defaults={"description": "bench/run crm"})
    for entity in ("contact", "company", "deal", "lead", "task"):
        RolePermission.objects.update_or_create(role=own_role, entity=entity, action=Action.READ,
                                                defaults={"scope": Scope.OWN})
    members = []
    for index, full_name in enumerate(TEAM):
        login = ascii_fold(full_name).lower().replace(" ", ".")
        user, _ = get_or_create_account(email=f"{login}@{slug}.example.pl", full_name=full_name)
        # Straight to the table: the trial's seat limit is not what this benchmark is about.
        role = crm_manager if index == 0 else own_role if index == 1 else salesperson
        membership, _ = Membership.objects.get_or_create(user=user, defaults={"role": role, "is_active": True})
        PortalAccess.objects.get_or_create(user=user, tenant_id=tenant.pk)
        members.append(membership)

    default_pipeline()
    for name, stages in EXTRA_PIPELINES:
        if not Pipeline.objects.filter(name=name).exists():
            pipeline = create_pipeline(name=name, stages=[])
            for position, (stage, probability, kind) in enumerate(stages):
                add_stage(pipeline=pipeline, name=stage, probability=probability, kind=kind, position=position)
    stages = [(s.pipeline_id, s.pk, s.probability, s.kind) for s in Stage.objects.order_by("pipeline", "position")]

    lists = {ChoiceKind.SOURCE: ["Strona WWW", "Polecenie", "Targi", "LinkedIn", "Zimny telefon", "Webinar"],
             ChoiceKind.CONTACT_TYPE: ["Klient", "Potencjalny klient", "Partner", "Dostawca"],
             ChoiceKind.INDUSTRY: ["Produkcja", "Handel", "Usługi", "IT", "Budownictwo", "Transport"]}
    ids = {}
    for kind, names in lists.items():  # a new portal has its usual lists already; add ours only to empty ones
        ids[kind] = list(Choice.objects.filter(kind=kind, is_active=True).values_list("pk", flat=True))
        if not ids[kind]:
            ids[kind] = [Choice.objects.get_or_create(kind=kind, name=name, defaults={"position": i})[0].pk
                         for i, name in enumerate(names)]
    for position, (entity, code, label, field_type, options) in enumerate(CUSTOM_FIELDS):
        CustomField.objects.get_or_create(entity=entity, code=code, defaults={
            "label": label, "field_type": field_type, "options": options, "position": position})

    world = World(member_ids=[m.pk for m in members], stages=stages, sources=ids[ChoiceKind.SOURCE],
                  contact_types=ids[ChoiceKind.CONTACT_TYPE], industries=ids[ChoiceKind.INDUSTRY],
                  companies=args.companies, contacts=args.contacts, deals=args.deals)
    return members[0], members[1], world


# --- the bulk load ----------------------------------------------------------------------------

def raw_connection(**kwargs):
    """A psycopg connection of our own to the bench database, outside Django."""
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], **kwargs)


def marker_text(world: World) -> str:
    return f"{MARKER} v{DATA_VERSION} contacts={world.contacts} companies={world.companies} deals={world.deals}"


def loaded_marker(schema: str) -> str:
    with raw_connection() as conn:
        row = conn.execute("SELECT obj_description(%s::regnamespace, 'pg_namespace')", [schema]).fetchone()
    return (row[0] or "") if row else ""


def data_is_complete(schema: str, world: World) -> bool:
    return loaded_marker(schema).startswith(marker_text(world) + " ")


def _copy(cursor, table: str, columns: list[str], lines: Iterator[str], chunk: int = 2000) -> int:
    """Stream generated lines into COPY; returns the number of rows."""
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FREEZE)"
    with cursor.copy(statement) as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == chunk:
                copy.write("".join(batch))
                count += chunk
                batch.clear()
        if batch:
            copy.write("".join(batch))
            count += len(batch)
    return count


def load(portal: Portal) -> dict[str, float]:
    """Replace the portal's companies, contacts, deals and their timelines with generated ones.

    One transaction: TRUNCATE, drop the secondary indexes, COPY (FREEZE: rows land frozen and
    all-visible, as in a vacuumed table), recreate the indexes exactly as the migrations made
    them, ANALYZE. The completeness marker is written last, so an interrupted load is redone.
    """
    from psycopg import sql

    world, schema = portal.world, portal.schema
    generator = Generator(world)
    timings: dict[str, float] = {}
    streams = {"company": generator.companies, "contact": generator.contacts, "deal": generator.deals,
               "deal_contacts": generator.deal_contacts, "activity": generator.activities}
    copied = list(streams)
    tables = [TABLES[name][0] for name in copied] + [HISTORY_TABLE]
    started = time.perf_counter()
    with raw_connection() as conn:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
            cur.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cur.execute("SET LOCAL synchronous_commit = off")
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check each row as it arrives rather
            # than queue millions of checks for the commit (a queue also forbids CREATE INDEX).
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Every table that points at these is bench data of this portal too (leads, tasks, …).
            cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(map(sql.Identifier, tables))))
            indexes = []
            for table in tables:
                cur.execute("""SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
                               JOIN pg_class c ON c.oid = i.indexrelid
                               WHERE i.indrelid = %s::regclass
                                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
                            [f"{schema}.{table}"])
                indexes += cur.fetchall()
            for name, _definition in indexes:
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            for name in copied:
                table, columns = TABLES[name]
                step = time.perf_counter()
                rows = _copy(cur, table, columns, streams[name]())
                timings[f"COPY {table}: {rows:,} rows".replace(",", " ")] = time.perf_counter() - step
            step = time.perf_counter()
            for statement in HISTORY_SQL:
                cur.execute(statement)
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(HISTORY_TABLE)))
            rows = cur.fetchone()[0]
            timings[f"INSERT … SELECT {HISTORY_TABLE}: {rows:,} rows".replace(",", " ")] = time.perf_counter() - step
            for table in tables:
                cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))")
                            .format(sql.Literal(table), sql.Identifier(table)))
            step = time.perf_counter()
            for _name, definition in indexes:
                cur.execute(definition)
            timings[f"CREATE INDEX: the {len(indexes)} secondary indexes"] = time.perf_counter() - step
        # Outside the transaction: VACUUM sets the visibility map of the one table not loaded with FREEZE.
        conn.autocommit = True
        step = time.perf_counter()
        cur = conn.cursor()
        cur.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(HISTORY_TABLE)))
        for table in tables[:-1]:
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        timings["VACUUM / ANALYZE"] = time.perf_counter() - step
        total = time.perf_counter() - started
        stamp = f"{marker_text(world)} loaded={datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} seconds={total:.0f}"
        cur.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(schema), sql.Literal(stamp)))
    timings["total"] = time.perf_counter() - started
    return timings



# --- the questions asked ----------------------------------------------------------------------

LIST_CITY, LIST_TAG = "Kraków", "vip"
LIST_FILTER = {"and": [{"field": "city", "op": "eq", "value": LIST_CITY},
                       {"field": "tags", "op": "has", "value": LIST_TAG}]}
# Common surnames typed without Polish letters: the search must still find "Wójcik", "Dąbrowska", ….
SURNAME_QUERIES = ["wojcik", "dabrowska", "wozniak", "kozlowski", "zielinska"]

CONTACT_LIST_SQL = """
SELECT c.id, c.first_name, c.last_name, c.position, c.company_id, co.name, c.emails, c.phones, c.birthday,
       c.source_id, s.name, c.contact_type_id, t.name, c.description, c.street, c.postal_code, c.city, c.region,
       c.country, c.owner_id, u.full_name, c.tags, c.custom, c.created_at, c.updated_at
FROM crm_contacts_contact c
LEFT JOIN crm_contacts_company co ON co.id = c.company_id
LEFT JOIN crm_dictionaries_choice s ON s.id = c.source_id
LEFT JOIN crm_dictionaries_choice t ON t.id = c.contact_type_id
LEFT JOIN members_membership m ON m.id = c.owner_id
LEFT JOIN accounts_user u ON u.id = m.user_id
WHERE {where}"""
# The same meaning as the API's filter: "eq" on text ignores case, "has" is array containment.
BASE_LIST_WHERE = ("c.deleted_at IS NULL AND upper(c.city) = upper(%(city)s)"
                   " AND c.tags @> ARRAY[%(tag)s]::varchar(50)[]{own} ORDER BY c.last_name, c.id LIMIT %(limit)s")
# The same question as global search: the best five of the 200 newest matches per type
# (crm.core.search.RANKED_CANDIDATES).
BASE_SEARCH_SQL = """
SELECT r.*, u.full_name, word_similarity(public.kompas_search_doc(%(q)s), r.search_text) AS score
FROM {table} r LEFT JOIN members_membership m ON m.id = r.owner_id LEFT JOIN accounts_user u ON u.id = m.user_id
WHERE r.id IN (SELECT r.id FROM {table} r WHERE r.deleted_at IS NULL AND {terms} ORDER BY r.id DESC LIMIT 200)
ORDER BY score DESC, r.id DESC LIMIT 5"""
BASE_TIMELINE_SQL = [
    """SELECT a.*, u.full_name FROM crm_activities_activity a
       LEFT JOIN members_membership m ON m.id = a.author_id LEFT JOIN accounts_user u ON u.id = m.user_id
       WHERE a.entity = 'contact' AND a.record_id = %(id)s AND a.deleted_at IS NULL
       ORDER BY a.created_at DESC, a.id DESC LIMIT 100""",
    """SELECT t.*, u.full_name FROM crm_tasks_task t JOIN crm_tasks_tasklink l ON l.task_id = t.id
       LEFT JOIN members_membership m ON m.id = t.owner_id LEFT JOIN accounts_user u ON u.id = m.user_id
       WHERE l.entity = 'contact' AND l.record_id = %(id)s AND t.deleted_at IS NULL
       ORDER BY t.created_at DESC LIMIT 100""",
    """SELECT e.*, u.full_name FROM crm_core_changeentry e
       LEFT JOIN members_membership m ON m.id = e.actor_id LEFT JOIN accounts_user u ON u.id = m.user_id
       WHERE e.entity = 'contact' AND e.record_id = %(id)s ORDER BY e.at DESC, e.id DESC LIMIT 100""",
]

# The duplicate check of a new contact (crm.duplicates.selectors.possible_duplicates, typo search off
# above 200 000 rows): same e-mail and same phone through the GIN jsonb_path_ops indexes of
# crm_duplicates' migration, similar name: every word in search_text (trigram index), ranked by similarity.
BASE_DUPLICATE_SQL = [
    """SELECT c.* FROM crm_contacts_contact c WHERE c.deleted_at IS NULL
       AND c.emails @> jsonb_build_array(jsonb_build_object('value', %(email)s::text)) ORDER BY c.id DESC LIMIT 5""",
    """SELECT c.* FROM crm_contacts_contact c WHERE c.deleted_at IS NULL
       AND c.phones @> jsonb_build_array(jsonb_build_object('value', %(phone)s::text)) ORDER BY c.id DESC LIMIT 5""",
    """SELECT c.*, similarity(public.kompas_search_doc(c.first_name, c.last_name), public.kompas_search_doc(%(name)s))
       AS score FROM crm_contacts_contact c WHERE c.id IN (
         SELECT id FROM crm_contacts_contact WHERE deleted_at IS NULL
         AND search_text LIKE '%%' || public.kompas_search_doc(%(first)s) || '%%'
         AND search_text LIKE '%%' || public.kompas_search_doc(%(last)s) || '%%' ORDER BY id DESC LIMIT 200)
       AND similarity(public.kompas_search_doc(c.first_name, c.last_name), public.kompas_search_doc(%(name)s)) >= 0.6
       ORDER BY score DESC, c.id DESC LIMIT 5""",
]


def duplicate_samples(portal: Portal) -> list[dict]:
    """New contacts that repeat existing ones as people type them: the name without Polish letters, the
    e-mail in capitals, the phone in national format with spaces."""
    rng = random.Random(SEED + 2)
    with raw_connection() as conn:
        conn.execute(f'SET search_path TO "{portal.schema}", public')
        wanted = rng.sample(range(1, portal.world.contacts + 1), 200)
        rows = conn.execute(
            """SELECT first_name, last_name, emails->0->>'value', phones->0->>'value' FROM crm_contacts_contact
               WHERE id = ANY(%s) AND deleted_at IS NULL AND jsonb_array_length(emails) > 0
               AND jsonb_array_length(phones) > 0 ORDER BY id LIMIT 20""", [wanted]).fetchall()
    return [{"first_name": ascii_fold(first), "last_name": ascii_fold(last), "emails": [email.upper()],
             "phones": [f"{phone[3:6]} {phone[6:9]} {phone[9:]}"]} for first, last, email, phone in rows]


@dataclass
class Case:
    key: str  # RESULT key prefix
    label: str
    ours: Callable[[int], object]  # the i-th request through Kompas (raises on a wrong answer)
    base: Callable[[int], object]  # the same question in hand-written SQL on a raw connection
    goal_ms: float | None = None  # p95 goal
    ours_ms: list[float] = field(default_factory=list)
    base_ms: list[float] = field(default_factory=list)
    queries: float = 0.0
    slowest_sql: str = ""
    slowest_ms: float = 0.0

    def p(self, which: str, q: float) -> float:
        return _harness.percentile(self.ours_ms if which == "ours" else self.base_ms, q)

    @property
    def met(self) -> bool:
        return self.goal_ms is None or self.p("ours", 95) <= self.goal_ms


class Baseline:
    """Hand-written SQL on a psycopg connection of its own: no Django, no tenancy, no permissions.
    Client-side parameter binding and no prepared statements, as Django's own connection does."""

    def __init__(self, schema: str) -> None:
        import psycopg

        self.conn = raw_connection(autocommit=True, cursor_factory=psycopg.ClientCursor, prepare_threshold=None)
        self.conn.execute(f'SET search_path TO "{schema}", public')

    def rows(self, statement: str, params: dict) -> list:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    def explain(self, statement: str) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            return [row[0] for row in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


def _search_tables() -> list[str]:
    from crm.core.registry import record_types

    tables = []
    for rt in record_types():
        if any(f.name == "search_text" for f in rt.model._meta.get_fields()):
            tables.append(rt.model._meta.db_table)
    return tables


def build_cases(portal: Portal, base: Baseline, samples: dict) -> tuple[list[Case], Callable[[int], float], str]:
    """The measured requests, the baseline of each, and a query counter for the list at a page size."""
    from django.db import connection
    from django.test import Client
    from django.urls import Resolver404, resolve
    from django_tenants.utils import tenant_context

    from crm.core.search import search_terms

    tables = _search_tables()
    own_pk = portal.viewer_own.pk

    def base_list(own: bool, limit: int = PAGE_SIZE + 1):
        where = BASE_LIST_WHERE.format(own=" AND c.owner_id = %(own)s" if own else "")
        return base.rows(CONTACT_LIST_SQL.format(where=where),
                         {"city": LIST_CITY, "tag": LIST_TAG, "own": own_pk, "limit": limit})

    def base_search(query: str):
        terms = search_terms(query)
        like = " AND ".join(f"r.search_text LIKE '%%' || public.kompas_search_doc(%(t{i})s) || '%%'"
                            for i in range(len(terms)))
        params = {"q": " ".join(terms), **{f"t{i}": term for i, term in enumerate(terms)}}
        hits = []
        for table in tables:
            hits += [(table, row[0]) for row in base.rows(BASE_SEARCH_SQL.format(table=table, terms=like), params)]
        return hits

    def base_record(pk: int):
        rows = base.rows(CONTACT_LIST_SQL.format(where="c.id = %(id)s AND c.deleted_at IS NULL"), {"id": pk})
        if len(rows) != 1:
            raise RuntimeError(f"baseline: contact {pk} not found")
        return rows

    def base_timeline(pk: int):
        return [base.rows(statement, {"id": pk}) for statement in BASE_TIMELINE_SQL]

    names, phones, ids = samples["names"], samples["phones"], samples["ids"]
    filter_json = json.dumps(LIST_FILTER, ensure_ascii=False)

    try:
        with tenant_context(portal.tenant):
            resolve("/api/v1/contacts/")
            resolve("/api/v1/search/")
        api = True
    except Resolver404:
        api = False
    connection.set_schema_to_public()

    if api:
        clients = {}
        for who, member in (("all", portal.viewer_all), ("own", portal.viewer_own)):
            client = Client(HTTP_HOST=portal.host)
            with tenant_context(portal.tenant):  # sessions live in the portal's schema
                client.force_login(member.user)
            clients[who] = client
        connection.set_schema_to_public()

        def get(who: str, path: str, params: dict | None = None):
            response = clients[who].get(path, params or {})
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} {params} as {who}: {response.status_code} {response.content[:300]!r}")
            return response

        def ours_list(who: str, page_size: int = PAGE_SIZE):
            return get(who, "/api/v1/contacts/", {"filter": filter_json, "ordering": "last_name",
                                                   "page_size": page_size})

        def ours_search(query: str):
            return get("all", "/api/v1/search/", {"q": query})

        def ours_record(pk: int):
            return get("all", f"/api/v1/contacts/{pk}/")

        def ours_timeline(pk: int):
            return get("all", f"/api/v1/contacts/{pk}/timeline/")

        def ours_empty(i: int):
            return get("all", "/api/v1/search/", {"q": "x"})  # too short: answered without a search query

        path_label = "REST API through Django's test Client (routing, session auth, permissions, DRF)"
        list_ids = lambda response: [item["id"] for item in response.json()["results"]]  # noqa: E731
        search_ids = lambda response: sorted((hit["entity"], hit["id"]) for hit in response.json()["results"])  # noqa: E731
    else:
        from crm.activities.selectors import timeline
        from crm.core import selectors
        from crm.core.filters import compile_filter, compile_ordering
        from crm.core.search import search_everything

        members = {"all": portal.viewer_all, "own": portal.viewer_own}

        def ours_list(who: str, page_size: int = PAGE_SIZE):
            member = members[who]
            with tenant_context(portal.tenant):
                queryset = (selectors.records(member, "contact")
                            .filter(compile_filter("contact", LIST_FILTER, actor=member))
                            .order_by(*compile_ordering("contact", ["last_name"])))
                return list(queryset[:page_size + 1])

        def ours_search(query: str):
            with tenant_context(portal.tenant):
                return search_everything(portal.viewer_all, query)

        def ours_record(pk: int):
            with tenant_context(portal.tenant):
                return selectors.record_for(portal.viewer_all, "contact", pk)

        def ours_timeline(pk: int):
            with tenant_context(portal.tenant):
                return timeline(portal.viewer_all, "contact", pk, limit=100)

        ours_empty = None  # no request path here, so nothing fixed to measure

        path_label = "ORM selectors (the REST API is not in this checkout): no request path"
        list_ids = lambda rows: [row.pk for row in rows[:PAGE_SIZE]]  # noqa: E731
        search_ids = lambda hits: sorted((hit.entity, hit.id) for hit in hits)  # noqa: E731

    # The same answers both ways, before anything is timed.
    for who in ("all", "own"):
        ours, theirs = list_ids(ours_list(who)), [row[0] for row in base_list(who == "own")][:PAGE_SIZE]
        if ours != theirs:
            raise RuntimeError(f"list as {who}: Kompas and the baseline disagree ({ours[:5]} vs {theirs[:5]})")
    for query in (names[0], phones[0]):
        code_of = {rt.model._meta.db_table: rt.code for rt in _record_types()}
        ours = search_ids(ours_search(query))
        theirs = sorted((code_of[table], pk) for table, pk in base_search(query))
        if ours != theirs:
            raise RuntimeError(f"search {query!r}: Kompas and the baseline disagree ({ours[:5]} vs {theirs[:5]})")

    cases = [
        Case("list_all", "list: Kraków + vip by last_name, 50, scope all",
             lambda i: ours_list("all"), lambda i: base_list(False), GOAL_LIST_P95_MS),
        Case("list_own", "list: the same, scope own",
             lambda i: ours_list("own"), lambda i: base_list(True), GOAL_LIST_P95_MS),
        Case("search_name", f"search: surname without diacritics ({len(names)})",
             lambda i: ours_search(names[i % len(names)]), lambda i: base_search(names[i % len(names)]),
             GOAL_SEARCH_P95_MS),
        Case("search_phone", f"search: phone fragment ({len(phones)})",
             lambda i: ours_search(phones[i % len(phones)]), lambda i: base_search(phones[i % len(phones)]),
             GOAL_SEARCH_P95_MS),
        Case("record", f"record page: contact by id ({len(ids)})",
             lambda i: ours_record(ids[i % len(ids)]), lambda i: base_record(ids[i % len(ids)])),
        Case("timeline", "record timeline: activities, tasks, history",
             lambda i: ours_timeline(ids[i % len(ids)]), lambda i: base_timeline(ids[i % len(ids)])),
    ]
    duplicates = duplicate_samples(portal)
    if duplicates:
        cases.append(_duplicate_case(portal, base, duplicates, clients if api else None))
    if ours_empty is not None:
        # What every request pays before its own queries: routing, session, member, policy, DRF.
        cases.append(Case("fixed", "request path alone: search for 'x' (no query)",
                          ours_empty, lambda i: base.rows("SELECT 1", {})))

    def list_queries(page_size: int) -> float:
        return count_queries(lambda i: ours_list("all", page_size), 5)[0]

    return cases, list_queries, path_label


def _duplicate_case(portal: Portal, base: Baseline, samples: list[dict], clients: dict | None) -> Case:
    """"duplicate check": the warning on creating a contact (first and last name of one word each in the
    generated data), through POST /api/v1/duplicates/check/
    when the API is there, else the selector; the answer must name the contact it was made from."""
    from django_tenants.utils import tenant_context

    def check(i: int):
        values = samples[i % len(samples)]
        if clients is not None:
            response = clients["all"].post("/api/v1/duplicates/check/", {"type": "contact", "values": values},
                                           content_type="application/json")
            if response.status_code != 200 or not response.json()["results"]:
                raise RuntimeError(f"duplicate check {values}: {response.status_code} {response.content[:300]!r}")
            return response
        from crm.duplicates.selectors import possible_duplicates

        with tenant_context(portal.tenant):
            found = possible_duplicates("contact", values, principal=portal.viewer_all)
        if not found:
            raise RuntimeError(f"duplicate check {values}: nothing found")
        return found

    def base_check(i: int):
        values = samples[i % len(samples)]
        from crm.core.contact_points import normalise_phone

        params = {"email": values["emails"][0].lower(), "phone": normalise_phone(values["phones"][0]),
                  "name": f"{values['first_name']} {values['last_name']}", "first": values["first_name"].lower(),
                  "last": values["last_name"].lower()}
        return [base.rows(statement, params) for statement in BASE_DUPLICATE_SQL]

    return Case("duplicate_check", f"duplicate check: new contact by e-mail, phone, name ({len(samples)})",
                check, base_check)


def _record_types():
    from crm.core.registry import record_types

    return record_types()


def pick_samples(portal: Portal) -> dict:
    """Ids of live contacts for the record pages, and phone fragments that exist, chosen reproducibly."""
    rng = random.Random(SEED + 1)
    with raw_connection() as conn:
        conn.execute(f'SET search_path TO "{portal.schema}", public')
        wanted = rng.sample(range(1, portal.world.contacts + 1), 400)
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM crm_contacts_contact WHERE id = ANY(%s) AND deleted_at IS NULL", [wanted])][:200]
        rng.shuffle(ids)
        phones = [row[0] for row in conn.execute(
            """SELECT phones->0->>'value' FROM crm_contacts_contact
               WHERE id = ANY(%s) AND deleted_at IS NULL AND jsonb_array_length(phones) > 0 ORDER BY id LIMIT 5""",
            [wanted])]
    # The first six digits of the national number, typed as people type them: "601 234".
    fragments = [f"{phone[3:6]} {phone[6:9]}" for phone in phones]
    return {"ids": ids, "phones": fragments, "names": SURNAME_QUERIES}


# --- timing -----------------------------------------------------------------------------------

def count_queries(request: Callable[[int], object], requests: int) -> tuple[float, str, float, list[str]]:
    """Queries per request; the slowest statement seen and its time (ms); the statements of one request."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    total, slowest, slowest_ms, shapes = 0, "", 0.0, []
    for i in range(requests):
        reset_queries()  # request_started empties queries_log, which the capture indexes into
        with CaptureQueriesContext(connection) as captured:
            request(i)
        total += len(captured.captured_queries)
        if i == 0:
            shapes = [q["sql"] for q in captured.captured_queries]
        for query in captured.captured_queries:
            ms = float(query["time"]) * 1000
            if ms >= slowest_ms and query["sql"].lstrip().upper().startswith("SELECT"):
                slowest, slowest_ms = query["sql"], ms
    return total / requests, slowest, slowest_ms, shapes


def time_case(case: Case, requests: int, warmup: int) -> None:
    """Kompas and the baseline alternate in ABBA order, so drift hits both alike."""
    clock = time.perf_counter_ns
    for i in range(warmup):
        case.ours(i)
        case.base(i)
    gc.collect()
    for i in range(requests):
        for which in ("ours", "base") if i % 2 == 0 else ("base", "ours"):
            call = case.ours if which == "ours" else case.base
            started = clock()
            call(i)
            elapsed = (clock() - started) / 1e6
            (case.ours_ms if which == "ours" else case.base_ms).append(elapsed)


def describe_query(sql_text: str) -> str:
    """A short name for a statement: what it reads."""
    text = " ".join(sql_text.split())
    upper = text.upper()
    if not upper.startswith("SELECT"):
        return text[:60]
    after = text.split(" FROM ", 1)[1] if " FROM " in text else text
    return "SELECT … FROM " + after.split(" ", 1)[0].strip('"')



# --- the benchmark ----------------------------------------------------------------------------

def run(bench: _harness.Session, args: argparse.Namespace) -> bool:
    import django
    from django.conf import settings

    started = time.perf_counter()
    portal = ensure_portal(args)
    setup_s = time.perf_counter() - started
    reused = not args.reload and data_is_complete(portal.schema, portal.world)
    timings: dict[str, float] = {}
    if not reused:
        out(f"Loading {args.contacts:,} contacts, {args.companies:,} companies and {args.deals:,} deals into "
            f"{portal.schema} (COPY) …".replace(",", " "))
        timings = load(portal)
        for step, seconds in timings.items():
            out(f"  {step:64} {seconds:7.1f} s")
    marker = loaded_marker(portal.schema)
    load_s = timings["total"] if timings else float(marker.rsplit("seconds=", 1)[-1] or 0)

    out()
    out(f"Benchmark {NAME}: lists, search and record pages of one portal, against hand-written SQL on the same tables")
    out(f"  python / django   {platform.python_implementation()} {platform.python_version()}, "
        f"Django {django.get_version()}, KOMPAS_ENV={settings.KOMPAS_ENV}, DEBUG={settings.DEBUG}")
    out(f"  database          {bench.database}" + (" (created now)" if bench.database_created else "")
        + f", CONN_MAX_AGE={settings.DATABASES['default'].get('CONN_MAX_AGE')}")
    out(f"  machine           {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start (other "
        "processes on the machine slow the Python side more than the baseline)")
    out(f"  portal            {portal.host} -> schema {portal.schema}" + (" (created now)" if portal.created else ""))
    with raw_connection() as conn:
        sizes = dict(conn.execute(
            """SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)""",
            [portal.schema, [TABLES["contact"][0], TABLES["company"][0], TABLES["deal"][0]]]).fetchall())
    out(f"  data              {args.contacts:,} contacts, {args.companies:,} companies, {args.deals:,} deals, "
        f"{MEMBERS} owners".replace(",", " ")
        + f" (contacts {sizes.get(TABLES['contact'][0], '?')} with indexes)")
    if reused:
        out(f"  load              reused: {marker.split(' loaded=')[-1]} (the load then took {load_s:.0f} s); "
            "--reload loads again")
    else:
        out(f"  load              {load_s:.1f} s (COPY, indexes rebuilt, ANALYZE); portal setup {setup_s:.1f} s")

    samples = pick_samples(portal)
    base = Baseline(portal.schema)
    try:
        cases, list_queries, path_label = build_cases(portal, base, samples)
        out(f"  Kompas path       {path_label}")
        out("  baseline          hand-written SQL with the same meaning on a raw psycopg connection to the same "
            "tables (search_path set once): no Django, no tenancy, no permission filter")
        out(f"  requests          {args.requests} timed per path and measurement, alternating ABBA, after "
            f"{args.warmup} warm-up each; queries counted over 10 more")
        out(f"  search queries    {', '.join(samples['names'])} | {', '.join(samples['phones'])}")
        out()
        for case in cases:
            case.queries, case.slowest_sql, case.slowest_ms, _shapes = count_queries(case.ours, 10)
            time_case(case, args.requests, args.warmup)
        queries_10 = list_queries(10)
        queries_100 = list_queries(100)
        _q, _s, _ms, list_shapes = count_queries(lambda i: cases[0].ours(i), 1)
        load_after = os.getloadavg()[0]

        out(f"  goals: search p95 <= {GOAL_SEARCH_P95_MS} ms, list p95 <= {GOAL_LIST_P95_MS} ms, "
            f"queries per list request <= {GOAL_LIST_QUERIES} and the same at page sizes 10 and 100")
        rows = []
        verdict = {True: "met", False: "MISSED"}
        for case in cases:
            ratio = case.p("ours", 50) / case.p("base", 50)
            goal = f"p95 <= {case.goal_ms:g}: {verdict[case.met]}" if case.goal_ms else ""
            rows.append([case.label, f"{case.p('ours', 50):.1f}", f"{case.p('ours', 95):.1f}",
                         f"{case.p('base', 50):.2f}", f"{case.p('base', 95):.2f}", f"{ratio:.1f}x",
                         f"{case.queries:g}", goal])
        bench.table(["measurement", "p50 ms", "p95 ms", "base p50", "base p95", "ratio p50", "queries", "goal"],
                    rows)
        out(f"  (load average {load_after:.2f} at the end)")
        out()
        queries_ok = queries_10 == queries_100 and queries_100 <= GOAL_LIST_QUERIES
        out(f"  queries per list request   page size 10: {queries_10:g}, page size 100: {queries_100:g}   "
            f"goal <= {GOAL_LIST_QUERIES} and constant: {verdict[queries_ok]}")
        for statement in list_shapes:
            out(f"    {describe_query(statement)}")

        missed = [case for case in cases if not case.met]
        for case in cases:
            if case in missed or args.explain:
                out()
                out(f"  EXPLAIN ANALYZE of the slowest statement of '{case.label}' "
                    f"({case.slowest_ms:.1f} ms when counted):")
                out("    " + " ".join(case.slowest_sql.split())[:600] + ("…" if len(case.slowest_sql) > 600 else ""))
                for line in base.explain(case.slowest_sql):
                    out(f"    | {line}")
    finally:
        base.close()

    by_key = {case.key: case for case in cases}
    search_ok = by_key["search_name"].met and by_key["search_phone"].met
    list_ok = by_key["list_all"].met and by_key["list_own"].met
    metrics: dict[str, object] = {"contacts": args.contacts, "load_s": round(load_s, 1), "reused": reused}
    for case in cases:
        metrics.update({
            f"{case.key}_p50_ms": round(case.p("ours", 50), 2), f"{case.key}_p95_ms": round(case.p("ours", 95), 2),
            f"{case.key}_base_p50_ms": round(case.p("base", 50), 3),
            f"{case.key}_base_p95_ms": round(case.p("base", 95), 3),
            f"{case.key}_ratio_p50": round(case.p("ours", 50) / case.p("base", 50), 2),
            f"{case.key}_queries": case.queries,
        })
    metrics.update(list_queries_page10=queries_10, list_queries_page100=queries_100, requests=args.requests,
                   path="api" if path_label.startswith("REST") else "orm", search_goal_met=search_ok,
                   list_goal_met=list_ok, queries_goal_met=queries_ok,
                   goals_met=search_ok and list_ok and queries_ok)
    bench.result(**metrics)
    return search_ok and list_ok and queries_ok


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Persistent database connections, as in production (the test settings close them after every request).
    os.environ.setdefault("DB_CONN_MAX_AGE", "60")
    # The API's rate limits are still checked on every request, but set high enough never to refuse one.
    os.environ.setdefault("API_RATE_PER_KEY", "100000000/min")
    os.environ.setdefault("API_RATE_PER_PORTAL", "100000000/min")
    with _harness.session(NAME) as bench:
        if args.load_only:
            portal = ensure_portal(args)
            if args.reload or not data_is_complete(portal.schema, portal.world):
                for step, seconds in load(portal).items():
                    out(f"  {step:64} {seconds:7.1f} s")
            out(loaded_marker(portal.schema))
            return 0
        goals_met = run(bench, args)
    return 0 if goals_met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
