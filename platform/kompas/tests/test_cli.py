"""The `kompas` console command's portal creation, as an operator uses it."""

import pytest
from django.utils import translation

from kompas.cli import build_parser, main, parse_arguments
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_every_documented_subcommand_exists():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"run", "test", "migrate", "create-tenant", "bench", "web", "worker", "manage"} <= set(commands)


@pytest.mark.parametrize("argv", [
    ["--durations=15"], ["-m", "not browser", "tenants", "tests/test_crm_jobs.py"], ["tenants", "-q", "-x"], []])
def test_test_and_manage_hand_every_argument_over_options_first_or_not(argv):
    assert parse_arguments(["test", *argv]).pytest_args == argv
    assert parse_arguments(["manage", *argv]).manage_args == argv


def test_create_tenant_creates_a_portal_with_its_owner(portals, capsys):
    code = main(["create-tenant", "--name", "Delta Logistyka", "--slug", "delta",
                 "--owner-email", "ewa.mazur@delta-logistyka.pl", "--owner-password", "Bardzo-tajne-42"])
    assert code == 0
    assert "Created portal Delta Logistyka at http://delta.kompas.test/" in capsys.readouterr().out
    assert Tenant.objects.filter(slug="delta").exists()


def test_create_tenant_explains_a_refused_address_and_creates_nothing(portals, capsys):
    before = Tenant.objects.count()
    with translation.override("en"):
        code = main(["create-tenant", "--name", "Zła nazwa", "--slug", "admin", "--owner-email", "x@firma.pl"])
    assert code == 2
    assert "slug: This portal address is reserved" in capsys.readouterr().err
    assert Tenant.objects.count() == before
