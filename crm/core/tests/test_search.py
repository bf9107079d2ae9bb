"""Search: insensitive to case and Polish diacritics, phone numbers however typed, ranked, and never
showing what the permission layer hides or what is in the recycle bin."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.contacts.models import Company, Contact
from crm.core.search import SearchHit, search_everything, search_records, search_terms
from crm.deals.models import Deal, Pipeline, Stage
from crm.leads.models import Lead
from crm.tasks.models import Task
from identity.accounts.models import User
from identity.members.models import ApiKey, Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


def _member(email: str, name: str, role_code: str) -> Membership:
    member = add_member(user=User.objects.create_user(email=email, password=None, full_name=name))
    return assign(membership=member, role=Role.objects.get(code=role_code))


@pytest.fixture
def data(portal_a):
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        guest = _member("tomasz.nowak@alfa-handel.pl", "Tomasz Nowak", "guest")  # reads only their own records
        nobody = _member("ewa.mazur@alfa-handel.pl", "Ewa Mazur", "no_access")

        zur = Company.objects.create(name="Zakład Usług Różnych sp. z o.o.", nip="5213017228", city="Łódź",
                                     owner=admin, emails=[{"value": "biuro@zur.pl", "kind": "work"}])
        lukasz = Contact.objects.create(
            first_name="Łukasz", last_name="Żółkiewski", position="Prezes zarządu", company=zur, owner=admin,
            city="Łódź", emails=[{"value": "lukasz.zolkiewski@zur.pl", "kind": "work"}],
            phones=[{"value": "+48600100200", "kind": "mobile"}])
        kowal = Contact.objects.create(first_name="Anna", last_name="Kowal", city="Kraków", owner=guest,
                                       phones=[{"value": "+48226001122", "kind": "work"}])
        kowalewska = Contact.objects.create(first_name="Maria", last_name="Kowalewska-Nowakowska", city="Gdańsk",
                                            owner=admin)
        deleted = Contact.objects.create(first_name="Łucja", last_name="Żółkiewska", owner=admin,
                                         deleted_at=timezone.now())
        pipeline = Pipeline.objects.create(name="Sprzedaż")
        stage = Stage.objects.create(pipeline=pipeline, name="Negocjacje")
        deal = Deal.objects.create(title="Dostawa mebli biurowych – Żółkiewski", value=Decimal("48000.00"),
                                   currency="PLN", pipeline=pipeline, stage=stage, owner=admin)
        task = Task.objects.create(title="Zadzwonić do pana Żółkiewskiego", owner=guest)
        lead = Lead.objects.create(title="Zapytanie ofertowe", first_name="Łukasz", last_name="Źrebiec",
                                   company_name="Źródło Smaku s.c.", owner=guest)
        yield SimpleNamespace(**locals())


def _found(query: str, queryset=None) -> list[str]:
    queryset = Contact.objects.all() if queryset is None else queryset
    return [str(contact) for contact in search_records(queryset, query)]


class TestSearchRecords:
    @pytest.mark.parametrize("query", ["zolkiewski", "Żółkiewski", "ŻÓŁKIEWSKI", "ŁUKASZ zolk", "lukasz",
                                       "żółkiewski łukasz", "  Łukasz   Żółkiewski ", "prezes lodz",
                                       "lukasz.zolkiewski@zur.pl", "ZUR.PL"])
    def test_insensitive_to_case_and_diacritics(self, data, query):
        assert _found(query, Contact.objects.alive()) == ["Łukasz Żółkiewski"]

    def test_every_word_must_occur(self, data):
        assert _found("Łukasz Kowal") == []
        assert _found("anna kraków") == ["Anna Kowal"]

    @pytest.mark.parametrize("query", ["600 100 200", "+48 600-100-200", "600100200", "0048 600 100 200",
                                       "(+48) 600.100.200", "Żółkiewski 600-100-200",
                                       "Łukasz 600 100 200"])
    def test_phone_numbers_however_typed(self, data, query):
        assert _found(query) == ["Łukasz Żółkiewski"]

    def test_numbers_with_separators_match_digits(self, data):
        assert [company.name for company in search_records(Company.objects.all(), "521-301-72-28")] == [
            "Zakład Usług Różnych sp. z o.o."]
        assert [company.name for company in search_records(Company.objects.all(), "zaklad uslug roznych")] == [
            "Zakład Usług Różnych sp. z o.o."]

    def test_ranks_by_similarity(self, data):
        results = list(search_records(Contact.objects.all(), "kowal"))
        assert [contact.last_name for contact in results] == ["Kowal", "Kowalewska-Nowakowska"]
        assert results[0].search_score > results[1].search_score

    def test_blank_query_and_wildcards(self, data):
        everyone = Contact.objects.order_by("pk")
        assert list(search_records(everyone, "   ")) == list(everyone)
        assert list(search_records(everyone, "% _ ,")) == list(everyone)
        assert _found("zolk%") == []
        assert _found("k_wal") == []

    def test_search_terms(self):
        assert search_terms("+48 600-100-200") == ["48600100200"]
        assert search_terms("Jan, KOWALSKI 601-22-33") == ["jan", "kowalski", "6012233"]
        assert search_terms("Żółkiewski 600 100 200") == ["żółkiewski", "600100200"]
        assert search_terms("0048 600 100 200") == ["48600100200"]
        assert search_terms("3 Maja 12 5") == ["3", "maja", "12", "5"]
        assert search_terms("a a b") == ["a", "b"]


class TestSearchEverything:
    def test_finds_records_of_every_type_with_titles(self, data):
        hits = search_everything(data.admin, "zolkiewsk")
        found = {(hit.entity, hit.id) for hit in hits}
        assert found == {("contact", data.lukasz.pk), ("deal", data.deal.pk), ("task", data.task.pk)}
        contact = next(hit for hit in hits if hit.entity == "contact")
        assert contact == SearchHit(entity="contact", id=data.lukasz.pk, title="Łukasz Żółkiewski",
                                    subtitle="Prezes zarządu, Zakład Usług Różnych sp. z o.o.", score=contact.score)
        assert 0 < contact.score <= 1
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)

    def test_leaves_out_deleted_records(self, data):
        hits = search_everything(data.admin, "żółkiewska")
        assert hits == []
        assert data.deleted.pk in {contact.pk for contact in search_records(Contact.objects.all(), "zolkiewska")}

    def test_own_scope_sees_only_own_records(self, data):
        assert {(hit.entity, hit.id) for hit in search_everything(data.guest, "zolkiewsk")} == {
            ("task", data.task.pk)}
        assert {hit.entity for hit in search_everything(data.guest, "łukasz")} == {"lead"}
        assert {(hit.entity, hit.id) for hit in search_everything(data.guest, "kowal")} == {
            ("contact", data.kowal.pk)}

    def test_no_rights_no_results(self, data):
        assert search_everything(data.nobody, "zolkiewski") == []
        assert search_everything(None, "zolkiewski") == []
        data.nobody.is_active = False
        assert search_everything(data.nobody, "zolkiewski") == []

    def test_an_api_key_owns_nothing(self, data):
        key = ApiKey.objects.create(name="Integracja ERP", prefix="testsearch01", token_hash="0" * 64,
                                    role=Role.objects.get(code="guest"))
        assert search_everything(key, "zolkiewski") == []
        key.role = Role.objects.get(code="administrator")
        assert {hit.entity for hit in search_everything(key, "zolkiewski")} == {"contact", "deal", "task"}

    def test_short_queries_codes_and_limits(self, data):
        assert search_everything(data.admin, "ż") == []
        assert search_everything(data.admin, " a ") == []
        assert search_everything(data.admin, "%%") == []
        assert {hit.entity for hit in search_everything(data.admin, "zolkiewsk", codes=["contact", "company"])} == {
            "contact"}
        assert {hit.entity for hit in search_everything(data.admin, "zur.pl")} == {"contact", "company"}
        assert len(search_everything(data.admin, "kow", codes=["contact"], limit_per_type=1)) == 1
        assert search_everything(data.admin, "600 100 200")[0].id == data.lukasz.pk
