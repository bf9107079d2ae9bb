"""List pages of contacts, companies, leads and deals (/crm/<type>/): what a person sees, the filters,
sorts, columns and saved views of the address, keyset pages, bulk actions through the services (all or
nothing, with a history line on each record), and the portal boundary."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core import saved_views, services
from crm.core.models import ChangeEntry, SavedView
from crm.core.templatetags.crm_format import format_day, format_money, format_phone_number
from crm.deals.models import Deal, Stage
from crm.deals.services import default_pipeline
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


def owner_of(portal) -> Membership:
    with tenant_context(portal.tenant):
        return Membership.objects.select_related("user").get(user=portal.owner)


def create(portal, code: str, values: dict, actor=None):
    with tenant_context(portal.tenant):
        return services.create_record(actor=actor or owner_of(portal), code=code, values=values)


def salesperson(portal, email: str = "piotr.wisniewski@alfa-handel.pl",
                name: str = "Piotr Wiśniewski") -> tuple[Client, Membership]:
    """A signed-in member with the default Salesperson role (no department: only own records)."""
    user = User.objects.create_user(email=email, password=portal.password, full_name=name)
    with tenant_context(portal.tenant):
        member = assign(membership=add_member(user=user), role=Role.objects.get(code="salesperson"))
        client = Client(HTTP_HOST=portal.host)
        assert client.login(username=email, password=portal.password)
    return client, member


def page(client: Client, path: str, lang: str = "en", **extra):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=lang, **extra)
    return response, response.content.decode()


def post(client: Client, path: str, data: dict, lang: str = "en"):
    response = client.post(path, data, HTTP_ACCEPT_LANGUAGE=lang)
    return response, response.content.decode()


def titles_in(body: str) -> list[str]:
    return re.findall(r'<a class="title" href="/crm/\w+/\d+/">([^<]*)</a>', body)


@pytest.fixture
def people(portal_a):
    """Two companies and three people of portal A."""
    zaklad = create(portal_a, "company", {"name": "Zakład Usług Różnych sp. z o.o.", "city": "Warszawa"})
    piekarnia = create(portal_a, "company", {"name": "Piekarnia Żytnia s.c.", "city": "Kraków"})
    return {
        "lukasz": create(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewski",
                                               "company": zaklad.pk, "phones": ["+48 601 202 303"],
                                               "emails": ["l.zolkiewski@example.pl", "biuro@example.pl"],
                                               "tags": ["VIP"]}),
        "malgorzata": create(portal_a, "contact", {"first_name": "Małgorzata", "last_name": "Wiśniewska",
                                                   "company": piekarnia.pk, "city": "Kraków"}),
        "agnieszka": create(portal_a, "contact", {"first_name": "Agnieszka", "last_name": "Kamińska",
                                                  "city": "Gdańsk"}),
        "zaklad": zaklad, "piekarnia": piekarnia,
    }


# --- What the list shows ---------------------------------------------------------------------------

def test_contacts_list_shows_the_default_columns_formatted_with_links_to_records(portal_a, people):
    response, body = page(portal_a.client(logged_in=True), "/crm/contacts/")
    assert response.status_code == 200
    lukasz, zaklad = people["lukasz"], people["zaklad"]
    assert f'<a class="title" href="/crm/contacts/{lukasz.pk}/">Żółkiewski</a>' in body
    assert f'<a href="/crm/companies/{zaklad.pk}/">Zakład Usług Różnych sp. z o.o.</a>' in body
    assert '<a href="tel:+48601202303">601 202 303</a>' in body
    assert '<a href="mailto:l.zolkiewski@example.pl" title="l.zolkiewski@example.pl">l.zolkiewski@example.pl</a>' \
        in body
    assert 'title="biuro@example.pl">+1</span>' in body
    assert "Joanna Kowalska" in body  # the owner by name
    assert "3 records" in body
    # Sorted by last name, then first name (the record type's default).
    assert titles_in(body)[1::2] == ["Kamińska", "Wiśniewska", "Żółkiewski"]
    assert 'href="/crm/contacts/new/"' in body and "Add contact" in body


def test_deals_list_shows_stage_badges_in_their_colour_and_money_in_the_portal_language(portal_a):
    with tenant_context(portal_a.tenant):
        stage = default_pipeline().stages.order_by("position").first()
    create(portal_a, "deal", {"title": "Wdrożenie CRM dla 25 osób", "value": Decimal("48000")})
    _response, body = page(portal_a.client(logged_in=True), "/crm/deals/", lang="pl")
    assert f'<span class="stage-badge" style="--stage: {stage.color}">{stage.name}</span>' in body
    assert "48\xa0000,00\xa0zł" in body
    assert 'href="/crm/deals/board/"' in body  # back to the board


def test_a_salesperson_sees_only_their_own_records_and_no_bulk_action_they_may_not_do(portal_a, people):
    client, seller = salesperson(portal_a)
    mine = create(portal_a, "contact", {"first_name": "Zofia", "last_name": "Dąbrowska"}, actor=seller)
    _response, body = page(client, "/crm/contacts/")
    assert titles_in(body) == ["Zofia", "Dąbrowska"]
    assert f'value="{mine.pk}"' in body
    assert "Żółkiewski" not in body
    # Salespeople may not export at all here? They may (own) — the link carries the list's filter.
    assert "/api/v1/export/contact/?format=csv" in body


def test_a_member_without_the_right_to_read_gets_403(portal_a):
    client, seller = salesperson(portal_a)
    with tenant_context(portal_a.tenant):
        seller.role.permissions.filter(entity="lead", action="read").update(scope="none")
    response, _body = page(client, "/crm/leads/")
    assert response.status_code == 403


def test_only_contacts_companies_leads_and_deals_have_this_list(portal_a):
    client = portal_a.client(logged_in=True)
    for slug in ("companies", "leads", "deals"):
        assert page(client, f"/crm/{slug}/")[0].status_code == 200
    assert page(client, "/crm/recordz/")[0].status_code == 404
    from django.http import Http404

    from crm.core.list_views import _list_type

    with pytest.raises(Http404):
        _list_type("tasks")  # tasks have their own pages


def test_an_empty_list_explains_the_record_type_and_offers_to_add_one(portal_a):
    _response, body = page(portal_a.client(logged_in=True), "/crm/leads/")
    assert "No leads yet" in body
    assert "Leads are enquiries" in body
    assert '<a class="btn" href="/crm/leads/new/">+ Add lead</a>' in body


def test_a_filter_without_results_offers_to_clear_it(portal_a, people):
    _response, body = page(portal_a.client(logged_in=True), "/crm/contacts/?q=nieistniejący")
    assert "No contacts match" in body
    assert "Clear filters" in body
    assert "No contacts yet" not in body


# --- Filters, search, sort, columns ------------------------------------------------------------------

def test_conditions_in_the_address_filter_the_list_and_show_as_removable_chips(portal_a, people):
    client = portal_a.client(logged_in=True)
    _response, body = page(client, "/crm/contacts/?m=and&c0f=city&c0o=eq&c0v=Krak%C3%B3w")
    assert titles_in(body) == ["Małgorzata", "Wiśniewska"]
    assert "City is Kraków" in body
    # Any of two conditions.
    _response, body = page(client, "/crm/contacts/?m=or&c0f=city&c0o=eq&c0v=Krak%C3%B3w"
                                   "&c1f=last_name&c1o=starts_with&c1v=kam")
    assert titles_in(body)[1::2] == ["Kamińska", "Wiśniewska"]
    assert "Any of:" in body


def test_a_condition_the_filter_language_refuses_is_shown_with_its_reason_and_left_out(portal_a, people):
    _response, body = page(portal_a.client(logged_in=True), "/crm/contacts/?m=and&c0f=created_at&c0o=eq&c0v=jutro")
    assert "give a date as YYYY-MM-DD" in body
    assert 'class="chip invalid"' in body
    assert len(titles_in(body)) == 6  # the other records still show


def test_quick_filters_mine_created_this_month_and_tags(portal_a, people):
    client = portal_a.client(logged_in=True)
    other_user = User.objects.create_user(email="ewa@alfa-handel.pl", password=None, full_name="Ewa Szymańska")
    with tenant_context(portal_a.tenant):
        other = add_member(user=other_user)
    create(portal_a, "contact", {"last_name": "Cudzy", "owner": other.pk})
    _response, body = page(client, "/crm/contacts/")
    mine_link = re.search(r'<a class="toggle" href="([^"]+)" aria-pressed="false">Mine</a>', body).group(1)
    _response, body = page(client, mine_link.replace("&amp;", "&"))
    assert "Cudzy" not in body and "Żółkiewski" in body
    assert 'aria-pressed="true">Mine</a>' in body
    _response, body = page(client, "/crm/contacts/?m=and&c0f=created_at&c0o=eq&c0r=this_month")
    assert "Created this month" in body and "Cudzy" in body
    # A tag in a cell links to the list of records with that tag.
    _response, body = page(client, "/crm/contacts/?m=and&col=last_name&col=tags")
    assert 'href="/crm/contacts/?m=and&amp;c0f=tags&amp;c0o=has&amp;c0v=VIP&amp;col=last_name&amp;col=tags&amp;sort="' \
        in body
    _response, body = page(client, "/crm/contacts/?m=and&c0f=tags&c0o=has&c0v=VIP")
    assert titles_in(body) == ["Łukasz", "Żółkiewski"]


def test_search_sort_and_columns_come_from_the_address(portal_a, people):
    client = portal_a.client(logged_in=True)
    _response, body = page(client, "/crm/contacts/?q=zolkiewski")
    assert titles_in(body) == ["Łukasz", "Żółkiewski"]
    _response, body = page(client, "/crm/contacts/?m=and&col=last_name&col=city&sort=-last_name")
    assert titles_in(body) == ["Żółkiewski", "Wiśniewska", "Kamińska"]
    assert 'aria-sort="descending"' in body
    assert ">City<" in body and "Phone numbers" not in body.split("<tbody>")[0].split("<thead")[1]
    # Clicking the sorted header again sorts the other way.
    assert "sort=last_name" in body
    # An unknown column is ignored; a sort the language refuses is reported.
    _response, body = page(client, "/crm/contacts/?m=and&col=nope&sort=tags")
    assert "Sorting by “tags”" in body
    assert len(titles_in(body)) == 6


def test_keyset_pages_walk_forward_and_back_without_gaps_or_repeats(portal_a):
    owner = owner_of(portal_a)
    with tenant_context(portal_a.tenant):
        for number in range(30):
            services.create_record(actor=owner, code="company", values={"name": f"Firma {number:02d}"})
    client = portal_a.client(logged_in=True)
    _response, body = page(client, "/crm/companies/?size=25")
    first = titles_in(body)
    assert first == [f"Firma {n:02d}" for n in range(25)]
    assert "30 records" in body
    next_url = re.search(r'<a class="btn sm ghost" href="([^"]+)" rel="next">', body).group(1).replace("&amp;", "&")
    _response, body = page(client, next_url)
    assert titles_in(body) == [f"Firma {n:02d}" for n in range(25, 30)]
    assert 'rel="next"' not in body
    previous = re.search(r'href="([^"]+)" rel="prev">', body).group(1).replace("&amp;", "&")
    _response, body = page(client, previous)
    assert titles_in(body) == first
    # A cursor that was tampered with starts over from the first page.
    _response, body = page(client, "/crm/companies/?size=25&cursor=zmy%C5%9Blony")
    assert titles_in(body) == first and "no longer valid" in body


def test_the_count_is_capped_instead_of_counting_a_whole_table(portal_a, monkeypatch):
    from crm.core import list_views

    monkeypatch.setattr(list_views, "COUNT_CAP", 5)
    owner = owner_of(portal_a)
    with tenant_context(portal_a.tenant):
        for number in range(30):
            services.create_record(actor=owner, code="company", values={"name": f"Firma {number:02d}"})
    _response, body = page(portal_a.client(logged_in=True), "/crm/companies/?size=25")
    assert "5+ records" in body


def test_export_links_carry_the_filter_search_and_sort_of_the_list(portal_a, people):
    _response, body = page(portal_a.client(logged_in=True),
                           "/crm/contacts/?m=and&c0f=city&c0o=eq&c0v=Gda%C5%84sk&sort=city&q=kam")
    link = re.search(r'href="(/api/v1/export/contact/\?format=xlsx[^"]+)"', body).group(1).replace("&amp;", "&")
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(link).query)
    assert json.loads(query["filter"][0]) == {"field": "city", "op": "eq", "value": "Gdańsk"}
    assert query["ordering"] == ["city"] and query["q"] == ["kam"]


def test_htmx_requests_get_only_the_list(portal_a, people):
    response, body = page(portal_a.client(logged_in=True), "/crm/contacts/?q=kam", HTTP_HX_REQUEST="true",
                          HTTP_HX_TARGET="list-page")
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="list-page"') and "<html" not in body
    assert titles_in(body) == ["Agnieszka", "Kamińska"]


def test_the_filter_builder_row_follows_the_chosen_field(portal_a):
    client = portal_a.client(logged_in=True)
    _response, body = page(client, "/crm/deals/filter-row/?i=2&c2f=expected_close_date&add=1")
    assert 'name="c2r"' in body and 'value="this_month"' in body
    assert ">before<" in body
    assert 'id="add-cond" hx-swap-oob="true"' in body and "i=3" in body
    _response, body = page(client, "/crm/deals/filter-row/?i=0&c0f=owner&c0o=in")
    assert '<option value="me">me</option>' in body and "multiple" in body
    _response, body = page(client, "/crm/deals/filter-row/?i=0&c0f=company")
    assert 'data-lookup="/crm/lookup/companies/"' in body


# --- Saved views ------------------------------------------------------------------------------------

def test_a_view_is_saved_from_the_list_and_opens_with_its_filters_columns_and_sort(portal_a, people):
    client = portal_a.client(logged_in=True)
    state = "m=and&c0f=city&c0o=eq&c0v=Krak%C3%B3w&col=last_name&col=city&sort=-last_name"
    response, _body = post(client, "/crm/contacts/views/", {"name": "Klienci z Krakowa", "is_shared": "1",
                                                            "state": state})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        view = SavedView.objects.get(name="Klienci z Krakowa")
    assert view.filters == {"field": "city", "op": "eq", "value": "Kraków"}
    assert view.columns == ["last_name", "city"] and view.ordering == ["-last_name"] and view.is_shared
    assert response["Location"] == f"/crm/contacts/?view={view.pk}"
    _response, body = page(client, response["Location"])
    assert titles_in(body) == ["Wiśniewska"]
    assert f'href="/crm/contacts/?view={view.pk}" aria-current="page"' in body
    assert "Save to" not in body  # nothing changed since


def test_a_view_without_a_name_is_refused_with_the_reason(portal_a, people):
    response, body = post(portal_a.client(logged_in=True), "/crm/contacts/views/", {"name": " ", "state": "m=and"})
    assert response.status_code == 400
    assert "Give the view a name." in body
    with tenant_context(portal_a.tenant):
        assert not SavedView.objects.exists()


def test_own_views_are_updated_renamed_and_deleted_but_not_those_of_others(portal_a, people):
    owner = owner_of(portal_a)
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        view = saved_views.create_saved_view(actor=owner, entity="contact", name="Kraków",
                                             filters={"field": "city", "op": "eq", "value": "Kraków"})
    changed = f"view={view.pk}&m=and&c0f=city&c0o=eq&c0v=Gda%C5%84sk&sort="
    _response, body = page(client, f"/crm/contacts/?{changed}")
    assert "Save to “Kraków”" in body and "Save as new view" in body
    response, _body = post(client, f"/crm/contacts/views/{view.pk}/", {"what": "save", "state": changed})
    assert response.status_code == 302
    response, _body = post(client, f"/crm/contacts/views/{view.pk}/", {"what": "settings", "name": "Gdańsk",
                                                                       "is_shared": "1"})
    with tenant_context(portal_a.tenant):
        view.refresh_from_db()
    assert view.filters == {"field": "city", "op": "eq", "value": "Gdańsk"} and view.name == "Gdańsk"
    assert view.is_shared
    # A colleague sees the shared view but may not change or delete it.
    colleague, _member = salesperson(portal_a)
    _response, body = page(colleague, "/crm/contacts/")
    assert ">\n      Gdańsk<" in body or "Gdańsk<span" in body
    assert post(colleague, f"/crm/contacts/views/{view.pk}/", {"what": "settings", "name": "Moje"})[0].status_code \
        == 403
    assert post(colleague, f"/crm/contacts/views/{view.pk}/delete/", {})[0].status_code == 403
    response, _body = post(client, f"/crm/contacts/views/{view.pk}/delete/", {})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert not SavedView.objects.filter(pk=view.pk).exists()


def test_a_private_view_of_someone_else_is_404(portal_a):
    owner = owner_of(portal_a)
    with tenant_context(portal_a.tenant):
        view = saved_views.create_saved_view(actor=owner, entity="contact", name="Moje prywatne")
    colleague, _member = salesperson(portal_a)
    assert page(colleague, f"/crm/contacts/?view={view.pk}")[0].status_code == 404
    assert page(portal_a.client(logged_in=True), f"/crm/companies/?view={view.pk}")[0].status_code == 404


# --- Bulk actions ----------------------------------------------------------------------------------

def test_bulk_assign_owner_goes_through_the_services_with_history(portal_a, people):
    colleague_user = User.objects.create_user(email="ewa@alfa-handel.pl", password=None, full_name="Ewa Szymańska")
    with tenant_context(portal_a.tenant):
        colleague = add_member(user=colleague_user)
    ids = [people["lukasz"].pk, people["agnieszka"].pk]
    client = portal_a.client(logged_in=True)
    response, _body = post(client, "/crm/contacts/bulk/",
                           {"ids": ids, "action": "owner", "owner": colleague.pk, "state": "m=and&sort=-last_name"})
    assert response.status_code == 302
    assert response["Location"].startswith("/crm/contacts/?") and "sort=-last_name" in response["Location"]
    with tenant_context(portal_a.tenant):
        assert set(Contact.objects.filter(owner=colleague).values_list("pk", flat=True)) == set(ids)
        assert ChangeEntry.objects.filter(entity="contact", record_id__in=ids, field="owner").count() == 2
    _response, body = page(client, response["Location"])
    assert "2 records handed over to Ewa Szymańska." in body


def test_bulk_add_tag_keeps_the_tags_each_record_had(portal_a, people):
    ids = [people["lukasz"].pk, people["malgorzata"].pk]
    response, _body = post(portal_a.client(logged_in=True), "/crm/contacts/bulk/",
                           {"ids": ids, "action": "tag", "tag": " Targi  2026 "})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=people["lukasz"].pk).tags == ["VIP", "Targi 2026"]
        assert Contact.objects.get(pk=people["malgorzata"].pk).tags == ["Targi 2026"]
        assert ChangeEntry.objects.filter(entity="contact", record_id__in=ids, field="tags").count() == 2


def test_bulk_delete_moves_records_to_the_recycle_bin(portal_a, people):
    ids = [people["lukasz"].pk]
    response, _body = post(portal_a.client(logged_in=True), "/crm/contacts/bulk/", {"ids": ids, "action": "delete"})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=ids[0]).deleted_at is not None
        assert ChangeEntry.objects.filter(entity="contact", record_id=ids[0], kind="deleted").exists()
    _response, body = page(portal_a.client(logged_in=True), "/crm/contacts/")
    assert "Żółkiewski" not in body


def test_bulk_stage_change_reports_what_each_deal_lacks_and_changes_nothing(portal_a):
    with tenant_context(portal_a.tenant):
        offer = Stage.objects.get(pipeline=default_pipeline(), position=2)
        offer.required_fields = ["expected_close_date"]
        offer.save()
    ready = create(portal_a, "deal", {"title": "Audyt księgowy", "value": "7800",
                                      "expected_close_date": datetime.date(2026, 6, 30)})
    lacking = create(portal_a, "deal", {"title": "Nasadzenia wiosenne", "value": "22400"})
    client = portal_a.client(logged_in=True)
    response, body = post(client, "/crm/deals/bulk/", {"ids": [ready.pk, lacking.pk], "action": "stage",
                                                       "stage": offer.pk})
    assert response.status_code == 400
    assert "1 of the selected records could not be changed, so nothing was changed" in body
    assert f'<a href="/crm/deals/{lacking.pk}/">Nasadzenia wiosenne</a>: Required to move the deal to' in body
    assert "expected close date" in body
    assert f'value="{ready.pk}" aria-label="Select Audyt księgowy" checked' in body  # the selection stays
    with tenant_context(portal_a.tenant):
        assert set(Deal.objects.values_list("stage_id", flat=True)) == {ready.stage_id}
    # Without the lacking deal the move goes through, with a history line.
    response, _body = post(client, "/crm/deals/bulk/", {"ids": [ready.pk], "action": "stage", "stage": offer.pk})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert Deal.objects.get(pk=ready.pk).stage_id == offer.pk
        assert ChangeEntry.objects.filter(entity="deal", record_id=ready.pk, field="stage").exists()


def test_bulk_refuses_records_the_member_may_not_change_and_changes_none(portal_a, people):
    client, seller = salesperson(portal_a)
    with tenant_context(portal_a.tenant):
        seller.role.permissions.filter(entity="contact", action="read").update(scope="all")
    mine = create(portal_a, "contact", {"last_name": "Moja"}, actor=seller)
    response, body = post(client, "/crm/contacts/bulk/", {"ids": [mine.pk, people["lukasz"].pk], "action": "tag",
                                                          "tag": "Pilne"})
    assert response.status_code == 400
    assert "You have no permission to edit contacts" in body
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=mine.pk).tags == []


def test_bulk_input_mistakes_are_explained(portal_a, people):
    client = portal_a.client(logged_in=True)
    _response, body = post(client, "/crm/contacts/bulk/", {"action": "delete"})
    assert "Select the records first" in body
    _response, body = post(client, "/crm/contacts/bulk/", {"ids": [people["lukasz"].pk], "action": "tag", "tag": ""})
    assert "Type the tag to add." in body
    _response, body = post(client, "/crm/contacts/bulk/", {"ids": [people["lukasz"].pk], "action": "owner"})
    assert "Choose the person who takes the records over." in body
    _response, body = post(client, "/crm/contacts/bulk/", {"ids": [people["lukasz"].pk], "action": "stage"})
    assert "Choose what to do with the selected records." in body


# --- The portal boundary --------------------------------------------------------------------------

def test_a_refused_bulk_action_answers_with_links_back_to_the_list(portal_a, people):
    _response, body = post(portal_a.client(logged_in=True), "/crm/contacts/bulk/",
                           {"ids": [people["lukasz"].pk], "action": "tag", "state": "m=and&sort=-last_name"})
    # The answer comes from /crm/contacts/bulk/: every link of the list says where the list is.
    assert 'href="/crm/contacts/?m=and&amp;col=first_name' in body
    assert 'href="?' not in body


def test_a_record_of_portal_b_by_guessed_id_is_not_found_on_portal_a(portal_a, portal_b):
    theirs = create(portal_b, "contact", {"last_name": "Zieliński"})
    with tenant_context(portal_a.tenant):
        assert not Contact.objects.filter(pk=theirs.pk).exists()
    response, body = post(portal_a.client(logged_in=True), "/crm/contacts/bulk/",
                          {"ids": [theirs.pk], "action": "delete"})
    assert response.status_code == 400 and "No such record" in body
    with tenant_context(portal_b.tenant):
        assert Contact.objects.get(pk=theirs.pk).deleted_at is None


def test_posts_with_a_session_of_portal_a_do_nothing_on_portal_b(portal_a, portal_b):
    theirs = create(portal_b, "contact", {"last_name": "Zieliński"})
    client = portal_a.client(logged_in=True)
    for path, data in [("/crm/contacts/bulk/", {"ids": [theirs.pk], "action": "delete"}),
                       ("/crm/contacts/views/", {"name": "Obca", "state": "m=and"})]:
        response = client.post(path, data, HTTP_HOST=portal_b.host)
        assert response.status_code in (302, 403, 404), path
        if response.status_code == 302:
            assert "/auth/login/" in response["Location"]
    with tenant_context(portal_b.tenant):
        assert Contact.objects.get(pk=theirs.pk).deleted_at is None
        assert not SavedView.objects.exists()


# --- Queries ----------------------------------------------------------------------------------

# Measured: every query of the page (session, member, navigation, custom fields, saved views, the page of
# rows, the capped count, people for the bulk bar, stages on deals, the deals' contacts); none per row.
QUERY_BOUNDS = {"contacts": 9, "deals": 11}


@pytest.mark.parametrize("slug", ["contacts", "deals"])
def test_the_number_of_queries_does_not_grow_with_the_rows(portal_a, slug, django_assert_max_num_queries):
    owner = owner_of(portal_a)
    client = portal_a.client(logged_in=True)
    code = {"contacts": "contact", "deals": "deal"}[slug]
    # Every relation column the record type has, and a condition on the owner.
    address = {"contacts": "/crm/contacts/?m=and&col=first_name&col=last_name&col=company&col=owner&col=created_by"
                           "&col=tags&col=emails&col=phones&c0f=owner&c0o=eq&c0v=me",
               "deals": "/crm/deals/?m=and&col=title&col=stage&col=value&col=company&col=contacts&col=owner"
                        "&col=pipeline&col=source&c0f=owner&c0o=eq&c0v=me"}[slug]
    with tenant_context(portal_a.tenant):
        company = services.create_record(actor=owner, code="company", values={"name": "Hurtownia Ćma S.A."})
        contact = services.create_record(actor=owner, code="contact", values={"last_name": "Lewandowski"})

    def add(count: int) -> None:
        with tenant_context(portal_a.tenant):
            for number in range(count):
                values = {"company": company.pk, "tags": ["VIP"]}
                if code == "deal":
                    values |= {"title": f"Umowa {number}", "contacts": [contact.pk]}
                else:
                    values |= {"last_name": f"Nowak {number}", "phones": ["+48 601 202 303"]}
                services.create_record(actor=owner, code=code, values=values)

    client.get(address)  # the session's first request
    rows = {}
    for count in (3, 27):
        add(count)
        with django_assert_max_num_queries(QUERY_BOUNDS[slug]):
            response = client.get(address)
        rows[count] = len(titles_in(response.content.decode()))
    assert rows == {3: 3 + (code == "contact"), 27: 30 + (code == "contact")}


# --- Formatting helpers ---------------------------------------------------------------------------

def test_money_phone_and_days_are_formatted_for_the_language(portal_a):
    with tenant_context(portal_a.tenant):
        with translation.override("pl"):
            assert format_money(Decimal("48000")) == "48\xa0000,00\xa0zł"
            assert format_money("1250.5", "EUR") == "1\xa0250,50\xa0€"
            assert format_day(datetime.date(2020, 5, 4)) == "4 maj 2020"
        with translation.override("en"):
            assert format_money(48000, "PLN") == "PLN\xa048,000.00"
            assert format_day(datetime.date(2020, 5, 4)) == "May 4, 2020"
        assert format_money(None) == ""
        assert format_phone_number("+48601202303") == "601 202 303"
        assert format_phone_number("+493012345678").startswith("+49 30")
