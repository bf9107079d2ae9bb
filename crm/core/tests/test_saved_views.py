"""Saved views: validated through the filter language, own and shared, changed only by their owner or
an administrator."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core.models import CustomField, FieldType, SavedView
from crm.core.saved_views import (
    NotYourView,
    apply_view,
    create_saved_view,
    delete_saved_view,
    update_saved_view,
    views_visible_to,
    visible_view,
)
from identity.accounts.models import User
from identity.members.models import ApiKey, Membership, Role
from identity.members.permissions import NotPermitted
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db

MY_CLIENTS_IN_LODZ = {"and": [{"field": "owner", "op": "eq", "value": "me"},
                              {"field": "city", "op": "eq", "value": "Łódź"}]}


def _member(email: str, name: str, role_code: str) -> Membership:
    member = add_member(user=User.objects.create_user(email=email, password=None, full_name=name))
    return assign(membership=member, role=Role.objects.get(code=role_code))


@pytest.fixture
def team(portal_a):
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        marta = _member("marta.wojcik@alfa-handel.pl", "Marta Wójcik", "salesperson")
        pawel = _member("pawel.krol@alfa-handel.pl", "Paweł Król", "salesperson")
        nobody = _member("ewa.mazur@alfa-handel.pl", "Ewa Mazur", "no_access")
        CustomField.objects.create(entity="contact", code="nps", label="Ocena NPS", field_type=FieldType.NUMBER)
        yield SimpleNamespace(**locals())


def _view(actor, name="Moi klienci z Łodzi", **kwargs) -> SavedView:
    values = {"entity": "contact", "filters": MY_CLIENTS_IN_LODZ, "columns": ["first_name", "last_name", "custom.nps"],
              "ordering": ["last_name", "-custom.nps"]}
    values.update(kwargs)
    return create_saved_view(actor=actor, name=name, **values)


class TestCreate:
    def test_saves_filters_as_written_after_the_actors_views(self, team):
        first = _view(team.marta)
        second = _view(team.marta, name="  Wszyscy   kontakty ", filters=None, columns=None, ordering=None)
        first.refresh_from_db()
        assert first.filters == MY_CLIENTS_IN_LODZ  # "me" stays "me": it is whoever opens the view
        assert first.columns == ["first_name", "last_name", "custom.nps"]
        assert first.ordering == ["last_name", "-custom.nps"]
        assert first.owner == team.marta and not first.is_shared
        assert (first.position, second.position) == (0, 1)
        assert second.name == "Wszyscy kontakty" and second.filters == {} and second.columns == []

    @pytest.mark.parametrize(("changes", "key", "text"), [
        ({"filters": {"field": "nazwisko", "op": "eq", "value": "Nowak"}}, "filters", "“nazwisko”"),
        ({"filters": {"field": "custom.nps", "op": "gt", "value": "dużo"}}, "filters", "“custom.nps”"),
        ({"filters": {"field": "tags", "op": "eq", "value": "vip"}}, "filters", "“tags”"),
        ({"filters": ["city"]}, "filters", "object"),
        ({"columns": ["last_name", "pesel"]}, "columns", "“pesel”"),
        ({"columns": "last_name"}, "columns", "list"),
        ({"ordering": ["-tags"]}, "ordering", "“tags”"),
        ({"ordering": ["-custom.missing"]}, "ordering", "“custom.missing”"),
        ({"entity": "invoice_line"}, "entity", "“invoice_line”"),
        ({"name": "   "}, "name", "name"),
        ({"name": "x" * 121}, "name", "120"),
    ])
    def test_refuses_what_the_filter_language_refuses(self, team, changes, key, text):
        with pytest.raises(ValidationError) as caught:
            _view(team.marta, **changes)
        assert key in caught.value.message_dict
        assert text in " ".join(caught.value.message_dict[key])
        assert not SavedView.objects.exists()

    def test_needs_a_person_who_may_read_the_records(self, team):
        with pytest.raises(NotPermitted):
            _view(team.nobody)
        key = ApiKey.objects.create(name="Integracja", prefix="testviews001", token_hash="0" * 64,
                                    role=Role.objects.get(code="administrator"))
        with pytest.raises(PermissionDenied):
            _view(key)


class TestChangeAndDelete:
    def test_owner_changes_and_shares_their_view(self, team):
        view = _view(team.marta)
        update_saved_view(actor=team.marta, view=view, name="Łódź – moi", is_shared=True, position=5,
                          ordering=["-created_at"], columns=["last_name", "emails"])
        view.refresh_from_db()
        assert (view.name, view.is_shared, view.position) == ("Łódź – moi", True, 5)
        assert view.ordering == ["-created_at"] and view.columns == ["last_name", "emails"]

    def test_someone_else_may_not_change_or_delete_it(self, team):
        view = _view(team.marta, is_shared=True)
        with pytest.raises(NotYourView) as caught:
            update_saved_view(actor=team.pawel, view=view, name="Przejęty")
        assert "administrator" in str(caught.value)
        with pytest.raises(PermissionDenied):
            delete_saved_view(actor=team.pawel, view=view)
        view.refresh_from_db()
        assert view.name == "Moi klienci z Łodzi"

    def test_an_administrator_may(self, team):
        view = _view(team.marta)
        update_saved_view(actor=team.admin, view=view, is_shared=True)
        assert SavedView.objects.get(pk=view.pk).is_shared
        delete_saved_view(actor=team.admin, view=view)
        assert not SavedView.objects.filter(pk=view.pk).exists()

    def test_owner_deletes(self, team):
        view = _view(team.marta)
        delete_saved_view(actor=team.marta, view=view)
        assert not SavedView.objects.exists()

    def test_changes_are_validated(self, team):
        view = _view(team.marta)
        with pytest.raises(ValidationError) as caught:
            update_saved_view(actor=team.marta, view=view, filters={"field": "city", "op": "gt", "value": 1})
        assert "“city”" in caught.value.message_dict["filters"][0]
        with pytest.raises(ValidationError) as caught:
            update_saved_view(actor=team.marta, view=view, owner=team.pawel)
        assert "owner" in caught.value.message_dict
        with pytest.raises(ValidationError):
            update_saved_view(actor=team.marta, view=view, position=-1)
        view.refresh_from_db()
        assert view.filters == MY_CLIENTS_IN_LODZ and view.owner == team.marta


class TestVisibility:
    def test_own_and_shared_views_own_first(self, team):
        mine = _view(team.marta, name="Moje")
        shared = _view(team.pawel, name="Zespół Łódź", is_shared=True)
        _view(team.pawel, name="Prywatny Pawła")
        _view(team.marta, name="Firmy", entity="company", filters=None, columns=["name"], ordering=["name"])
        assert list(views_visible_to(team.marta, "contact")) == [mine, shared]
        assert [view.name for view in views_visible_to(team.pawel, "contact")] == ["Zespół Łódź", "Prywatny Pawła"]
        assert list(views_visible_to(team.nobody, "contact")) == []
        assert visible_view(team.marta, shared.pk) == shared
        with pytest.raises(Http404):
            visible_view(team.marta, SavedView.objects.get(name="Prywatny Pawła").pk)
        with pytest.raises(Http404):
            visible_view(team.marta, "abc")

    def test_api_keys_see_shared_views(self, team):
        shared = _view(team.pawel, name="Zespół Łódź", is_shared=True)
        _view(team.pawel, name="Prywatny Pawła")
        key = ApiKey.objects.create(name="Raporty", prefix="testviews002", token_hash="0" * 64,
                                    role=Role.objects.get(code="administrator"))
        assert list(views_visible_to(key, "contact")) == [shared]

    def test_a_shared_view_means_me_for_whoever_opens_it(self, team):
        for owner, last_name in [(team.marta, "Wójcik-Nowak"), (team.pawel, "Żółkiewski"), (team.pawel, "Łęcki")]:
            Contact.objects.create(first_name="Jan", last_name=last_name, city="Łódź", owner=owner,
                                   custom={"nps": 9 if last_name == "Łęcki" else 7})
        Contact.objects.create(first_name="Jan", last_name="Kowalski", city="Kraków", owner=team.pawel)
        view = _view(team.marta, is_shared=True, ordering=["-custom.nps", "last_name"])
        assert [c.last_name for c in apply_view(view, Contact.objects.all(), actor=team.marta)] == ["Wójcik-Nowak"]
        assert [c.last_name for c in apply_view(view, Contact.objects.all(), actor=team.pawel)] == [
            "Łęcki", "Żółkiewski"]
