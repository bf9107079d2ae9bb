"""Custom domains: validation, one owner per domain, DNS verification against a real DNS server
on loopback, routing only once verified, the TLS ask endpoint, the plan gate and isolation."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone, translation

from kompas.testing.fixtures import in_own_connection
from tenants import domains, selectors
from tenants.models import AuditEvent, Domain, Tenant
from tenants.routing import tenant_for_host
from tenants.tests.loopback_dns import dns_server, silent_nameserver

pytestmark = pytest.mark.django_db

TARGET = "portals.kompas.test"  # CUSTOM_DOMAIN_TARGET's default with BASE_DOMAIN=kompas.test


@pytest.fixture
def dns(settings):
    """A real DNS server on 127.0.0.1 that the verification asks (settings.DNS_NAMESERVERS)."""
    with dns_server() as (zone, nameserver):
        settings.DNS_NAMESERVERS = [nameserver]
        settings.DNS_TIMEOUT_SECONDS = 2.0
        zone.add(f"{TARGET}. 60 IN A 192.0.2.10")
        yield zone


def _add(portal, name: str = "crm.alfa-handel.pl") -> Domain:
    return domains.add_custom_domain(tenant=portal.tenant, domain=name, actor=portal.owner)


def _publish(zone, domain: Domain, *, token: str | None = None, cname: bool = True) -> None:
    zone.add(f'_kompas-verify.{domain.domain}. 60 IN TXT "{token or domain.verification_token}"')
    if cname:
        zone.add(f"{domain.domain}. 60 IN CNAME {TARGET}.")


def _problems(domain: Domain) -> list[str]:
    domain.refresh_from_db()
    with translation.override("en"):
        return selectors.check_problems(domain)


# --- Validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter a domain name"),
    ("crm alfa.pl", "without a path, a port"),
    ("crm.alfa.pl:8443", "without a path, a port"),
    ("https://crm.alfa.pl/login", "without a path, a port"),
    ("alfahandel", "with a dot"),
    ("-crm.alfa.pl", "no part may start or end with a hyphen"),
    ("crm_1.alfa.pl", "only letters, digits and hyphens"),
    ("192.168.1.10", "not an IP address"),
    ("a" * 64 + ".pl", "1 to 63 characters"),
    (".".join(["a" * 60] * 5) + ".pl", "at most 253 characters"),
    ("kompas.test", "belong to the platform"),
    ("beta.kompas.test", "belong to the platform"),
    (TARGET, "belong to the platform"),
    ("crm.firma.localhost", "not reachable from the internet"),
])
def test_a_refused_domain_names_the_reason(portal_a, raw, reason):
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        domains.validate_custom_domain(raw, tenant=portal_a.tenant)
    assert reason in refused.value.message_dict["domain"][0]


@pytest.mark.parametrize(("raw", "canonical"), [
    ("CRM.Alfa-Handel.PL.", "crm.alfa-handel.pl"),
    ("https://crm.alfa-handel.pl/", "crm.alfa-handel.pl"),
    ("  www.alfa-handel.pl ", "www.alfa-handel.pl"),
    ("żółw.pl", "xn--w-uga1v8h.pl"),
])
def test_a_domain_is_stored_lower_case_and_as_punycode(portal_a, raw, canonical):
    assert domains.validate_custom_domain(raw, tenant=portal_a.tenant) == canonical


def test_adding_stores_a_pending_domain_with_a_random_token_and_audits_it(portal_a):
    first, second = _add(portal_a, "crm.alfa-handel.pl"), _add(portal_a, "sklep.alfa-handel.pl")
    assert first.is_custom and not first.is_primary and first.verified_at is None
    assert first.verification_token.startswith("kompas-") and first.verification_token != second.verification_token
    event = AuditEvent.objects.get(action="domain.added", details__domain="crm.alfa-handel.pl")
    assert event.tenant_id == portal_a.tenant.pk and event.actor_id == portal_a.owner.pk


def test_a_domain_of_another_portal_is_refused_in_any_letter_case_without_naming_it(portal_a, portal_b):
    _add(portal_b, "crm.wspolna.pl")
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        _add(portal_a, "CRM.Wspolna.PL")
    message = refused.value.message_dict["domain"][0]
    assert "already connected to another portal" in message and portal_b.tenant.name not in message
    with translation.override("en"), pytest.raises(ValidationError) as again:
        _add(portal_b, "crm.wspolna.pl")
    assert "already added to your portal" in again.value.message_dict["domain"][0]


def test_two_portals_racing_for_one_domain_get_exactly_one_row(portal_a, portal_b):
    """B passes validation while A's row is not committed yet; the unique index decides."""
    name = "wyscig.example-race.pl"
    inserted, outcome = threading.Event(), {}

    def portal_a_adds_and_waits_for_b():
        with transaction.atomic():
            _add(portal_a, name)
            inserted.set()
            deadline = time.monotonic() + 10
            with connection.cursor() as cursor:  # commit only once B is blocked on the unique index
                while time.monotonic() < deadline:
                    cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.02)

    def portal_b_adds():
        inserted.wait(10)
        try:
            with translation.override("en"):
                _add(portal_b, name)
        except ValidationError as error:
            outcome["error"] = error.message_dict["domain"][0]

    racer_a = threading.Thread(target=in_own_connection, args=(portal_a_adds_and_waits_for_b,))
    racer_a.start()
    try:
        in_own_connection(portal_b_adds)
        racer_a.join()
        assert "already connected to another portal" in outcome["error"]
        assert list(Domain.objects.filter(domain=name).values_list("tenant_id", flat=True)) == [portal_a.tenant.pk]
    finally:
        racer_a.join()
        in_own_connection(lambda: (Domain.objects.filter(domain=name).delete(),
                                   AuditEvent.objects.filter(details__domain=name).delete()))


