"""The filter language: every operator, groups, custom fields of each type, sort orders and errors."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.contacts.models import Company, CompanyType, Contact
from crm.core.filters import FilterError, compile_filter, compile_ordering, filterable_fields
from crm.core.models import CustomField, FieldType
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from crm.dictionaries.models import Choice, ChoiceKind
from crm.leads.models import Lead, LeadStatus
from crm.tasks.models import Priority, Task, TaskStatus
from identity.accounts.models import User
from identity.members.models import Membership
from identity.members.services import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in English; the portals' default language is Polish."""
    from django.utils import translation

    with translation.override("en"):
        yield

def _custom(entity: str, code: str, field_type: str, label: str, **extra) -> CustomField:
    return CustomField.objects.create(entity=entity, code=code, field_type=field_type, label=label, **extra)


@pytest.fixture
def crm(portal_a):
    """Polish companies, contacts, leads, deals and tasks in portal A, with custom fields of every type."""
    with tenant_context(portal_a.tenant):
        me = Membership.objects.get(user=portal_a.owner)
        colleague = add_member(user=User.objects.create_user(
            email="piotr.wisniewski@alfa-handel.pl", password=None, full_name="Piotr Wiśniewski"))
        today = timezone.localdate()
        referral = Choice.objects.create(kind=ChoiceKind.SOURCE, name="Polecenie")
        fair = Choice.objects.create(kind=ChoiceKind.SOURCE, name="Targi Poznańskie")

        for code, field_type, label, extra in [
            ("budget", FieldType.MONEY, "Budżet", {}),
            ("headcount", FieldType.NUMBER, "Liczba etatów", {}),
            ("founded", FieldType.DATE, "Data założenia", {}),
            ("last_audit", FieldType.DATETIME, "Ostatni audyt", {}),
            ("segment", FieldType.SELECT, "Segment", {"options": ["MŚP", "Korporacja", "Mikro"]}),
            ("regions", FieldType.MULTISELECT, "Województwa",
             {"options": ["mazowieckie", "łódzkie", "małopolskie", "pomorskie"]}),
            ("active_client", FieldType.BOOLEAN, "Aktywny klient", {}),
            ("account_manager", FieldType.USER, "Opiekun klienta", {}),
            ("site", FieldType.URL, "Strona kariery", {}),
            ("notes", FieldType.TEXT, "Uwagi", {}),
            ("hotline", FieldType.PHONE, "Infolinia", {}),
            ("invoice_email", FieldType.EMAIL, "E-mail do faktur", {}),
        ]:
            _custom("company", code, field_type, label, **extra)

        zur = Company.objects.create(
            name="Zakład Usług Różnych sp. z o.o.", nip="5213017228", city="Łódź", company_type=CompanyType.SP_ZOO,
            employees=25, tags=["vip", "hurt"], owner=me, source=referral,
            emails=[{"value": "biuro@zur.pl", "kind": "work"}],
            phones=[{"value": "+48426301500", "kind": "work"}],
            custom={"budget": "125000.00", "headcount": 25, "founded": "2004-03-15",
                    "last_audit": "2026-01-20T09:30:00+01:00", "segment": "MŚP",
                    "regions": ["mazowieckie", "łódzkie"], "active_client": True, "account_manager": me.pk,
                    "site": "https://zur.pl/kariera", "notes": "Płaci w terminie", "hotline": "+48223004000",
                    "invoice_email": "faktury@zur.pl"})
        zuraw = Company.objects.create(
            name="Przedsiębiorstwo Handlowe Żuraw S.A.", city="Kraków", company_type=CompanyType.SA, employees=240,
            tags=["hurt"], owner=colleague, source=fair,
            emails=[{"value": "sekretariat@zuraw.com.pl", "kind": "work"},
                    {"value": "zakupy@zuraw.com.pl", "kind": "other"}],
            custom={"budget": "9800.50", "headcount": 240.5, "founded": "1991-11-02",
                    "last_audit": "2025-07-01T00:30:00+02:00", "segment": "Korporacja", "regions": ["małopolskie"],
                    "active_client": False, "account_manager": colleague.pk, "notes": "Wymaga przedpłaty"})
        kowalczyk = Company.objects.create(name="Kowalczyk Jan – Usługi Remontowe", city="Gdańsk",
                                           company_type=CompanyType.JDG, custom={"segment": "Mikro"})

        lukasz = Contact.objects.create(
            first_name="Łukasz", last_name="Żółkiewski", position="Prezes zarządu", company=zur, owner=me,
            city="Łódź", birthday=datetime.date(1985, 6, 14), tags=["decydent"],
            emails=[{"value": "lukasz.zolkiewski@zur.pl", "kind": "work"}],
            phones=[{"value": "+48600100200", "kind": "mobile"}])
        anna = Contact.objects.create(
            first_name="Anna", last_name="Kowalska", position="Główna księgowa", company=zuraw, owner=colleague,
            city="Kraków", birthday=today, emails=[{"value": "anna.kowalska@zuraw.com.pl", "kind": "work"}],
            phones=[{"value": "+48501234567", "kind": "work"}, {"value": "+48226001122", "kind": "home"}])
        jan = Contact.objects.create(first_name="Jan", last_name="Kowalski", city="Gdańsk")

        pipeline = Pipeline.objects.create(name="Sprzedaż B2B")
        offer = Stage.objects.create(pipeline=pipeline, name="Oferta", position=1, probability=40)
        won = Stage.objects.create(pipeline=pipeline, name="Wygrana", position=2, probability=100,
                                   kind=StageKind.WON)
        fleet = Deal.objects.create(title="Flota 12 aut dostawczych", value=Decimal("480000.00"), currency="PLN",
                                    pipeline=pipeline, stage=offer, company=zuraw, owner=colleague,
                                    expected_close_date=today + datetime.timedelta(days=10), probability=40)
        service = Deal.objects.create(title="Serwis klimatyzacji 2026", value=Decimal("12500.00"), currency="PLN",
                                      pipeline=pipeline, stage=won, company=zur, owner=me,
                                      expected_close_date=today, probability=100)
        sample = Deal.objects.create(title="Próbka", value=Decimal("0"), currency="PLN", pipeline=pipeline,
                                     stage=offer, probability=0)
        service.contacts.set([lukasz])
        fleet.contacts.set([anna, jan])

        now = timezone.now()
        call = Task.objects.create(title="Zadzwonić do pana Łukasza", owner=me, priority=Priority.URGENT,
                                   deadline=now - datetime.timedelta(days=1))
        offer_task = Task.objects.create(title="Wysłać ofertę", owner=colleague, status=TaskStatus.IN_PROGRESS,
                                         deadline=now + datetime.timedelta(days=2))
        someday = Task.objects.create(title="Uporządkować archiwum", status=TaskStatus.COMPLETED)
        offer_task.participants.set([me, colleague])
        call.participants.set([colleague])

        lead = Lead.objects.create(title="Zapytanie z formularza", first_name="Zofia", last_name="Nowak",
                                   value=Decimal("15000"), currency="PLN", status=LeadStatus.IN_PROGRESS)
        yield SimpleNamespace(**locals())


