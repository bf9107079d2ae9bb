"""The finder, the merge wizard, the new-record warning and the API: rights, isolation, query counts."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core.models import ChangeEntry
from crm.duplicates.tests.helpers import HTMX, create, member_client

pytestmark = pytest.mark.django_db


def twins(portal, count: int, prefix: str = "para") -> list[tuple]:
    pairs = []
    for index in range(count):
        email = f"{prefix}{index}@przyklad.pl"
        pairs.append((create(portal, "contact", {"first_name": "Łucja", "last_name": f"Ćwik{index}",
                                                 "emails": [email]}),
                      create(portal, "contact", {"first_name": "Lucja", "last_name": f"Cwik{index}",
                                                 "emails": [email.upper()]})))
    return pairs


def finder_queries(client, path: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_finder_groups_by_e_mail_phone_nip_and_name_in_constant_queries(portal_a):
    client = portal_a.client(logged_in=True)
    pairs = twins(portal_a, 3, "trzy")
    client.get("/crm/duplicates/contacts/?by=email")  # the session and the portal's settings cached
    few, html = finder_queries(client, "/crm/duplicates/contacts/?by=email")
    assert "trzy0@przyklad.pl" in html and f"ids={pairs[0][0].pk},{pairs[0][1].pk}" in html
    twins(portal_a, 27, "wiele")
    many, html = finder_queries(client, "/crm/duplicates/contacts/?by=email")
    assert many == few <= 10, (few, many)
    assert html.count('class="panel dup-group"') == 20 and "page=2" in html
    _count, html = finder_queries(client, "/crm/duplicates/contacts/?by=email&page=2")
    assert html.count('class="panel dup-group"') == 10
    # Same name without Polish letters, same phone however typed, same NIP.
    _count, html = finder_queries(client, "/crm/duplicates/contacts/?by=name")
    assert "lucja cwik0" in html
    create(portal_a, "contact", {"first_name": "Jan", "phones": ["+48 601 202 303"]})
    create(portal_a, "contact", {"first_name": "Janek", "phones": ["601-202-303"]})
    assert "601 202 303" in finder_queries(client, "/crm/duplicates/contacts/?by=phone")[1]
    create(portal_a, "company", {"name": "Alfa", "nip": "5260001246"})
    create(portal_a, "company", {"name": "Alfa Bis", "nip": "526-000-12-46"})
    assert "5260001246" in finder_queries(client, "/crm/duplicates/companies/?by=nip")[1]
    assert "No duplicates found" in finder_queries(client, "/crm/duplicates/leads/")[1] or \
        "Nie znaleziono" in finder_queries(client, "/crm/duplicates/leads/")[1]
    assert client.get("/crm/duplicates/tasks/").status_code == 404
    assert client.get("/crm/duplicates/alfa/").status_code == 404


def test_the_finder_shows_only_what_a_member_may_read(portal_a):
    twins(portal_a, 2, "ukryte")
    guest, _member = member_client(portal_a, "gosc.finder@alfa-handel.pl", "guest")
    html = guest.get("/crm/duplicates/contacts/?by=email").content.decode()
    assert "ukryte0@przyklad.pl" not in html


def test_the_merge_wizard_shows_both_records_and_merges_with_the_picked_values(portal_a):
    client = portal_a.client(logged_in=True)
    (first, second), = twins(portal_a, 1, "kreator")
    path = f"/crm/duplicates/contacts/merge/?ids={first.pk},{second.pk}"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert "Łucja" in html and "Lucja" in html and 'name="pick:first_name"' in html
    assert 'name="pick:emails"' not in html  # the same address typed in capitals: nothing to choose
    assert len(queries) < 40
    response = client.post("/crm/duplicates/contacts/merge/", {
        "ids": f"{first.pk},{second.pk}", "keep": str(second.pk), "pick:first_name": str(first.pk),
        "pick:last_name": str(first.pk), "pick:emails": "combine"})
    assert response.status_code == 302 and response["Location"].endswith(f"/{second.pk}/")
    with tenant_context(portal_a.tenant):
        kept = Contact.objects.get(pk=second.pk)
        assert (kept.first_name, kept.last_name) == ("Łucja", "Ćwik0")
        assert Contact.objects.get(pk=first.pk).deleted_at is not None
        assert ChangeEntry.objects.filter(entity="contact", record_id=second.pk, kind="merged").exists()
    history = client.get(f"/crm/contacts/{second.pk}/?tab=history").content.decode()
    assert response.status_code == 302 and history


def test_the_wizard_refuses_without_rights_and_for_another_portals_ids(portal_a, portal_b):
    (first, second), = twins(portal_a, 1, "prawa")
    consultant, _member = member_client(portal_a, "konsultant.kreator@alfa-handel.pl", "consultant")
    path = f"/crm/duplicates/contacts/merge/?ids={first.pk},{second.pk}"
    assert consultant.get(path).status_code == 403
    response = consultant.post("/crm/duplicates/contacts/merge/", {"ids": f"{first.pk},{second.pk}",
                                                                   "keep": str(first.pk)})
    assert response.status_code == 403
    (b_first, b_second), = twins(portal_b, 1, "beta")
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        Contact.objects.filter(pk__in=[b_first.pk, b_second.pk]).delete()  # ids that exist only on B
    assert client.get(f"/crm/duplicates/contacts/merge/?ids={b_first.pk},{b_second.pk}").status_code == 404
    assert client.post("/crm/duplicates/contacts/merge/", {"ids": f"{b_first.pk},{b_second.pk}",
                                                           "keep": str(b_first.pk)}).status_code == 404
    # Portal A's session on portal B's host does nothing.
    foreign = portal_a.client(logged_in=True)
    response = foreign.post("/crm/duplicates/contacts/merge/", {"ids": f"{b_first.pk},{b_second.pk}",
                                                                "keep": str(b_first.pk)}, HTTP_HOST=portal_b.host)
    assert response.status_code in (302, 403, 404)
    with tenant_context(portal_b.tenant):
        assert Contact.objects.alive().filter(pk__in=[b_first.pk, b_second.pk]).count() == 2


def test_the_new_record_page_warns_about_possible_duplicates(portal_a):
    client = portal_a.client(logged_in=True)
    existing = create(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewski",
                                            "phones": ["+48 601 202 303"]})
    html = client.get("/crm/contacts/new/").content.decode()
    assert 'id="duplicate-warning"' in html and "/crm/duplicates/contacts/check/" in html
    response = client.post("/crm/duplicates/contacts/check/", {"first_name": "Lukasz", "last_name": "Zolkiewski",
                                                                "phones": "601-202-303"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and f"/crm/contacts/{existing.pk}/" in html and 'name="force"' in html
    empty = client.post("/crm/duplicates/contacts/check/", {"first_name": "Zenon"}, **HTMX).content.decode()
    assert "duplicate-warning" not in empty
    assert client.get("/crm/duplicates/contacts/check/").status_code == 405


def test_the_api_checks_and_merges(portal_a, portal_b):
    client = portal_a.client(logged_in=True)
    (first, second), = twins(portal_a, 1, "api")
    response = client.post("/api/v1/duplicates/check/", json.dumps(
        {"type": "contact", "values": {"first_name": "Lucja", "last_name": "Cwik0", "emails": ["API0@przyklad.pl"]},
         "exclude": first.pk}), content_type="application/json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(item["id"], sorted(item["reasons"])) for item in results] == [(second.pk, ["email", "name"])]
    bad = client.post("/api/v1/duplicates/check/", json.dumps({"type": "task", "values": {}}),
                      content_type="application/json")
    assert bad.status_code == 400
    (b_first, b_second), = twins(portal_b, 1, "apib")
    with tenant_context(portal_a.tenant):
        Contact.objects.filter(pk__in=[b_first.pk, b_second.pk]).delete()
    refused = client.post("/api/v1/duplicates/merge/", json.dumps(
        {"type": "contact", "keep": b_first.pk, "others": [b_second.pk]}), content_type="application/json")
    assert refused.status_code == 404
    merged = client.post("/api/v1/duplicates/merge/", json.dumps(
        {"type": "contact", "keep": first.pk, "others": [second.pk], "choices": {"emails": "combine"}}),
        content_type="application/json")
    assert merged.status_code == 200, merged.content
    assert merged.json() == {"type": "contact", "id": first.pk, "merged": [second.pk]}
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=second.pk).deleted_at is not None


def test_deals_with_the_same_title_and_company_are_found_and_their_contacts_combined(portal_a):
    client = portal_a.client(logged_in=True)
    company = create(portal_a, "company", {"name": "Piekarnia Żytnia"})
    ola = create(portal_a, "contact", {"first_name": "Ola", "last_name": "Mąka"})
    jan = create(portal_a, "contact", {"first_name": "Jan", "last_name": "Chleb"})
    first = create(portal_a, "deal", {"title": "Dostawa mąki", "company": company.pk, "contacts": [ola.pk]})
    second = create(portal_a, "deal", {"title": "Dostawa maki", "company": company.pk, "contacts": [jan.pk]})
    html = client.get("/crm/duplicates/deals/").content.decode()
    assert f"ids={first.pk},{second.pk}" in html
    wizard = client.get(f"/crm/duplicates/deals/merge/?ids={first.pk},{second.pk}").content.decode()
    assert 'name="pick:contacts" value="combine"' in wizard
    response = client.post("/crm/duplicates/deals/merge/", {"ids": f"{first.pk},{second.pk}", "keep": str(first.pk),
                                                            "pick:contacts": "combine"})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        from crm.deals.models import Deal
        assert set(Deal.objects.get(pk=first.pk).contacts.values_list("pk", flat=True)) == {ola.pk, jan.pk}
