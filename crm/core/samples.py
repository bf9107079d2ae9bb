"""Sample records for the demo portal (`kompas run`) and for trying the CRM out: Polish companies,
people, leads, deals in every stage, tasks and notes, written through the real services so they
have history like anything a person enters."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.utils import timezone

from crm.activities.services import add_activity
from crm.core import services
from crm.deals.services import default_pipeline
from crm.dictionaries.models import Choice, ChoiceKind
from identity.members.models import Membership

COMPANIES = [
    ("Zakład Usług Różnych sp. z o.o.", "5260001246", "Warszawa", "sp_zoo"),
    ("Piekarnia Żytnia s.c.", "", "Kraków", "sc"),
    ("Hurtownia Ćma S.A.", "", "Łódź", "sa"),
    ("Biuro Rachunkowe Źródło", "", "Gdańsk", "jdg"),
    ("Ogrodnictwo Źdźbło sp.j.", "", "Poznań", "sp_j"),
    ("Miejskie Wodociągi", "", "Wrocław", "public"),
]
PEOPLE = [
    ("Łukasz", "Żółkiewski", "Prezes zarządu", "+48 601 202 303"),
    ("Małgorzata", "Wiśniewska", "Kierownik zakupów", "+48 602 303 404"),
    ("Grzegorz", "Brzęczyszczykiewicz", "Właściciel", "+48 603 404 505"),
    ("Agnieszka", "Kamińska", "Księgowa", "+48 604 505 606"),
    ("Tomasz", "Lewandowski", "Dyrektor techniczny", "+48 605 606 707"),
    ("Zofia", "Dąbrowska", "Specjalista ds. administracji", "+48 606 707 808"),
    ("Paweł", "Zieliński", "Kierownik projektu", "+48 607 808 909"),
    ("Ewa", "Szymańska", "Asystentka zarządu", "+48 608 909 101"),
]
DEALS = [
    ("Wdrożenie CRM dla 25 osób", "48000"), ("Serwis roczny klimatyzacji", "12600"),
    ("Dostawa mąki — kontrakt kwartalny", "31500"), ("Audyt księgowy", "7800"),
    ("Nasadzenia wiosenne", "22400"), ("Modernizacja stacji uzdatniania", "185000"),
    ("Szkolenie z obsługi kasy", "3200"), ("Abonament na oprogramowanie", "9600"),
]
LEADS = [
    ("Zapytanie o ofertę z formularza", "Karolina", "Mazur"), ("Telefon w sprawie serwisu", "Jakub", "Krawczyk"),
    ("Kontakt z targów", "Natalia", "Piotrowska"), ("Polecenie od klienta", "Michał", "Grabowski"),
]
TASKS = [
    ("Oddzwonić w sprawie rabatu", "urgent", 0), ("Przygotować ofertę", "normal", 2),
    ("Wysłać umowę do podpisu", "critical", -1), ("Umówić spotkanie", "low", 5),
]


def add_sample_records(*, seed: int = 2026) -> None:
    rng = random.Random(seed)
    team = list(Membership.objects.filter(is_active=True).order_by("pk"))
    admin = next((member for member in team if member.is_owner), team[0])
    sources = list(Choice.objects.filter(kind=ChoiceKind.SOURCE))
    companies = [services.create_record(actor=admin, code="company", values={
        "name": name, "nip": nip, "city": city, "company_type": kind, "owner": rng.choice(team).pk,
        "source": rng.choice(sources).pk if sources else None}) for name, nip, city, kind in COMPANIES]
    contacts = []
    for index, (first, last, position, phone) in enumerate(PEOPLE):
        company = companies[index % len(companies)]
        contacts.append(services.create_record(actor=admin, code="contact", values={
            "first_name": first, "last_name": last, "position": position, "company": company.pk,
            "phones": [phone], "city": company.city, "owner": rng.choice(team).pk,
            "emails": [f"{first[0]}.{last}@example.pl".lower().translate(str.maketrans("łżźćńóśąę", "lzzcnosae"))]}))
    pipeline = default_pipeline()
    stages = list(pipeline.stages.order_by("position"))
    for index, (title, value) in enumerate(DEALS):
        stage = stages[index % (len(stages) - 1)]
        values = {"title": title, "value": Decimal(value), "pipeline": pipeline.pk, "stage": stage.pk,
                  "company": companies[index % len(companies)].pk, "contacts": [contacts[index].pk],
                  "owner": rng.choice(team).pk,
                  "expected_close_date": timezone.localdate() + datetime.timedelta(days=7 * (index + 1))}
        if stage.required_fields or stage.kind == "lost":
            values["lost_reason"] = "Wybrali tańszą ofertę"
        deal = services.create_record(actor=admin, code="deal", values=values)
        add_activity(actor=admin, entity="deal", record_id=deal.pk, kind="note",
                     body="Klient prosi o przesłanie szczegółowej wyceny.")
    for title, first, last in LEADS:
        services.create_record(actor=admin, code="lead", values={
            "title": title, "first_name": first, "last_name": last, "owner": rng.choice(team).pk,
            "source": rng.choice(sources).pk if sources else None})
    for title, priority, days in TASKS:
        services.create_record(actor=admin, code="task", values={
            "title": title, "priority": priority, "owner": rng.choice(team).pk,
            "deadline": timezone.now() + datetime.timedelta(days=days)})