def test_a_portal_has_at_most_a_limited_number_of_custom_domains(portal_a, monkeypatch):
    monkeypatch.setattr(domains, "MAX_CUSTOM_DOMAINS", 2)
    _add(portal_a, "a.alfa-handel.pl")
    _add(portal_a, "b.alfa-handel.pl")
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        _add(portal_a, "c.alfa-handel.pl")
    assert "at most 2 custom domains" in refused.value.message_dict["domain"][0]
    assert not Domain.objects.filter(domain="c.alfa-handel.pl").exists()


# --- Verification against a real DNS server on loopback -------------------------------------------

def test_the_right_token_verifies_the_domain_and_the_cname_is_confirmed(portal_a, dns):
    domain = _add(portal_a)
    _publish(dns, domain)
    report = domains.check_domain(domain, actor=portal_a.owner)
    assert report.txt_ok and report.cname_ok
    domain.refresh_from_db()
    assert domain.verified_at is not None and domain.last_checked_at is not None
    assert domain.last_check_error == ""
    assert AuditEvent.objects.filter(action="domain.verified", tenant=portal_a.tenant,
                                     details__domain=domain.domain, details__cname_ok=True).count() == 1
    assert ("_kompas-verify.crm.alfa-handel.pl", "TXT") in dns.queries


def test_the_token_alone_verifies_but_a_missing_cname_is_reported(portal_a, dns):
    domain = _add(portal_a)
    _publish(dns, domain, cname=False)
    dns.add(f"{domain.domain}. 60 IN A 203.0.113.7")  # still pointing at the old server
    report = domains.check_domain(domain)
    assert report.txt_ok and not report.cname_ok
    assert domain.verified_at is not None
    assert _problems(domain) == [f"{domain.domain} has no CNAME record yet: point it at {TARGET} so visitors "
                                 "reach the portal."]


def test_a_cname_pointing_elsewhere_is_reported(portal_a, dns):
    domain = _add(portal_a)
    _publish(dns, domain, cname=False)
    dns.add(f"{domain.domain}. 60 IN CNAME ghs.example-host.com.")
    assert domains.check_domain(domain).problems == ["cname_wrong"]


def test_an_apex_with_our_addresses_counts_as_pointing_at_us(portal_a, dns):
    domain = _add(portal_a, "alfa-handel.pl")
    _publish(dns, domain, cname=False)
    dns.add("alfa-handel.pl. 60 IN A 192.0.2.10")  # the provider's ALIAS flattened to our address
    report = domains.check_domain(domain)
    assert report.txt_ok and report.cname_ok and report.problems == []


def test_a_wrong_token_does_not_verify_and_says_why(portal_a, dns):
    domain = _add(portal_a)
    _publish(dns, domain, token="kompas-0123456789abcdef0123456789abcdef")
    assert not domains.check_domain(domain).txt_ok
    assert domain.verified_at is None
    problems = _problems(domain)
    assert "The TXT record _kompas-verify.crm.alfa-handel.pl exists but does not contain this domain's verification" \
        in problems[0]
    assert not AuditEvent.objects.filter(action="domain.verified").exists()


def test_a_missing_txt_record_is_reported_whether_the_name_exists_or_not(portal_a, dns):
    domain = _add(portal_a)
    dns.add(f"{domain.domain}. 60 IN CNAME {TARGET}.")
    domains.check_domain(domain)  # NXDOMAIN for _kompas-verify.<domain>
    assert domain.last_check_error == "txt_missing"
    dns.add(f"_kompas-verify.{domain.domain}. 60 IN A 192.0.2.99")  # the name exists, without TXT
    domains.check_domain(domain)
    assert domain.last_check_error == "txt_missing" and domain.verified_at is None
    assert "The TXT record _kompas-verify.crm.alfa-handel.pl does not exist yet" in _problems(domain)[0]