def _ids(model, code, tree, **kwargs) -> set[int]:
    return set(model.objects.filter(compile_filter(code, tree, **kwargs)).values_list("pk", flat=True))


def _companies(tree, **kwargs) -> set[str]:
    return set(Company.objects.filter(compile_filter("company", tree, **kwargs)).values_list("name", flat=True))


def _contacts(tree, **kwargs) -> set[str]:
    return set(Contact.objects.filter(compile_filter("contact", tree, **kwargs)).values_list("last_name", flat=True))


def _leaf(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


ZUR, ZURAW, KOWALCZYK = ("Zakład Usług Różnych sp. z o.o.", "Przedsiębiorstwo Handlowe Żuraw S.A.",
                         "Kowalczyk Jan – Usługi Remontowe")


def test_text_operators(crm):
    assert _contacts(_leaf("last_name", "eq", "kowalska")) == {"Kowalska"}  # case-insensitive
    assert _contacts(_leaf("last_name", "ne", "Kowalska")) == {"Żółkiewski", "Kowalski"}
    assert _contacts(_leaf("last_name", "contains", "Kow")) == {"Kowalska", "Kowalski"}
    assert _contacts(_leaf("last_name", "contains", "zolk")) == {"Żółkiewski"}  # diacritics do not matter
    assert _contacts(_leaf("city", "contains", "LODZ")) == {"Żółkiewski"}
    assert _contacts(_leaf("last_name", "not_contains", "kow")) == {"Żółkiewski"}
    assert _contacts(_leaf("last_name", "starts_with", "Żół")) == {"Żółkiewski"}
    assert _contacts(_leaf("last_name", "starts_with", "ółk")) == set()
    assert _contacts(_leaf("city", "in", ["kraków", "Gdańsk"])) == {"Kowalska", "Kowalski"}
    assert _contacts(_leaf("city", "not_in", ["Kraków", "Gdańsk"])) == {"Żółkiewski"}
    assert _contacts(_leaf("position", "is_empty")) == {"Kowalski"}
    assert _contacts(_leaf("position", "is_not_empty")) == {"Żółkiewski", "Kowalska"}
    # LIKE wildcards in the value are plain characters.
    assert _contacts(_leaf("last_name", "contains", "%")) == set()
    assert _contacts(_leaf("last_name", "contains", "_")) == set()


def test_number_operators(crm):
    deals = {crm.fleet.pk: "fleet", crm.service.pk: "service", crm.sample.pk: "sample"}

    def names(tree):
        return {deals[pk] for pk in _ids(Deal, "deal", tree)}

    assert names(_leaf("value", "eq", 12500)) == {"service"}
    assert names(_leaf("value", "eq", "12500.00")) == {"service"}
    assert names(_leaf("value", "ne", "12500")) == {"fleet", "sample"}
    assert names(_leaf("value", "gt", 12500)) == {"fleet"}
    assert names(_leaf("value", "gte", 12500)) == {"fleet", "service"}
    assert names(_leaf("value", "lt", 12500)) == {"sample"}
    assert names(_leaf("value", "lte", 12500.0)) == {"sample", "service"}
    assert names(_leaf("value", "between", [1000, "500000"])) == {"fleet", "service"}
    assert names(_leaf("probability", "in", [0, 100])) == {"sample", "service"}
    assert names(_leaf("probability", "not_in", [0, 100])) == {"fleet"}
    assert _companies(_leaf("employees", "is_empty")) == {KOWALCZYK}
    assert _companies(_leaf("employees", "is_not_empty")) == {ZUR, ZURAW}
    assert _companies(_leaf("employees", "ne", 25)) == {ZURAW, KOWALCZYK}  # no value counts as "not 25"


def test_date_operators_and_relative_dates(crm):
    today = crm.today
    close = {crm.fleet.pk: "fleet", crm.service.pk: "service", crm.sample.pk: "sample"}

    def names(tree):
        return {close[pk] for pk in _ids(Deal, "deal", tree)}

    iso = today.isoformat()
    assert names(_leaf("expected_close_date", "eq", iso)) == {"service"}
    assert names(_leaf("expected_close_date", "ne", iso)) == {"fleet", "sample"}
    assert names(_leaf("expected_close_date", "gt", iso)) == {"fleet"}
    assert names(_leaf("expected_close_date", "gte", iso)) == {"fleet", "service"}
    assert names(_leaf("expected_close_date", "lt", iso)) == set()
    assert names(_leaf("expected_close_date", "lte", iso)) == {"service"}
    in_ten = (today + datetime.timedelta(days=10)).isoformat()
    assert names(_leaf("expected_close_date", "between", [iso, in_ten])) == {"fleet", "service"}
    assert names(_leaf("expected_close_date", "is_empty")) == {"sample"}
    assert names(_leaf("expected_close_date", "eq", {"relative": "today"})) == {"service"}
    assert names(_leaf("expected_close_date", "eq", {"relative": "next_30_days"})) == {"fleet", "service"}
    assert names(_leaf("expected_close_date", "gt", {"relative": "today"})) == {"fleet"}
    assert names(_leaf("expected_close_date", "between",
                       [{"relative": "today"}, {"relative": "next_7_days"}])) == {"service"}
    assert _contacts(_leaf("birthday", "eq", {"relative": "this_month"})) == {"Kowalska"}
    assert _contacts(_leaf("birthday", "lt", "1990-01-01")) == {"Żółkiewski"}


def test_datetime_fields_compare_whole_days_in_the_portal_time_zone(crm):
    tasks = {crm.call.pk: "call", crm.offer_task.pk: "offer", crm.someday.pk: "someday"}

    def names(tree):
        return {tasks[pk] for pk in _ids(Task, "task", tree)}

    yesterday = (crm.today - datetime.timedelta(days=1)).isoformat()
    assert names(_leaf("deadline", "eq", yesterday)) == {"call"}
    assert names(_leaf("deadline", "eq", {"relative": "yesterday"})) == {"call"}
    assert names(_leaf("deadline", "eq", {"relative": "overdue"})) == {"call"}
    assert names(_leaf("deadline", "gt", {"relative": "today"})) == {"offer"}
    assert names(_leaf("deadline", "lte", {"relative": "today"})) == {"call"}
    assert names(_leaf("deadline", "eq", {"relative": "last_30_days"})) == {"call"}
    assert names(_leaf("deadline", "is_empty")) == {"someday"}
    assert names(_leaf("created_at", "eq", {"relative": "today"})) == {"call", "offer", "someday"}
    moment = crm.call.deadline.isoformat()
    assert names(_leaf("deadline", "eq", moment)) == {"call"}
    assert names(_leaf("deadline", "gt", moment)) == {"offer"}


def test_choices_booleans_and_relations(crm, portal_a):
    assert _companies(_leaf("company_type", "eq", CompanyType.SA)) == {ZURAW}
    assert _companies(_leaf("company_type", "in", ["sa", "jdg"])) == {ZURAW, KOWALCZYK}
    assert _companies(_leaf("company_type", "not_in", ["sa", "jdg"])) == {ZUR}
    assert _companies(_leaf("company_type", "ne", "sa")) == {ZUR, KOWALCZYK}
    assert _ids(Lead, "lead", _leaf("status", "eq", "in_progress")) == {crm.lead.pk}
    assert _ids(Lead, "lead", _leaf("is_repeat", "eq", False)) == {crm.lead.pk}
    assert _ids(Lead, "lead", _leaf("is_repeat", "ne", False)) == set()

    assert _companies(_leaf("source", "eq", crm.referral.pk)) == {ZUR}
    assert _companies(_leaf("source", "in", [crm.referral.pk, str(crm.fair.pk)])) == {ZUR, ZURAW}
    assert _companies(_leaf("source", "ne", crm.referral.pk)) == {ZURAW, KOWALCZYK}
    assert _companies(_leaf("source", "is_empty")) == {KOWALCZYK}
    assert _contacts(_leaf("company", "eq", crm.zur.pk)) == {"Żółkiewski"}
    assert _contacts(_leaf("company", "not_in", [crm.zur.pk])) == {"Kowalska", "Kowalski"}
    assert _ids(Deal, "deal", _leaf("stage", "eq", crm.won.pk)) == {crm.service.pk}
    assert _ids(Deal, "deal", _leaf("pipeline", "eq", crm.pipeline.pk)) == {crm.fleet.pk, crm.service.pk,
                                                                            crm.sample.pk}
    # "me" is the acting member.
    assert _contacts(_leaf("owner", "eq", "me"), actor=crm.me) == {"Żółkiewski"}
    assert _contacts(_leaf("owner", "in", ["me", crm.colleague.pk]), actor=crm.me) == {"Żółkiewski", "Kowalska"}
    assert _contacts(_leaf("owner", "eq", "me"), actor=crm.colleague) == {"Kowalska"}
    assert _contacts(_leaf("owner", "is_empty")) == {"Kowalski"}


def test_many_to_many(crm):
    tasks = {crm.call.pk: "call", crm.offer_task.pk: "offer", crm.someday.pk: "someday"}

    def names(tree, **kwargs):
        return {tasks[pk] for pk in _ids(Task, "task", tree, **kwargs)}

    assert names(_leaf("participants", "has", "me"), actor=crm.me) == {"offer"}
    assert names(_leaf("participants", "has_any", [crm.me.pk, crm.colleague.pk])) == {"offer", "call"}
    assert names(_leaf("participants", "has_all", [crm.me.pk, crm.colleague.pk])) == {"offer"}
    assert names(_leaf("participants", "is_empty")) == {"someday"}
    assert names(_leaf("participants", "is_not_empty")) == {"offer", "call"}
    assert _ids(Deal, "deal", _leaf("contacts", "has", crm.jan.pk)) == {crm.fleet.pk}
    # A record matched through several related rows is listed once.
    assert Deal.objects.filter(compile_filter("deal", _leaf("contacts", "has_any", [crm.anna.pk, crm.jan.pk]))
                               ).count() == 1


def test_tags(crm):
    assert _companies(_leaf("tags", "has", "hurt")) == {ZUR, ZURAW}
    assert _companies(_leaf("tags", "has_any", ["vip", "nowy"])) == {ZUR}
    assert _companies(_leaf("tags", "has_all", ["vip", "hurt"])) == {ZUR}
    assert _companies(_leaf("tags", "has_all", ["vip", "nowy"])) == set()
    assert _companies(_leaf("tags", "is_empty")) == {KOWALCZYK}
    assert _companies(_leaf("tags", "is_not_empty")) == {ZUR, ZURAW}


def test_emails_and_phones_match_any_item(crm):
    assert _contacts(_leaf("emails", "contains", "ZOLKIEWSKI@")) == {"Żółkiewski"}
    assert _contacts(_leaf("emails", "eq", "Anna.Kowalska@zuraw.com.pl")) == {"Kowalska"}
    assert _contacts(_leaf("emails", "not_contains", "zur")) == {"Kowalski"}
    assert _contacts(_leaf("emails", "is_empty")) == {"Kowalski"}
    assert _companies(_leaf("emails", "contains", "zakupy")) == {ZURAW}  # the second address counts too
    assert _contacts(_leaf("phones", "contains", "600 100 200")) == {"Żółkiewski"}
    assert _contacts(_leaf("phones", "contains", "+48 22 600-11-22")) == {"Kowalska"}  # the second number
    assert _contacts(_leaf("phones", "eq", "600-100-200")) == {"Żółkiewski"}
    assert _contacts(_leaf("phones", "eq", "+48 600 100 200")) == {"Żółkiewski"}
    assert _contacts(_leaf("phones", "is_not_empty")) == {"Żółkiewski", "Kowalska"}


def test_and_or_not_nesting(crm):
    tree = {"or": [
        {"and": [_leaf("city", "eq", "Kraków"), _leaf("employees", "gt", 100)]},
        {"and": [_leaf("tags", "has", "vip"), {"not": _leaf("company_type", "eq", "sa")}]},
    ]}
    assert _companies(tree) == {ZURAW, ZUR}
    assert _companies({"and": [tree, _leaf("name", "contains", "zakład")]}) == {ZUR}
    assert _companies({"and": []}) == {ZUR, ZURAW, KOWALCZYK}  # an empty group is no condition
    assert _companies({"not": {"or": []}}) == {ZUR, ZURAW, KOWALCZYK}
    assert _companies(None) == _companies({}) == {ZUR, ZURAW, KOWALCZYK}
    assert _companies(_leaf("city", "eq", "Gdańsk")) == {KOWALCZYK}  # a single condition needs no group


class TestCustomFields:
    def test_money_and_number_compare_numerically(self, crm):
        # As text "9800.50" > "125000.00"; as numbers it is the other way round.
        assert _companies(_leaf("custom.budget", "gt", 10000)) == {ZUR}
        assert _companies(_leaf("custom.budget", "lt", "10000")) == {ZURAW}
        assert _companies(_leaf("custom.budget", "eq", 9800.5)) == {ZURAW}
        assert _companies(_leaf("custom.budget", "between", [9000, 200000])) == {ZUR, ZURAW}
        assert _companies(_leaf("custom.budget", "ne", 9800.5)) == {ZUR, KOWALCZYK}
        assert _companies(_leaf("custom.budget", "is_empty")) == {KOWALCZYK}
        assert _companies(_leaf("custom.headcount", "gte", 240.5)) == {ZURAW}
        assert _companies(_leaf("custom.headcount", "in", [25, 1])) == {ZUR}
        assert _companies(_leaf("custom.headcount", "lte", 25)) == {ZUR}

    def test_dates_and_datetimes_compare_as_dates(self, crm):
        assert _companies(_leaf("custom.founded", "lt", "2000-01-01")) == {ZURAW}
        assert _companies(_leaf("custom.founded", "eq", "2004-03-15")) == {ZUR}
        assert _companies(_leaf("custom.founded", "between", ["1990-01-01", "2010-12-31"])) == {ZUR, ZURAW}
        assert _companies(_leaf("custom.founded", "is_empty")) == {KOWALCZYK}
        assert _companies(_leaf("custom.last_audit", "eq", "2026-01-20")) == {ZUR}
        # 00:30 on 1 July in Warsaw is still 30 June in UTC: days are the portal's.
        assert _companies(_leaf("custom.last_audit", "eq", "2025-07-01")) == {ZURAW}
        assert _companies(_leaf("custom.last_audit", "eq", "2025-06-30")) == set()
        assert _companies(_leaf("custom.last_audit", "gte", "2025-07-02")) == {ZUR}
        assert _companies(_leaf("custom.last_audit", "lt", "2026-01-20T09:30:00+01:00")) == {ZURAW}

    def test_select_multiselect_boolean_and_user(self, crm):
        assert _companies(_leaf("custom.segment", "eq", "MŚP")) == {ZUR}
        assert _companies(_leaf("custom.segment", "in", ["MŚP", "Mikro"])) == {ZUR, KOWALCZYK}
        assert _companies(_leaf("custom.segment", "ne", "MŚP")) == {ZURAW, KOWALCZYK}
        assert _companies(_leaf("custom.segment", "not_in", ["MŚP", "Mikro"])) == {ZURAW}
        assert _companies(_leaf("custom.regions", "has", "łódzkie")) == {ZUR}
        assert _companies(_leaf("custom.regions", "has_any", ["łódzkie", "małopolskie"])) == {ZUR, ZURAW}
        assert _companies(_leaf("custom.regions", "has_all", ["mazowieckie", "łódzkie"])) == {ZUR}
        assert _companies(_leaf("custom.regions", "is_empty")) == {KOWALCZYK}
        assert _companies(_leaf("custom.active_client", "eq", True)) == {ZUR}
        assert _companies(_leaf("custom.active_client", "eq", False)) == {ZURAW, KOWALCZYK}  # unset counts as no
        assert _companies(_leaf("custom.active_client", "ne", True)) == {ZURAW, KOWALCZYK}
        assert _companies(_leaf("custom.active_client", "is_empty")) == {KOWALCZYK}
        assert _companies(_leaf("custom.account_manager", "eq", "me"), actor=crm.me) == {ZUR}
        assert _companies(_leaf("custom.account_manager", "in", [crm.colleague.pk])) == {ZURAW}
        assert _companies(_leaf("custom.account_manager", "ne", crm.me.pk)) == {ZURAW, KOWALCZYK}

    def test_text_url_email_and_phone(self, crm):
        assert _companies(_leaf("custom.notes", "contains", "placi")) == {ZUR}
        assert _companies(_leaf("custom.notes", "eq", "wymaga PRZEDPŁATY")) == {ZURAW}
        assert _companies(_leaf("custom.notes", "not_contains", "terminie")) == {ZURAW, KOWALCZYK}
        assert _companies(_leaf("custom.notes", "starts_with", "wym")) == {ZURAW}
        assert _companies(_leaf("custom.notes", "is_not_empty")) == {ZUR, ZURAW}
        assert _companies(_leaf("custom.site", "contains", "zur.pl")) == {ZUR}
        assert _companies(_leaf("custom.invoice_email", "in", ["FAKTURY@zur.pl"])) == {ZUR}
        assert _companies(_leaf("custom.hotline", "eq", "22 300 40 00")) == {ZUR}
        assert _companies(_leaf("custom.hotline", "contains", "300-40")) == {ZUR}
        assert _companies(_leaf("custom.hotline", "not_contains", "300-40")) == {ZURAW, KOWALCZYK}

    def test_a_stored_value_that_is_not_a_number_does_not_break_the_list(self, crm):
        Company.objects.filter(pk=crm.kowalczyk.pk).update(custom={"budget": "dużo", "founded": "wczoraj"})
        assert _companies(_leaf("custom.budget", "gt", 0)) == {ZUR, ZURAW}
        assert _companies(_leaf("custom.founded", "gt", "1900-01-01")) == {ZUR, ZURAW}


@pytest.mark.parametrize(("tree", "field", "reason"), [
    (_leaf("nazwisko", "eq", "x"), "nazwisko", "no such field"),
    (_leaf("custom.unknown", "eq", "x"), "custom.unknown", "no such field"),
    (_leaf("deleted_at", "is_empty"), "deleted_at", "no such field"),
    (_leaf("search_text", "contains", "x"), "search_text", "no such field"),
    (_leaf("name", "gt", "x"), "name", "cannot be used here"),
    (_leaf("tags", "contains", "x"), "tags", "cannot be used here"),
    (_leaf("name", "eq", ["x"]), "name", "give text"),
    (_leaf("employees", "gt", "dwadzieścia"), "employees", "give a number"),
    (_leaf("employees", "gt", True), "employees", "give a number"),
    (_leaf("employees", "between", [1]), "employees", "two values"),
    (_leaf("employees", "in", []), "employees", "non-empty list"),
    (_leaf("employees", "in", 5), "employees", "non-empty list"),
    (_leaf("company_type", "eq", "gmbh"), "company_type", "not one of the options"),
    (_leaf("source", "eq", "Polecenie"), "source", "id of a record"),
    (_leaf("owner", "eq", "me"), "owner", "signed-in person"),
    (_leaf("owner", "eq", "someone"), "owner", "id of a person"),
    (_leaf("custom.founded", "eq", "15.03.2004"), "custom.founded", "YYYY-MM-DD"),
    (_leaf("custom.founded", "eq", {"relative": "someday"}), "custom.founded", "unknown relative date"),
    (_leaf("custom.founded", "gte", {"relative": "overdue"}), "custom.founded", "cannot be used with"),
    (_leaf("custom.segment", "eq", "Duże"), "custom.segment", "not one of the options"),
    (_leaf("custom.regions", "has", "śląskie"), "custom.regions", "not one of the options"),
    (_leaf("custom.active_client", "eq", "tak"), "custom.active_client", "true or false"),
    (_leaf("custom.hotline", "eq", "123"), "custom.hotline", "not a valid phone number"),
    (_leaf("phones", "contains", "abc"), "phones", "digits"),
    (_leaf("employees", "eq"), "employees", "needs a value"),
    ({"field": "employees", "op": "eq", "value": 1, "extra": 2}, "employees", "unknown keys"),
])
def test_errors_name_the_field_and_the_reason(crm, tree, field, reason):
    with pytest.raises(FilterError) as caught:
        compile_filter("company", {"and": [_leaf("city", "eq", "Łódź"), tree]})
    assert isinstance(caught.value, ValidationError)
    assert caught.value.field == field
    message = caught.value.messages[0]
    assert f"“{field}”" in message and reason in message


@pytest.mark.parametrize("tree", [
    [_leaf("city", "eq", "Łódź")],
    {"and": _leaf("city", "eq", "Łódź")},
    {"and": [], "or": []},
    {"and": ["city"]},
    {"op": "eq", "value": "x"},
])
def test_malformed_trees_are_refused(crm, tree):
    with pytest.raises(FilterError):
        compile_filter("company", tree)


def test_depth_and_size_are_limited(crm):
    deep = _leaf("city", "eq", "Łódź")
    for _level in range(12):
        deep = {"and": [deep]}
    with pytest.raises(FilterError, match="nested"):
        compile_filter("company", deep)
    with pytest.raises(FilterError, match="at most"):
        compile_filter("company", {"or": [_leaf("city", "eq", str(n)) for n in range(150)]})


class TestOrdering:
    def test_appends_id_as_tie_breaker(self, crm):
        assert compile_ordering("contact", ["-last_name"]) == ["-last_name", "-id"]
        assert compile_ordering("contact", ["last_name", "-first_name"]) == ["last_name", "-first_name", "-id"]
        assert compile_ordering("contact", ["city", "id", "last_name"]) == ["city", "id"]
        assert compile_ordering("contact", []) == ["last_name", "first_name", "id"]  # the type's default

    def test_sorts_custom_fields_by_their_type(self, crm):
        def names(ordering):
            return list(Company.objects.order_by(*compile_ordering("company", ordering)).values_list("name", flat=True))

        assert names(["custom.budget"]) == [ZURAW, ZUR, KOWALCZYK]  # numerically; empty last
        assert names(["-custom.budget"]) == [ZUR, ZURAW, KOWALCZYK]
        assert names(["custom.founded"]) == [ZURAW, ZUR, KOWALCZYK]
        assert names(["-custom.last_audit"]) == [ZUR, ZURAW, KOWALCZYK]
        assert names(["custom.segment", "name"]) == [ZURAW, KOWALCZYK, ZUR]

    def test_sorts_people_by_name(self, crm):
        contacts = Contact.objects.filter(owner__isnull=False).order_by(*compile_ordering("contact", ["owner"]))
        assert [contact.last_name for contact in contacts] == ["Żółkiewski", "Kowalska"]

    @pytest.mark.parametrize(("ordering", "field", "reason"), [
        (["nazwisko"], "nazwisko", "no such field"),
        (["-custom.nope"], "custom.nope", "no such field"),
        (["tags"], "tags", "cannot be used for sorting"),
        (["emails"], "emails", "cannot be used for sorting"),
    ])
    def test_errors(self, crm, ordering, field, reason):
        with pytest.raises(FilterError) as caught:
            compile_ordering("company", ordering)
        assert caught.value.field == field
        assert f"“{field}”" in caught.value.messages[0] and reason in caught.value.messages[0]

    def test_malformed(self, crm):
        with pytest.raises(FilterError):
            compile_ordering("company", "name")
        with pytest.raises(FilterError):
            compile_ordering("company", ["-"])


def test_filterable_fields_describe_columns_and_custom_fields(crm):
    fields = {field.name: field for field in filterable_fields("company")}
    assert {"name", "nip", "city", "owner", "source", "industry", "tags", "emails", "phones", "employees",
            "created_at", "custom.budget", "custom.regions"} <= set(fields)
    assert not {"deleted_at", "deleted_by", "search_text", "custom"} & set(fields)
    assert fields["name"].type == "text" and "contains" in fields["name"].operators
    assert fields["company_type"].type == "choice"
    assert ("sp_zoo", CompanyType.SP_ZOO.label) in fields["company_type"].choices
    assert fields["owner"].relation == "members.Membership"
    assert fields["tags"].operators == ("has", "has_any", "has_all", "is_empty", "is_not_empty")
    assert not fields["tags"].sortable
    assert fields["custom.budget"].type == "number" and fields["custom.budget"].custom_type == "money"
    assert fields["custom.budget"].label == "Budżet"
    assert fields["custom.segment"].choices == (("MŚP", "MŚP"), ("Korporacja", "Korporacja"), ("Mikro", "Mikro"))
    assert fields["custom.active_client"].operators == ("eq", "ne", "is_empty", "is_not_empty")
    assert fields["custom.regions"].as_dict()["operators"] == ["has", "has_any", "has_all", "is_empty",
                                                               "is_not_empty"]
    CustomField.objects.filter(code="notes").update(is_active=False)
    assert "custom.notes" not in {field.name for field in filterable_fields("company")}
    task_fields = {field.name: field for field in filterable_fields("task")}
    assert task_fields["participants"].type == "relations" and task_fields["deadline"].type == "datetime"
