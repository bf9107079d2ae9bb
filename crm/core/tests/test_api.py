"""The CRM's REST API on a real portal schema: records through sessions and API keys, lists with
filters and cursor pages, bulk writes, the one error shape, rate limits, idempotent POSTs, query
counts and the OpenAPI schema with each portal's own custom fields."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.contacts.models import Company, Contact
from crm.core import services
from crm.core.api import request_hash
from crm.core.api_throttling import throttle_cache_key
from crm.core.models import CustomField, FieldType, IdempotencyKey
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign, create_api_key

pytestmark = pytest.mark.django_db


# --- helpers shared by the API tests of every CRM app ------------------------------------------

def send(client: Client, method: str, path: str, body=None, *, lang: str = "en", **headers):
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, data=data, content_type="application/json", HTTP_ACCEPT_LANGUAGE=lang,
                                   **headers)


def api_key(portal, role_code: str = "crm_manager", name: str = "Integracja ze sklepem") -> str:
    with tenant_context(portal.tenant):
        return create_api_key(name=name, role=Role.objects.get(code=role_code), created_by=None)[1]


def key_client(portal, token: str, host: str | None = None) -> Client:
    return Client(HTTP_HOST=host or portal.host, HTTP_AUTHORIZATION=f"Bearer {token}")


def owner_of(portal) -> Membership:
    with tenant_context(portal.tenant):
        return Membership.objects.select_related("user").get(user=portal.owner)


def member_client(portal, email: str, role_code: str, full_name: str = "Piotr Wiśniewski") -> tuple[Client, int]:
    """A signed-in member of the portal with one of the default roles."""
    user = User.objects.create_user(email=email, password=portal.password, full_name=full_name)
    with tenant_context(portal.tenant):
        member = assign(membership=add_member(user=user), role=Role.objects.get(code=role_code))
        client = Client(HTTP_HOST=portal.host)
        assert client.login(username=email, password=portal.password)
    return client, member.pk


def create(portal, code: str, values: dict, actor=None):
    with tenant_context(portal.tenant):
        return services.create_record(actor=actor or owner_of(portal), code=code, values=values)


def in_own_connection(function, *args):
    """Run ``function`` in a thread with its own, autocommitted connection (another request would
    have one), and return its result."""
    import threading

    from django.db import connections

    outcome = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed back to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    assert body["detail"] == body["error"]["message"]
    return body["error"]


def reset_throttles(*portals) -> None:
    """Forget the request counts of the portals and their owners (they are per minute)."""
    for portal in portals:
        with tenant_context(portal.tenant):
            member = Membership.objects.get(user=portal.owner)
            cache.delete_many([throttle_cache_key(portal.tenant.schema_name, "portal"),
                               throttle_cache_key(portal.tenant.schema_name, f"member:{member.pk}")])


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings, portals) -> Iterator[None]:
    """API tests send many requests a minute; the rate limit tests set their own limits."""
    settings.API_RATE_PER_KEY = "100000/min"
    settings.API_RATE_PER_PORTAL = "100000/min"
    yield
    reset_throttles(portals["a"], portals["b"])


# --- records through the API ----------------------------------------------------------------------

def test_a_contact_is_created_read_changed_deleted_restored_and_purged_with_a_session(portal_a):
    client = portal_a.client(logged_in=True)
    created = send(client, "post", "/api/v1/contacts/", {
        "first_name": "Łucja", "last_name": "Żółkiewska", "position": "Dyrektor handlowa", "city": "Łódź",
        "emails": [{"value": " Lucja.Zolkiewska@Przyklad.PL ", "kind": "work"}],
        "phones": [{"value": "601 202 303", "kind": "mobile"}], "tags": ["vip"]})
    assert created.status_code == 201, created.content
    contact = created.json()
    owner = owner_of(portal_a)
    assert contact["emails"] == [{"value": "lucja.zolkiewska@przyklad.pl", "kind": "work"}]
    assert contact["phones"] == [{"value": "+48601202303", "kind": "mobile"}]
    assert contact["owner"] == owner.pk and contact["owner_summary"] == {"id": owner.pk, "name": "Joanna Kowalska"}
    assert contact["full_name"] == "Łucja Żółkiewska" and contact["custom"] == {}
    path = f"/api/v1/contacts/{contact['id']}/"

    assert send(client, "get", path).json()["last_name"] == "Żółkiewska"
    company = send(client, "post", "/api/v1/companies/", {"name": "Przędzalnia Łódzka sp. z o.o.",
                                                          "nip": "526-000-12-46"}).json()
    changed = send(client, "patch", path, {"last_name": "Żółkiewska-Nowak", "company": company["id"]})
    assert changed.status_code == 200, changed.content
    assert changed.json()["company_summary"] == {"id": company["id"], "name": "Przędzalnia Łódzka sp. z o.o."}

    assert send(client, "delete", path).status_code == 204
    assert send(client, "get", path).status_code == 404
    binned = send(client, "get", "/api/v1/contacts/recycle-bin/").json()["results"]
    assert contact["id"] in [row["id"] for row in binned]
    restored = send(client, "post", f"{path}restore/")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    history = send(client, "get", f"{path}history/").json()["results"]
    assert [line["kind"] for line in history if not line["field"]] == ["restored", "deleted", "created"]
    renamed = next(line for line in history if line["field"] == "last_name")
    assert (renamed["old_value"], renamed["new_value"], renamed["field_label"]) == (
        "Żółkiewska", "Żółkiewska-Nowak", "last name")

    refused = send(client, "delete", f"{path}?permanent=true")
    assert refused.status_code == 400
    assert "Only records in the recycle bin" in error_of(refused)["message"]
    assert send(client, "delete", path).status_code == 204
    assert send(client, "delete", f"{path}?permanent=true").status_code == 204
    with tenant_context(portal_a.tenant):
        assert not Contact.objects.filter(pk=contact["id"]).exists()


def test_companies_are_written_with_an_api_key_and_a_bad_nip_is_named(portal_a):
    client = key_client(portal_a, api_key(portal_a))
    created = send(client, "post", "/api/v1/companies/", {
        "name": "Zakład Energetyczny Wschód S.A.", "nip": "5260001246", "company_type": "sa",
        "city": "Rzeszów", "website": "https://zew.example.pl", "employees": 250})
    assert created.status_code == 201, created.content
    company = created.json()
    assert company["owner"] is None and company["created_by"] is None  # a key owns nothing
    refused = send(client, "patch", f"/api/v1/companies/{company['id']}/", {"nip": "5260001247", "employees": -3})
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"employees"}  # the wire checks types and ranges first
    assert error["fields"]["employees"][0].startswith("Employees: ")
    refused = send(client, "patch", f"/api/v1/companies/{company['id']}/", {"nip": "5260001247"})
    error = error_of(refused)
    assert list(error["fields"]) == ["nip"] and "not a valid NIP" in error["fields"]["nip"][0]
    assert "NIP" in error["message"]
    listed = send(client, "get", "/api/v1/companies/").json()["results"]
    assert [row["nip"] for row in listed if row["id"] == company["id"]] == ["5260001246"]
    history = send(client, "get", f"/api/v1/companies/{company['id']}/history/").json()["results"]
    assert history[0]["actor_label"] == "API: Integracja ze sklepem"


def test_custom_fields_are_read_and_written_and_refusals_name_the_field(portal_a):
    with tenant_context(portal_a.tenant):
        CustomField.objects.create(entity="contact", code="budzet", label="Budżet roczny", field_type=FieldType.MONEY)
        CustomField.objects.create(entity="contact", code="branza", label="Branża", field_type=FieldType.SELECT,
                                   options=["IT", "Budownictwo"])
    client = portal_a.client(logged_in=True)
    created = send(client, "post", "/api/v1/contacts/", {"last_name": "Mazur",
                                                         "custom": {"budzet": "12500.5", "branza": "IT"}})
    assert created.json()["custom"] == {"budzet": "12500.50", "branza": "IT"}
    refused = send(client, "patch", f"/api/v1/contacts/{created.json()['id']}/",
                   {"custom": {"budzet": "dużo", "kolor": "zielony"}})
    error = error_of(refused)
    assert set(error["fields"]) == {"custom.budzet", "custom.kolor"}
    assert error["fields"]["custom.budzet"][0].startswith("Budżet roczny")
    assert "Budżet roczny" in error["message"]
    assert "kolor" in error["fields"]["custom.kolor"][0]


# --- errors ------------------------------------------------------------------------------------

def test_every_error_has_the_one_shape(portal_a):
    client = portal_a.client(logged_in=True)
    unknown = error_of(send(client, "post", "/api/v1/contacts/", {"last_name": "Nowak", "shoe_size": 44}))
    assert unknown["code"] == "validation_error"
    assert unknown["fields"] == {"shoe_size": ["shoe_size: This field does not exist or cannot be changed."]}

    domain = error_of(send(client, "post", "/api/v1/contacts/", {"position": "Prezes"}))
    assert domain["fields"]["last_name"] == ["Give at least a first name or a last name."]
    assert domain["message"] == "Some values were not accepted: last name."

    missing = send(client, "get", "/api/v1/contacts/987654/")
    assert missing.status_code == 404
    assert error_of(missing) == {"code": "not_found", "message": "No such contact, or you may not see it.",
                                 "fields": {}}

    broken = client.post("/api/v1/contacts/", data="{nie json", content_type="application/json",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert broken.status_code == 400 and error_of(broken)["code"] == "parse_error"

    wrong_method = send(client, "put", "/api/v1/contacts/")
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"

    anonymous = send(portal_a.client(), "get", "/api/v1/contacts/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Bearer"
    assert error_of(anonymous)["code"] == "not_authenticated"

    revoked = send(Client(HTTP_HOST=portal_a.host), "get", "/api/v1/contacts/", HTTP_AUTHORIZATION="Bearer kp_x_y")
    assert revoked.status_code == 401 and "not valid for this portal" in error_of(revoked)["message"]

    nowhere = send(client, "get", "/api/v1/kontakty/")
    assert nowhere.status_code == 404 and error_of(nowhere)["code"] == "not_found"

    bad_filter = error_of(send(client, "get", "/api/v1/contacts/?filter={oops"))
    assert bad_filter["fields"] == {"filter": ["The filter is not valid JSON."]}


def test_identity_endpoints_answer_in_the_same_shape(portal_a):
    closed = key_client(portal_a, api_key(portal_a, "no_access", name="Zamknięty"))
    refused = send(closed, "get", "/api/v1/members/")
    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "permission_denied" and "You have no permission to read people" in error["message"]
    assert send(closed, "get", "/api/v1/contacts/").status_code == 403


def test_messages_follow_the_request_language(portal_a):
    anonymous = send(portal_a.client(), "get", "/api/v1/contacts/", lang="pl")
    assert error_of(anonymous)["message"] == "Nie podano danych uwierzytelniających."
    anonymous = send(portal_a.client(), "get", "/api/v1/contacts/", lang="en")
    assert error_of(anonymous)["message"] == "Authentication credentials were not provided."


def test_a_record_one_may_not_read_is_404_and_one_one_may_not_change_is_403(portal_a):
    contact = create(portal_a, "contact", {"first_name": "Tomasz", "last_name": "Grabowski"})
    path = f"/api/v1/contacts/{contact.pk}/"

    consultant, _consultant_id = member_client(portal_a, "anna.lewandowska@alfa-handel.pl", "consultant",
                                               "Anna Lewandowska")
    assert send(consultant, "get", path).status_code == 200  # consultants read everything …
    refused = send(consultant, "patch", path, {"position": "Prezes"})  # … and change only their own
    assert refused.status_code == 403
    assert error_of(refused)["message"].startswith("You have no permission to edit contacts")
    assert send(consultant, "delete", path).status_code == 403
    assert send(consultant, "post", f"{path}restore/").status_code == 403

    guest, _guest_id = member_client(portal_a, "gosc@alfa-handel.pl", "guest", "Gość Targowy")
    for method, target in [("get", path), ("patch", path), ("delete", path), ("get", f"{path}history/"),
                           ("get", f"{path}timeline/"), ("post", f"{path}restore/")]:
        response = send(guest, method, target, {"position": "Prezes"} if method == "patch" else None)
        assert response.status_code == 404, (method, target, response.status_code)
        assert "Grabowski" not in response.content.decode()
    assert send(guest, "get", "/api/v1/contacts/").json()["results"] == []

    key = key_client(portal_a, api_key(portal_a, "consultant"))
    assert send(key, "get", path).status_code == 200
    assert send(key, "patch", path, {"position": "Prezes"}).status_code == 403
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=contact.pk).position == ""


# --- lists -------------------------------------------------------------------------------------

PEOPLE = [("Adam", "Nowak", "Kraków"), ("Beata", "Kowalska", "Łódź"), ("Cezary", "Wiśniewski", "Gdańsk"),
          ("Dorota", "Wójcik", "Kraków"), ("Edward", "Kamiński", "Poznań"), ("Filomena", "Lewandowska", "Łódź"),
          ("Grzegorz", "Zieliński", "Kraków"), ("Halina", "Szymańska", "Wrocław")]


def _people(portal) -> list[Contact]:
    with tenant_context(portal.tenant):
        CustomField.objects.create(entity="contact", code="budzet", label="Budżet", field_type=FieldType.NUMBER)
    people = []
    for index, (first, last, city) in enumerate(PEOPLE):
        custom = {"budzet": (index % 3) * 1000} if index % 2 == 0 else {}  # half have no budget: NULLs
        people.append(create(portal, "contact", {"first_name": first, "last_name": last, "city": city,
                                                 "tags": ["targi"] if city == "Kraków" else [], "custom": custom}))
    return people


def _all_pages(client: Client, path: str) -> tuple[list[int], list[str]]:
    ids, links = [], []
    while path:
        response = send(client, "get", path)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row["id"] for row in body["results"]]
        links.append(body["next"])
        path = body["next"]
    return ids, links


def test_lists_are_filtered_searched_sorted_and_paged_by_cursor(portal_a):
    people = _people(portal_a)
    client = portal_a.client(logged_in=True)
    by_name = sorted(people, key=lambda person: (person.last_name, person.first_name, person.pk))

    ids, _links = _all_pages(client, "/api/v1/contacts/?page_size=3")
    assert ids == [person.pk for person in by_name]  # default order: last name, first name

    ids, _links = _all_pages(client, "/api/v1/contacts/?page_size=3&ordering=-city,last_name")
    assert ids == [person.pk for person in sorted(by_name, key=lambda person: person.city, reverse=True)]

    # A sort key with empty values (NULL) and many equal ones still pages through every record once.
    ids, _links = _all_pages(client, "/api/v1/contacts/?page_size=2&ordering=-custom.budzet")
    assert sorted(ids) == sorted(person.pk for person in people) and len(ids) == len(set(ids))
    budgets = {person.pk: person.custom.get("budzet") for person in people}
    with_budget = [budgets[pk] for pk in ids if budgets[pk] is not None]
    assert with_budget == sorted(with_budget, reverse=True) and budgets[ids[-1]] is None

    first = send(client, "get", "/api/v1/contacts/?page_size=3").json()
    second = send(client, "get", first["next"]).json()
    back = send(client, "get", second["previous"]).json()
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]

    krakow = json.dumps({"and": [{"field": "city", "op": "eq", "value": "Kraków"},
                                 {"field": "first_name", "op": "starts_with", "value": "a"}]})
    found = send(client, "get", f"/api/v1/contacts/?filter={krakow}").json()["results"]
    assert [row["last_name"] for row in found] == ["Nowak"]
    found = send(client, "get", "/api/v1/contacts/?q=lodz").json()["results"]
    assert {row["last_name"] for row in found} == {"Kowalska", "Lewandowska"}
    found = send(client, "get", "/api/v1/contacts/?tags=targi&ordering=first_name").json()["results"]
    assert [row["first_name"] for row in found] == ["Adam", "Dorota", "Grzegorz"]

    refused = error_of(send(client, "get", "/api/v1/contacts/?ordering=shoe_size"))
    assert list(refused["fields"]) == ["ordering"] and "shoe_size" in refused["fields"]["ordering"][0]
    wrong = json.dumps({"field": "city", "op": "gt", "value": "A"})
    refused = error_of(send(client, "get", f"/api/v1/contacts/?filter={wrong}"))
    assert list(refused["fields"]) == ["filter"] and "city" in refused["fields"]["filter"][0]
    other_order = first["next"].replace("page_size=3", "page_size=3&ordering=city")
    refused = error_of(send(client, "get", other_order))
    assert list(refused["fields"]) == ["cursor"]
    tampered = first["next"].replace("cursor=", "cursor=x")
    assert list(error_of(send(client, "get", tampered))["fields"]) == ["cursor"]


def test_a_saved_view_applies_its_filters_and_order(portal_a):
    _people(portal_a)
    client = portal_a.client(logged_in=True)
    view = send(client, "post", "/api/v1/views/", {
        "entity": "contact", "name": "Łódź i Kraków", "is_shared": True,
        "filters": {"field": "city", "op": "in", "value": ["Łódź", "Kraków"]}, "ordering": ["-first_name"]})
    assert view.status_code == 201, view.content
    view = view.json()
    found = send(client, "get", f"/api/v1/contacts/?view={view['id']}").json()["results"]
    assert [row["first_name"] for row in found] == ["Grzegorz", "Filomena", "Dorota", "Beata", "Adam"]
    assert [item["name"] for item in send(client, "get", "/api/v1/views/?entity=contact").json()["results"]] == [
        "Łódź i Kraków"]
    renamed = send(client, "patch", f"/api/v1/views/{view['id']}/", {"name": "Duże miasta"})
    assert renamed.json()["name"] == "Duże miasta" and renamed.json()["is_mine"] is True
    refused = error_of(send(client, "get", f"/api/v1/deals/?view={view['id']}"))
    assert list(refused["fields"]) == ["view"]
    bad = error_of(send(client, "post", "/api/v1/views/", {"entity": "contact", "name": "Zły",
                                                            "filters": {"field": "shoe_size", "op": "eq"}}))
    assert list(bad["fields"]) == ["filters"]
    assert send(client, "delete", f"/api/v1/views/{view['id']}/").status_code == 204
    assert send(client, "get", f"/api/v1/contacts/?view={view['id']}").status_code == 404


def test_search_finds_every_record_type_the_caller_may_read(portal_a):
    create(portal_a, "contact", {"first_name": "Zbigniew", "last_name": "Żółkiewski"})
    create(portal_a, "company", {"name": "Żółkiewski i Synowie sp.j."})
    create(portal_a, "deal", {"title": "Dostawa dla Żółkiewskiego"})
    client = portal_a.client(logged_in=True)
    hits = send(client, "get", "/api/v1/search/?q=zolkiewski").json()["results"]
    assert {hit["entity"] for hit in hits} == {"contact", "company", "deal"}
    assert {"entity", "id", "title", "subtitle", "score"} == set(hits[0])
    only = send(client, "get", "/api/v1/search/?q=zolkiewski&types=company").json()["results"]
    assert [hit["title"] for hit in only] == ["Żółkiewski i Synowie sp.j."]
    assert list(error_of(send(client, "get", "/api/v1/search/?q=x&types=ufo"))["fields"]) == ["types"]
    guest, _guest_id = member_client(portal_a, "gosc.szukajacy@alfa-handel.pl", "guest")
    assert send(guest, "get", "/api/v1/search/?q=zolkiewski").json()["results"] == []


# --- bulk --------------------------------------------------------------------------------------

def test_bulk_writes_are_all_or_nothing_with_errors_per_item(portal_a):
    client = portal_a.client(logged_in=True)
    refused = send(client, "post", "/api/v1/contacts/bulk/", {"items": [
        {"first_name": "Jan", "last_name": "Kowalczyk"},
        {"position": "Prezes"},
        {"last_name": "Nowicka", "phones": [{"value": "12"}]},
        {"last_name": "Dąbrowska", "birthday": "wczoraj"}]})
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["message"] == "3 of the items were refused; nothing was saved."
    assert set(error["items"]) == {"1", "2", "3"}
    assert error["items"]["1"] == {"last_name": ["Give at least a first name or a last name."]}
    assert "“12” is not a valid phone number" in error["items"]["2"]["phones"][0]
    assert error["items"]["3"]["birthday"][0].startswith("Birthday: ")
    with tenant_context(portal_a.tenant):
        assert not Contact.objects.filter(last_name__in=["Kowalczyk", "Nowicka"]).exists()

    created = send(client, "post", "/api/v1/contacts/bulk/", {"items": [
        {"first_name": "Jan", "last_name": "Kowalczyk", "city": "Lublin"},
        {"first_name": "Ewa", "last_name": "Nowicka", "city": "Lublin"}]})
    assert created.status_code == 201, created.content
    ids = [row["id"] for row in created.json()["results"]]
    assert [row["last_name"] for row in created.json()["results"]] == ["Kowalczyk", "Nowicka"]

    changed = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": ids, "values": {"city": "Zamość"}})
    assert changed.status_code == 200 and {row["city"] for row in changed.json()["results"]} == {"Zamość"}
    refused = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": [*ids, 999999], "values": {"city": "Chełm"}})
    assert error_of(refused)["items"] == {"2": {"id": ["ID: No such contact, or you may not see it."]}}
    nameless = {"first_name": "", "last_name": ""}
    refused = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": ids, "values": nameless})
    assert set(error_of(refused)["items"]) == {"0", "1"}
    refused = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": [ids[0], ids[0]], "values": {}})
    assert list(error_of(refused)["fields"]) == ["ids"]
    with tenant_context(portal_a.tenant):
        assert set(Contact.objects.filter(pk__in=ids).values_list("city", flat=True)) == {"Zamość"}

    assert send(client, "post", "/api/v1/contacts/bulk-delete/", {"ids": ids}).json() == {"deleted": ids}
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(pk__in=ids, deleted_at__isnull=False).count() == 2


def test_bulk_changes_of_records_one_may_only_read_are_refused_as_a_whole(portal_a):
    mine = create(portal_a, "contact", {"last_name": "Pawlak"})
    consultant, consultant_id = member_client(portal_a, "konsultant@alfa-handel.pl", "consultant")
    own = send(consultant, "post", "/api/v1/contacts/", {"last_name": "Wróblewski"}).json()
    refused = send(consultant, "post", "/api/v1/contacts/bulk-delete/", {"ids": [own["id"], mine.pk]})
    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "permission_denied" and set(error["items"]) == {"0", "1"}  # consultants delete nothing
    refused = send(consultant, "patch", "/api/v1/contacts/bulk/", {"ids": [own["id"], mine.pk],
                                                                    "values": {"city": "Opole"}})
    assert refused.status_code == 403 and set(error_of(refused)["items"]) == {"1"}
    with tenant_context(portal_a.tenant):
        assert not Contact.objects.filter(city="Opole").exists()
        assert Contact.objects.get(pk=own["id"]).owner_id == consultant_id


# --- idempotency -----------------------------------------------------------------------------

def test_a_retried_post_with_an_idempotency_key_is_replayed_not_repeated(portal_a):
    client = portal_a.client(logged_in=True)
    body = {"first_name": "Wojciech", "last_name": "Jankowski", "city": "Toruń"}
    first = send(client, "post", "/api/v1/contacts/", body, HTTP_IDEMPOTENCY_KEY="zamowienie-2026-0042")
    again = send(client, "post", "/api/v1/contacts/", body, HTTP_IDEMPOTENCY_KEY="zamowienie-2026-0042")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name="Jankowski").count() == 1
        stored = IdempotencyKey.objects.get(key="zamowienie-2026-0042")
        assert stored.status_code == 201 and stored.principal == f"member:{owner_of(portal_a).pk}"

    conflict = send(client, "post", "/api/v1/contacts/", body | {"city": "Bydgoszcz"},
                    HTTP_IDEMPOTENCY_KEY="zamowienie-2026-0042")
    assert conflict.status_code == 409
    assert error_of(conflict)["code"] == "conflict" and "different request" in error_of(conflict)["message"]

    # The key belongs to the caller: an API key using the same one makes its own record.
    key = key_client(portal_a, api_key(portal_a))
    # ?force=true: the same person again is a deliberate second record here, not a duplicate to refuse.
    assert send(key, "post", "/api/v1/contacts/?force=true", body,
                HTTP_IDEMPOTENCY_KEY="zamowienie-2026-0042").status_code == 201
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name="Jankowski").count() == 2

    # A refused request is replayed as refused; a bulk request is replayed whole.
    bad = send(client, "post", "/api/v1/contacts/", {"position": "Prezes"}, HTTP_IDEMPOTENCY_KEY="zly-1")
    assert send(client, "post", "/api/v1/contacts/", {"position": "Prezes"},
                HTTP_IDEMPOTENCY_KEY="zly-1").json() == bad.json()
    items = {"items": [{"last_name": "Adamczyk"}, {"last_name": "Sikora"}]}
    bulk = send(client, "post", "/api/v1/contacts/bulk/", items, HTTP_IDEMPOTENCY_KEY="import-7")
    assert send(client, "post", "/api/v1/contacts/bulk/", items, HTTP_IDEMPOTENCY_KEY="import-7").json() == bulk.json()
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name__in=["Adamczyk", "Sikora"]).count() == 2


def test_a_duplicate_sent_while_the_first_is_still_running_is_refused(portal_a):
    """The first request's reservation is committed by another connection, as a concurrent request's
    would be: the unique constraint stops the second one, which writes nothing."""
    owner = owner_of(portal_a)
    body = {"last_name": "Równoległy"}

    def reserve():
        with tenant_context(portal_a.tenant):
            return IdempotencyKey.objects.create(
                key="rownolegle-1", principal=f"member:{owner.pk}", method="POST", path="/api/v1/contacts/",
                request_hash=request_hash("POST", "/api/v1/contacts/", body)).pk

    def forget(pk):
        with tenant_context(portal_a.tenant):
            IdempotencyKey.objects.filter(pk=pk).delete()

    reservation = in_own_connection(reserve)
    try:
        client = portal_a.client(logged_in=True)
        response = send(client, "post", "/api/v1/contacts/", body, HTTP_IDEMPOTENCY_KEY="rownolegle-1")
        assert response.status_code == 409
        assert "still being processed" in error_of(response)["message"]
        with tenant_context(portal_a.tenant):
            assert not Contact.objects.filter(last_name="Równoległy").exists()
    finally:
        in_own_connection(forget, reservation)


def test_two_identical_requests_at_the_same_moment_create_one_record(portal_a):
    """Two threads, each with its own connection (as two server workers would be), send the same
    POST with the same key at once: one creates, the other is refused or replayed, never both."""
    import threading

    token = in_own_connection(api_key, portal_a, "crm_manager", "Równoległa integracja")
    start, answers = threading.Barrier(2), []
    body = {"first_name": "Dariusz", "last_name": "Dwukrotny-Równoległy"}

    def post() -> None:
        try:
            start.wait(timeout=10)
            response = send(key_client(portal_a, token), "post", "/api/v1/contacts/?force=true", body,
                            HTTP_IDEMPOTENCY_KEY="jednoczesne-1")
            answers.append((response.status_code, response.headers.get("Idempotent-Replayed")))
        finally:
            connection.close()

    def tidy() -> None:
        from crm.core.models import ChangeEntry
        from identity.members.models import ApiKey

        with tenant_context(portal_a.tenant):
            ids = list(Contact.objects.filter(last_name=body["last_name"]).values_list("pk", flat=True))
            ChangeEntry.objects.filter(entity="contact", record_id__in=ids).delete()
            Contact.objects.filter(pk__in=ids).delete()
            IdempotencyKey.objects.filter(key="jednoczesne-1").delete()
            ApiKey.objects.filter(name="Równoległa integracja").delete()

    def count() -> int:
        with tenant_context(portal_a.tenant):
            return Contact.objects.filter(last_name=body["last_name"]).count()

    threads = [threading.Thread(target=post) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(answers)[0] == (201, None)
        assert sorted(answers)[1] in [(201, "true"), (409, None)]
        assert in_own_connection(count) == 1
    finally:
        in_own_connection(tidy)


# --- rate limits --------------------------------------------------------------------------------

def test_an_api_key_over_its_rate_gets_429_with_retry_after(portal_a, settings):
    settings.API_RATE_PER_KEY = "3/min"
    busy, calm = key_client(portal_a, api_key(portal_a, name="Szybki")), key_client(portal_a, api_key(portal_a))
    assert [send(busy, "get", "/api/v1/contacts/").status_code for _ in range(3)] == [200, 200, 200]
    limited = send(busy, "get", "/api/v1/contacts/")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    error = error_of(limited)
    assert error["code"] == "rate_limited" and f"{limited['Retry-After']} seconds" in error["message"]
    assert send(calm, "get", "/api/v1/contacts/").status_code == 200


def test_a_portal_over_its_rate_gets_429_and_other_portals_do_not(portal_a, portal_b, settings):
    reset_throttles(portal_a, portal_b)
    settings.API_RATE_PER_PORTAL = "4/min"
    first, second = key_client(portal_a, api_key(portal_a)), key_client(portal_a, api_key(portal_a))
    assert [send(client, "get", "/api/v1/contacts/").status_code for client in (first, second, first, second)] == [
        200] * 4
    limited = send(second, "get", "/api/v1/contacts/")
    assert limited.status_code == 429 and limited.has_header("Retry-After")
    assert send(portal_a.client(logged_in=True), "get", "/api/v1/contacts/").status_code == 429
    assert send(key_client(portal_b, api_key(portal_b)), "get", "/api/v1/contacts/").status_code == 200


def test_the_rate_limit_counters_are_kept_per_portal_schema(portal_a, portal_b):
    assert throttle_cache_key(portal_a.tenant.schema_name, "portal") != throttle_cache_key(
        portal_b.tenant.schema_name, "portal")
    assert portal_a.tenant.schema_name in throttle_cache_key(portal_a.tenant.schema_name, "key:1")


# --- query counts --------------------------------------------------------------------------------

# Measured: the list itself is one query whatever the page size (related rows joined, many-to-many
# ids as arrays in the same query). Around it, an API key costs 4 (search_path, the key, the
# portal's plan, the key's right); a browser session 5 (search_path, session, account, membership,
# the portal's security policy — each read once per request by identity's middleware).
KEY_QUERIES = 5
SESSION_QUERIES = 6


@pytest.mark.parametrize(("code", "path"), [("contact", "/api/v1/contacts/"), ("company", "/api/v1/companies/"),
                                            ("lead", "/api/v1/leads/"), ("deal", "/api/v1/deals/"),
                                            ("task", "/api/v1/tasks/")])
def test_list_queries_do_not_grow_with_the_page_size(portal_a, django_assert_max_num_queries, code, path):
    owner = owner_of(portal_a)
    with tenant_context(portal_a.tenant):
        company = services.create_record(actor=owner, code="company", values={"name": "Hurtownia Mazowsze"})
        contact = services.create_record(actor=owner, code="contact", values={"last_name": "Kaczmarek"})
        other = services.create_record(actor=owner, code="task", values={"title": "Przygotować umowę"})
        values = {
            "contact": {"last_name": "Jabłoński", "company": company.pk},
            "company": {"name": "Sklep Osiedlowy"},
            "lead": {"title": "Zapytanie ze strony", "contact": contact.pk, "company": company.pk},
            "deal": {"title": "Dostawa regałów", "company": company.pk, "contacts": [contact.pk]},
            "task": {"title": "Oddzwonić", "participants": [owner.pk], "depends_on": [other.pk]},
        }[code]
        services.bulk_create_records(actor=owner, code=code, items=[dict(values) for _ in range(105)])
    token = api_key(portal_a)
    session, key = portal_a.client(logged_in=True), key_client(portal_a, token)
    # Once-only work is not part of a list: the key's use is recorded once a minute, and the
    # portal's security policy row is made on its first read.
    send(key, "get", path)
    send(session, "get", path)
    counts = {}
    for client, bound, name in ((key, KEY_QUERIES, "key"), (session, SESSION_QUERIES, "session")):
        for size in (5, 100):
            with django_assert_max_num_queries(bound), CaptureQueriesContext(connection) as queries:
                response = send(client, "get", f"{path}?page_size={size}")
            assert response.status_code == 200 and len(response.json()["results"]) == size
            counts[(name, size)] = len(queries)
    assert counts[("key", 5)] == counts[("key", 100)]
    assert counts[("session", 5)] == counts[("session", 100)]


# --- OpenAPI -----------------------------------------------------------------------------------

def _custom_properties(schema: dict, component: str) -> dict:
    return schema["components"]["schemas"][component]["properties"]["custom"].get("properties", {})


def test_each_portal_s_schema_describes_its_own_custom_fields(portal_a, portal_b):
    with tenant_context(portal_a.tenant):
        CustomField.objects.create(entity="contact", code="nr_klienta_erp", label="Numer klienta w ERP",
                                   field_type=FieldType.TEXT, required=True)
        CustomField.objects.create(entity="deal", code="segment", label="Segment", field_type=FieldType.SELECT,
                                   options=["MŚP", "Korporacje"])
    with tenant_context(portal_b.tenant):
        CustomField.objects.create(entity="contact", code="numer_karty_serwisowej", label="Numer karty serwisowej",
                                   field_type=FieldType.NUMBER)
    schema_a = send(portal_a.client(logged_in=True), "get", "/api/v1/schema/?format=json")
    assert schema_a.status_code == 200
    schema_a = schema_a.json()
    schema_b = send(key_client(portal_b, api_key(portal_b)), "get", "/api/v1/schema/?format=json").json()

    contact_a = _custom_properties(schema_a, "Contact")
    assert contact_a["nr_klienta_erp"]["type"] == "string" and contact_a["nr_klienta_erp"]["title"] == (
        "Numer klienta w ERP")
    assert "numer_karty_serwisowej" not in json.dumps(schema_a)
    assert schema_a["components"]["schemas"]["ContactRequest"]["properties"]["custom"]["required"] == [
        "nr_klienta_erp"]
    assert "required" not in schema_a["components"]["schemas"]["PatchedContactRequest"]["properties"]["custom"]
    assert _custom_properties(schema_a, "Deal")["segment"]["enum"] == ["MŚP", "Korporacje"]

    assert _custom_properties(schema_b, "Contact") == {"numer_karty_serwisowej": {
        "type": "number", "title": "Numer karty serwisowej", "description": "Numer karty serwisowej",
        "nullable": True}}
    assert "nr_klienta_erp" not in json.dumps(schema_b)
    for path in ("/api/v1/contacts/", "/api/v1/deals/{id}/move/", "/api/v1/contacts/bulk/", "/api/v1/search/",
                 "/api/v1/pipelines/", "/api/v1/activities/", "/api/v1/views/"):
        assert path in schema_a["paths"], path
    assert schema_a["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_docs_are_served_without_a_cdn_to_the_portal_s_members_only(portal_a):
    page = send(portal_a.client(logged_in=True), "get", "/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "/api/v1/schema/" in html
    assert send(portal_a.client(), "get", "/api/v1/docs/").status_code == 401
    assert send(portal_a.client(), "get", "/api/v1/schema/").status_code == 401


def test_company_records_listed_are_the_callers_portal_s(portal_a):
    company = create(portal_a, "company", {"name": "Piekarnia Pod Kłosem"})
    with tenant_context(portal_a.tenant):
        assert Company.objects.filter(pk=company.pk).exists()
    body = send(portal_a.client(logged_in=True), "get", "/api/v1/companies/").json()
    assert [row["name"] for row in body["results"]] == ["Piekarnia Pod Kłosem"]