def test_a_domain_that_does_not_exist_is_reported(portal_a, dns):
    domain = _add(portal_a, "nie-ma-takiej.example-nx.pl")
    domains.check_domain(domain)
    assert domain.last_check_error == "txt_missing,domain_missing"
    assert "The domain nie-ma-takiej.example-nx.pl does not exist in DNS" in _problems(domain)[1]


def test_a_dns_server_that_does_not_answer_is_a_timeout_not_a_verdict(portal_a, settings):
    domain = _add(portal_a)
    with silent_nameserver() as nameserver:
        settings.DNS_NAMESERVERS, settings.DNS_TIMEOUT_SECONDS = [nameserver], 0.6
        started = time.monotonic()
        report = domains.check_domain(domain)
    assert time.monotonic() - started < 5
    assert report.problems == ["dns_timeout"] and not report.txt_ok
    domain.refresh_from_db()
    assert domain.verified_at is None and domain.last_checked_at is not None
    assert "did not answer in time" in _problems(domain)[0]


def test_a_failing_dns_server_is_reported_as_an_error(portal_a, dns):
    domain = _add(portal_a)
    dns.broken.add(f"_kompas-verify.{domain.domain}")
    assert domains.check_domain(domain).problems == ["dns_error"]


def test_a_verified_domain_stays_verified_when_the_txt_record_is_removed_later(portal_a, dns):
    domain = _add(portal_a)
    _publish(dns, domain)
    domains.check_domain(domain)
    verified_at = domain.verified_at
    dns.clear()
    domains.check_domain(domain)
    domain.refresh_from_db()
    assert domain.verified_at == verified_at
    assert AuditEvent.objects.filter(action="domain.verified", details__domain=domain.domain).count() == 1


def test_the_job_checks_pending_domains_with_backoff_and_gives_up_after_a_week(portal_a, dns):
    fresh, checked_recently, old_hour, abandoned = (
        _add(portal_a, name) for name in ("a.alfa-handel.pl", "b.alfa-handel.pl", "c.alfa-handel.pl",
                                          "d.alfa-handel.pl"))
    now = timezone.now()
    Domain.objects.filter(pk=checked_recently.pk).update(last_checked_at=now - timedelta(minutes=2))
    # Two days old, checked 90 minutes ago: its interval is two hours now, so not due yet.
    Domain.objects.filter(pk=old_hour.pk).update(added_at=now - timedelta(days=2),
                                                 last_checked_at=now - timedelta(minutes=90))
    Domain.objects.filter(pk=abandoned.pk).update(added_at=now - timedelta(days=8))
    _publish(dns, fresh)
    assert [domain.domain for domain in selectors.domains_due_for_check(now)] == ["a.alfa-handel.pl"]
    assert domains.check_due_domains() == 1
    fresh.refresh_from_db()
    assert fresh.verified_at is not None
    assert selectors.domains_due_for_check(now + timedelta(minutes=6)) == [checked_recently]
    abandoned.refresh_from_db()
    assert selectors.automatic_checks_stopped(abandoned)


def test_the_job_is_a_control_plane_job_on_the_schedule():
    from tenants import jobs

    assert (jobs.check_pending_domains, "*/5 * * * *") in jobs.PERIODIC_JOBS
    assert jobs.check_pending_domains.options.get("control_plane") is True


# --- Routing -------------------------------------------------------------------------------------

