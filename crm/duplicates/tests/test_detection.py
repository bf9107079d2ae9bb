"""Detection of possible duplicates by e-mail, phone, NIP and a similar name, with Polish data."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.duplicates.selectors import PossibleDuplicates, check_duplicates, possible_duplicates
from crm.duplicates.tests.helpers import admin_of, create, member_client

pytestmark = pytest.mark.django_db


def reasons(portal, code: str, values: dict, **kwargs) -> dict[int, list[str]]:
    with tenant_context(portal.tenant):
        return {match.id: match.reasons for match in possible_duplicates(code, values, **kwargs)}


def test_a_contact_is_found_by_a_name_typed_without_polish_letters(portal_a):
    lukasz = create(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewski"})
    create(portal_a, "contact", {"first_name": "Małgorzata", "last_name": "Brzęczyszczykiewicz"})
    assert reasons(portal_a, "contact", {"first_name": "Lukasz", "last_name": "Zolkiewski"}) == {lukasz.pk: ["name"]}
    # One letter off still counts as similar; a different person does not.
    assert lukasz.pk in reasons(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewsky"})
    # Without the typo search (big tables), every word must occur.
    assert reasons(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewsky"}, fuzzy=False) == {}
    assert reasons(portal_a, "contact", {"first_name": "lukasz", "last_name": "ZOLKIEWSKI"}, fuzzy=False) == {
        lukasz.pk: ["name"]}
    assert reasons(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Kowalczyk"}) == {}


def test_a_contact_is_found_by_e_mail_whatever_the_case_and_not_by_a_longer_address(portal_a):
    anna = create(portal_a, "contact", {"first_name": "Anna", "last_name": "Wiśniewska",
                                        "emails": ["anna.wisniewska@przyklad.pl"]})
    found = reasons(portal_a, "contact", {"first_name": "A.", "emails": "  Anna.Wisniewska@Przyklad.PL\n"})
    assert found == {anna.pk: ["email"]}
    assert reasons(portal_a, "contact", {"emails": ["wisniewska@przyklad.pl"]}) == {}


def test_a_phone_typed_differently_is_the_same_number(portal_a):
    jan = create(portal_a, "contact", {"first_name": "Jan", "last_name": "Kowalski", "phones": ["+48 601 202 303"]})
    for typed in ("601-202-303", "0048 601 202 303", "(+48) 601202303"):
        assert reasons(portal_a, "contact", {"phones": [typed]}) == {jan.pk: ["phone"]}, typed
    assert reasons(portal_a, "contact", {"phones": ["601 202 304"]}) == {}


def test_a_company_is_found_by_nip_with_dashes_and_by_a_similar_name(portal_a):
    company = create(portal_a, "company", {"name": "Zakład Usług Różnych sp. z o.o.", "nip": "5260001246"})
    assert reasons(portal_a, "company", {"name": "Inna firma", "nip": "526-000-12-46"}) == {company.pk: ["nip"]}
    assert reasons(portal_a, "company", {"name": "Zaklad Uslug Roznych sp. z o.o."}) == {company.pk: ["name"]}
    both = reasons(portal_a, "company", {"name": "Zakład Usług Różnych", "nip": "PL 526 000 12 46"})
    assert set(both[company.pk]) == {"nip", "name"}


def test_leads_and_deals_are_checked_too(portal_a):
    lead = create(portal_a, "lead", {"title": "Zapytanie ze strony", "first_name": "Grzegorz",
                                     "last_name": "Brzęczek", "emails": ["g.brzeczek@example.pl"]})
    found = reasons(portal_a, "lead", {"first_name": "Grzegorz", "last_name": "Brzeczek",
                                       "emails": ["G.Brzeczek@example.pl"]})
    assert set(found[lead.pk]) == {"email", "name"}
    company = create(portal_a, "company", {"name": "Piekarnia Żytnia"})
    deal = create(portal_a, "deal", {"title": "Dostawa mąki — kontrakt kwartalny", "company": company.pk})
    assert reasons(portal_a, "deal", {"title": "Dostawa maki - kontrakt kwartalny", "company": company.pk}) == {
        deal.pk: ["title"]}
    # The same title for another customer is another deal.
    other = create(portal_a, "company", {"name": "Cukiernia Słodka"})
    assert reasons(portal_a, "deal", {"title": "Dostawa mąki — kontrakt kwartalny", "company": other.pk}) == {}


def test_the_record_itself_deleted_ones_and_unreadable_ones_are_not_duplicates(portal_a):
    _client, guest = member_client(portal_a, "gosc.duplikaty@alfa-handel.pl", "guest")
    zofia = create(portal_a, "contact", {"first_name": "Zofia", "last_name": "Kaczmarczyk",
                                         "emails": ["zofia@kaczmarczyk.pl"]})
    values = {"first_name": "Zofia", "last_name": "Kaczmarczyk", "emails": ["zofia@kaczmarczyk.pl"]}
    assert reasons(portal_a, "contact", values, exclude_pk=zofia.pk) == {}
    # A guest reads only their own records: the warning does not reveal the administrator's.
    with tenant_context(portal_a.tenant):
        guest = type(guest).objects.get(pk=guest.pk)
    assert reasons(portal_a, "contact", values, principal=guest) == {}
    from crm.core import services
    with tenant_context(portal_a.tenant):
        services.delete_record(actor=admin_of(portal_a), record=zofia)
    assert reasons(portal_a, "contact", values) == {}


def test_check_duplicates_raises_a_validation_error_with_the_matches_unless_forced(portal_a):
    kasia = create(portal_a, "contact", {"first_name": "Katarzyna", "last_name": "Dąbrowska",
                                         "phones": ["+48 502 111 222"]})
    with tenant_context(portal_a.tenant):
        with pytest.raises(PossibleDuplicates) as raised:
            check_duplicates("contact", {"first_name": "Katarzyna", "last_name": "Dabrowska", "phones": ["502111222"]})
        check_duplicates("contact", {"first_name": "Katarzyna", "last_name": "Dabrowska"}, force=True)
    assert [match.id for match in raised.value.matches] == [kasia.pk]
    assert set(raised.value.matches[0].reasons) == {"phone", "name"}
    assert "Katarzyna Dąbrowska" in raised.value.messages[0]