def test_an_unverified_domain_never_routes_and_a_verified_one_does_at_once(portal_a, dns):
    domain = _add(portal_a)
    assert tenant_for_host(domain.domain) is None  # now cached as unknown
    response = Client(HTTP_HOST=domain.domain).get("/auth/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and portal_a.tenant.name not in response.content.decode()
    _publish(dns, domain)
    domains.check_domain(domain)
    assert tenant_for_host(domain.domain).pk == portal_a.tenant.pk  # the cache forgot "unknown"
    response = Client(HTTP_HOST=domain.domain).get("/auth/login/")
    assert response.status_code == 200 and portal_a.tenant.name in response.content.decode()
    domains.remove_custom_domain(tenant=portal_a.tenant, domain_id=domain.pk, actor=portal_a.owner)
    assert tenant_for_host(domain.domain) is None
    assert Client(HTTP_HOST=domain.domain).get("/auth/login/").status_code == 404


def test_a_www_custom_domain_routes_by_its_exact_name(portal_a, dns):
    domain = _add(portal_a, "www.alfa-handel.pl")
    _publish(dns, domain)
    domains.check_domain(domain)
    assert tenant_for_host("www.alfa-handel.pl").pk == portal_a.tenant.pk


# --- Primary and removal -------------------------------------------------------------------------

def _verified(portal, dns, name: str = "crm.alfa-handel.pl") -> Domain:
    domain = _add(portal, name)
    _publish(dns, domain)
    domains.check_domain(domain)
    return domain


def test_a_verified_domain_becomes_primary_and_removing_it_falls_back_to_the_subdomain(portal_a, dns):
    domain = _verified(portal_a, dns)
    domains.set_primary_domain(tenant=portal_a.tenant, domain_id=domain.pk, actor=portal_a.owner)
    assert selectors.primary_host(portal_a.tenant) == domain.domain
    assert Domain.objects.filter(tenant=portal_a.tenant, is_primary=True).count() == 1
    assert AuditEvent.objects.filter(action="domain.primary_changed", details__domain=domain.domain,
                                     details__previous=portal_a.host).exists()
    domains.remove_custom_domain(tenant=portal_a.tenant, domain_id=domain.pk, actor=portal_a.owner)
    assert selectors.primary_host(portal_a.tenant) == portal_a.host
    assert AuditEvent.objects.filter(action="domain.removed", details__domain=domain.domain,
                                     details__was_primary=True).exists()


def test_an_unverified_domain_cannot_be_primary(portal_a):
    domain = _add(portal_a)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        domains.set_primary_domain(tenant=portal_a.tenant, domain_id=domain.pk)
    assert "Only a verified domain can be the primary address" in refused.value.messages[0]
    assert selectors.primary_host(portal_a.tenant) == portal_a.host


def test_services_refuse_another_portals_domain_and_the_subdomain_cannot_be_removed(portal_a, portal_b, dns):
    domain_b = _verified(portal_b, dns, "crm.beta-serwis.pl")
    with pytest.raises(Domain.DoesNotExist):
        domains.set_primary_domain(tenant=portal_a.tenant, domain_id=domain_b.pk)
    with pytest.raises(Domain.DoesNotExist):
        domains.remove_custom_domain(tenant=portal_a.tenant, domain_id=domain_b.pk)
    subdomain = Domain.objects.get(domain=portal_a.host)
    with pytest.raises(Domain.DoesNotExist):
        domains.remove_custom_domain(tenant=portal_a.tenant, domain_id=subdomain.pk)
    assert Domain.objects.filter(pk__in=[domain_b.pk, subdomain.pk]).count() == 2


# --- TLS ask endpoint ----------------------------------------------------------------------------

def _ask(domain: str, host: str = "localhost:2019") -> int:
    return Client(HTTP_HOST=host).get("/internal/tls/ask", {"domain": domain}).status_code


def test_caddy_may_get_certificates_only_for_verified_domains_of_live_portals(portal_a, dns):
    verified = _verified(portal_a, dns)
    pending = _add(portal_a, "czeka.alfa-handel.pl")
    assert _ask(verified.domain) == 200
    assert _ask(verified.domain.upper() + ".") == 200
    assert _ask(pending.domain) == 404
    assert _ask("nieznana.example.pl") == 404
    assert _ask("") == 404
    assert _ask(portal_a.host) == 200  # the portal's own subdomain
    assert _ask("kompas.test") == 200 and _ask("www.kompas.test") == 200  # the public site
    assert _ask("zgadywany.kompas.test") == 404  # no wildcard: only existing portals


@pytest.mark.parametrize(("status", "answer"), [
    (Tenant.Status.TRIAL, 200), (Tenant.Status.ACTIVE, 200), (Tenant.Status.PAST_DUE, 200),
    (Tenant.Status.SUSPENDED, 200), (Tenant.Status.CLOSED, 404), (Tenant.Status.DELETION_SCHEDULED, 404),
])
def test_the_ask_answer_follows_the_portal_state(portal_a, dns, status, answer):
    verified = _verified(portal_a, dns)
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=status)
    assert _ask(verified.domain) == answer
    assert _ask(portal_a.host) == answer


def test_the_ask_endpoint_answers_on_any_host_before_routing_and_only_to_get(portal_a, portal_b, dns):
    verified = _verified(portal_a, dns)
    for host in ("localhost", "127.0.0.1:8000", portal_b.host, "nieznany.example.org"):
        assert _ask(verified.domain, host=host) == 200
    client = Client(HTTP_HOST="localhost")
    assert client.post("/internal/tls/ask", {"domain": verified.domain}).status_code == 405
