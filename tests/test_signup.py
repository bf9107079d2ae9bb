"""Self-service signup on the public site, end to end: form → e-mail over real SMTP → link →
portal with owner, trial and pipeline → handover → signed in on the portal's host.

Also: every refused address and its reason, rate limits, no account enumeration, expired and
used links, the handover token's rules, and two verifications racing for one address.
"""

from __future__ import annotations

import itertools
import re
import statistics
import threading
import time
import uuid

import pytest
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from billing.models import Subscription
from identity.accounts.models import User
from identity.members import handover
from identity.members.models import Membership
from kompas.site import signup as signups
from kompas.testing.fixtures import PASSWORD, in_own_connection, verify_two_factor
from tenants import pool
from tenants.models import PoolSchema, Signup, Tenant

pytestmark = pytest.mark.django_db

PUBLIC = "kompas.test"
GOOD_PASSWORD = "Kompas-na-start-2026"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    """Every test counts on its own: the limits would otherwise add up over the whole run."""
    monkeypatch.setattr(signups, "_KEY_PREFIX", f"kompas-signup-rate-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _after_commit(django_capture_on_commit_callbacks):
    global run_after_commit
    run_after_commit = django_capture_on_commit_callbacks


def _visitor(ip: str = "203.0.113.10", language: str = "en") -> Client:
    return Client(HTTP_HOST=PUBLIC, HTTP_ACCEPT_LANGUAGE=language, REMOTE_ADDR=ip)


def _form(**changes) -> dict:
    data = {"kind": "company", "full_name": "Anna Nowak", "email": "anna.nowak@gamma-meble.pl",
            "password": GOOD_PASSWORD, "company_name": "Gamma Meble Sp. z o.o.", "slug": "gamma-meble",
            "website": ""}
    data.update(changes)
    return data


def _sign_up(client: Client, **changes):
    with run_after_commit(execute=True):
        return client.post("/signup/", _form(**changes))


def _link_path(message) -> str:
    return re.search(rf"http://{re.escape(PUBLIC)}(/signup/confirm/\S+/)", message.get_content()).group(1)


def _confirm(client: Client, path: str, **data):
    signup = Signup.objects.get(token_hash=signups.token_hash(path.rstrip("/").rsplit("/", 1)[1]))
    return client.post(path, {"slug": signup.slug, **data})


# --- The whole flow ----------------------------------------------------------------------------

def test_signup_email_link_portal_and_signed_in_on_the_portal_host(portals, smtp_inbox):
    visitor = _visitor()
    page = visitor.get("/signup/")
    assert page.status_code == 200
    assert 'hx-get="/signup/address/"' in page.content.decode()

    response = _sign_up(visitor)
    assert response.status_code == 302 and response["Location"] == "/signup/sent/"
    assert "anna.nowak@gamma-meble.pl" in visitor.get("/signup/sent/").content.decode()
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == "anna.nowak@gamma-meble.pl"
    assert "gamma-meble.kompas.test" in message["Subject"]
    path = _link_path(message)
    assert not Tenant.objects.filter(slug="gamma-meble").exists()  # nothing before the link

    confirm_page = visitor.get(path)
    assert confirm_page.status_code == 200 and "Create my portal" in confirm_page.content.decode()
    assert not Tenant.objects.filter(slug="gamma-meble").exists()  # opening the link changes nothing

    pool.fill(size=1)  # what the periodic job keeps ready: signup never runs migrations
    [pooled] = PoolSchema.objects.filter(claimed_at__isnull=True).values_list("schema_name", flat=True)
    browser = Client(HTTP_HOST="gamma-meble.kompas.test", HTTP_ACCEPT_LANGUAGE="en")
    portals["a"].client(logged_in=True).get("/")  # a warm process, as in production: portal URLs loaded
    marks = [time.perf_counter()]
    response = visitor.post(path, {"slug": "gamma-meble"})  # the click
    marks.append(time.perf_counter())
    location = response["Location"]
    handed = browser.get(location.split("gamma-meble.kompas.test", 1)[1])  # the redirect the browser follows
    marks.append(time.perf_counter())
    home = browser.get(handed["Location"])
    marks.append(time.perf_counter())
    steps = [round((end - start) * 1000) for start, end in itertools.pairwise(marks)]
    print(f"\nlink click → signed-in portal page (test client, schema from the pool): {sum(steps)} ms "
          f"(create {steps[0]}, handover {steps[1]}, dashboard {steps[2]})")
    assert response.status_code == 302 and location.startswith("http://gamma-meble.kompas.test/auth/handover/")
    assert handed.status_code == 302 and handed["Location"] == "/"
    assert home.status_code == 200
    assert "Welcome, Anna" in home.content.decode()

    tenant = Tenant.objects.get(slug="gamma-meble")
    assert tenant.schema_name == pooled
    assert (tenant.name, tenant.kind, tenant.language) == ("Gamma Meble Sp. z o.o.", "company", "en")
    owner = User.objects.get(email="anna.nowak@gamma-meble.pl")
    assert owner.full_name == "Anna Nowak" and check_password(GOOD_PASSWORD, owner.password)
    subscription = Subscription.objects.get(tenant=tenant)
    assert subscription.status == Subscription.Status.TRIALING and subscription.plan.code == "enterprise"
    assert 29 <= (subscription.trial_ends_at - timezone.now()).days <= 30
    with tenant_context(tenant):
        from crm.deals.models import Pipeline

        assert Membership.objects.get(user=owner).is_owner
        assert Pipeline.objects.filter(is_default=True).exists()
    signup = Signup.objects.get(email="anna.nowak@gamma-meble.pl")
    assert signup.completed_at and signup.tenant == tenant and signup.password_hash == ""

    # The public site's session never works on the portal, and the portal's never elsewhere.
    assert visitor.get("/", HTTP_HOST="gamma-meble.kompas.test").status_code == 302
    assert browser.get("/", HTTP_HOST=portals["a"].host).status_code == 302

    # The link and the handover work once.
    again = visitor.get(path)
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert "http://gamma-meble.kompas.test/auth/login/" in again.content.decode()
    assert visitor.post(path, {"slug": "gamma-meble"}).status_code == 410
    second = Client(HTTP_HOST="gamma-meble.kompas.test").get(location.split("gamma-meble.kompas.test", 1)[1])
    assert second.status_code == 302 and second["Location"].startswith("/auth/login/")


def test_an_individual_needs_no_company_name_and_the_portal_is_named_after_them(portals, smtp_inbox):
    visitor = _visitor()
    response = _sign_up(visitor, kind="individual", company_name="", full_name="Piotr Wiśniewski",
                        email="piotr@wisniewski.dev", slug="piotr-wisniewski")
    assert response.status_code == 302
    _confirm(visitor, _link_path(smtp_inbox.wait_for(1)[0]))
    tenant = Tenant.objects.get(slug="piotr-wisniewski")
    assert (tenant.name, tenant.kind) == ("Piotr Wiśniewski", "individual")


def test_a_company_needs_its_name_and_the_password_must_pass_djangos_validators(portals, smtp_inbox):
    response = _visitor().post("/signup/", _form(company_name="", password="1234567890"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please enter the company name" in page
    assert "This password is entirely numeric." in page
    assert smtp_inbox.wait_for(1, timeout=0.3) == []


def test_the_link_in_another_browser_asks_for_the_password_chosen_at_signup(portals, smtp_inbox):
    _sign_up(_visitor())
    path = _link_path(smtp_inbox.wait_for(1)[0])
    phone = _visitor(ip="198.51.100.7")
    assert "The password you chose when signing up" in phone.get(path).content.decode()
    refused = _confirm(phone, path, password="Zgadywane-haslo-1")
    assert refused.status_code == 400 and "not the password you chose" in refused.content.decode()
    assert not Tenant.objects.filter(slug="gamma-meble").exists()
    assert _confirm(phone, path, password=GOOD_PASSWORD).status_code == 302
    assert Tenant.objects.filter(slug="gamma-meble").exists()


def test_an_existing_account_is_told_so_by_email_only_and_signs_in_with_its_own_password(portal_a, smtp_inbox):
    visitor = _visitor()
    response = _sign_up(visitor, email=portal_a.owner.email.upper(), password="Inne-haslo-z-formularza-9",
                        slug="alfa-druga")
    assert response.status_code == 302 and response["Location"] == "/signup/sent/"
    [message] = smtp_inbox.wait_for(1)
    body = message.get_content()
    assert "You already have a Kompas account" in message["Subject"]
    assert "http://alfa.kompas.test/" in body  # how to reach the portals they have
    assert "the password typed in the sign-up form is not used" in body

    path = _link_path(message)
    assert "with your existing password" in visitor.get(path).content.decode()
    ready = _confirm(visitor, path)
    assert ready.status_code == 200  # no handover: the password is proven on the portal's login page
    assert "http://alfa-druga.kompas.test/auth/login/" in ready.content.decode()
    tenant = Tenant.objects.get(slug="alfa-druga")
    owner = User.objects.get(pk=portal_a.owner.pk)
    assert check_password(PASSWORD, owner.password)  # the form's password changed nothing
    with tenant_context(tenant):
        assert Membership.objects.get(user=owner).is_owner
    login = Client(HTTP_HOST="alfa-druga.kompas.test")
    response = login.post("/auth/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302 and login.get("/").status_code == 200


# --- The portal address ------------------------------------------------------------------------

REFUSED = [
    ("ab", "at least 3 characters"),
    ("a" * 64, "at most 63 characters"),
    ("-alfa", "cannot start or end with a hyphen"),
    ("alfa-", "cannot start or end with a hyphen"),
    ("al_fa", "only lower-case letters a–z, digits and hyphens"),
    ("al fa", "only lower-case letters a–z, digits and hyphens"),
    ("żółw", "only lower-case letters a–z, digits and hyphens"),
    ("xn--zw-fka", "reserved for international names"),
    *[(name, "is reserved") for name in ("www", "api", "admin", "mail", "static", "app", "status", "staff",
                                          "billing", "help", "support", "docs", "blog", "WWW")],
    ("alfa", "already taken"),
    ("ALFA", "already taken"),
    ("Beta", "already taken"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_the_live_check_names_the_reason_for_every_refused_address(portals, address, reason):
    response = _visitor().get("/signup/address/", {"slug": address, "email": "ktos@example.pl"})
    assert response.status_code == 200  # htmx swaps 200s only
    assert reason in response.content.decode()


@pytest.mark.parametrize(("address", "reason"), [REFUSED[0], REFUSED[4], REFUSED[8], REFUSED[-2]])
def test_without_javascript_the_form_refuses_the_same_addresses_on_submit(portals, address, reason):
    response = _visitor().post("/signup/", _form(slug=address))
    assert response.status_code == 400 and reason in response.content.decode()


def test_the_live_check_says_a_free_address_is_free_and_offers_one_for_a_taken_one(portals):
    free = _visitor().get("/signup/address/", {"slug": "Gamma-Meble"}).content.decode()
    assert "<strong>gamma-meble.kompas.test</strong> is free" in free
    taken = _visitor().get("/signup/address/", {"slug": "alfa"}).content.decode()
    assert 'data-address="alfa-crm"' in taken
    assert _visitor().get("/signup/address/", {"slug": ""}).content.decode().strip() == ""


def test_a_pending_signup_reserves_its_address_for_everyone_else(portals, smtp_inbox):
    assert _sign_up(_visitor()).status_code == 302
    other = _visitor().get("/signup/address/", {"slug": "gamma-meble", "email": "ktos.inny@example.pl"})
    assert "already taken" in other.content.decode()
    same = _visitor().get("/signup/address/", {"slug": "gamma-meble", "email": "anna.nowak@gamma-meble.pl"})
    assert "is free" in same.content.decode()  # the same person may ask again
    refused = _visitor(ip="198.51.100.9").post("/signup/", _form(email="ktos.inny@example.pl"))
    assert refused.status_code == 400 and "already taken" in refused.content.decode()


# --- Abuse basics ------------------------------------------------------------------------------

def test_five_signups_an_hour_from_one_ip_then_a_refusal_saying_when(portals, smtp_inbox):
    visitor = _visitor(ip="192.0.2.50")
    for n in range(5):
        assert _sign_up(visitor, email=f"osoba{n}@example.pl", slug=f"firma-{n}").status_code == 302
    refused = _sign_up(visitor, email="osoba5@example.pl", slug="firma-5")
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert "Too many sign-ups from your network. Please try again in 60 minutes." in refused.content.decode()
    assert len(smtp_inbox.wait_for(5)) == 5 and not Signup.objects.filter(email="osoba5@example.pl").exists()
    assert _sign_up(_visitor(ip="192.0.2.51"), email="osoba5@example.pl", slug="firma-5").status_code == 302


def test_three_signups_a_day_for_one_email_address_tags_included(portals, smtp_inbox):
    for n, email in enumerate(["ewa@example.pl", "EWA+crm@example.pl", "ewa+2@example.pl"]):
        assert _sign_up(_visitor(ip=f"192.0.2.{60 + n}"), email=email, slug=f"ewa-{n}").status_code == 302
    refused = _sign_up(_visitor(ip="192.0.2.70"), email="ewa+4@example.pl", slug="ewa-4")
    assert refused.status_code == 429
    assert "Too many sign-ups for this e-mail address. Please try again in 24 hours." in refused.content.decode()


def test_rate_limit_keys_live_in_the_public_namespace_not_in_a_portals(portal_a):
    limit = signups.Limit("ip", 1, 60)
    assert signups.hit(limit, "192.0.2.99") == 0
    count_key, _since = signups._rate_keys(limit, "192.0.2.99")
    assert cache.get(count_key) == 1  # on the public site
    with tenant_context(portal_a.tenant):
        assert cache.get(count_key) is None  # a portal's keys carry its own schema
        assert signups.hit(limit, "192.0.2.99") > 0  # and the limit still counts in public


def test_the_honeypot_looks_like_success_but_stores_and_sends_nothing(portals, smtp_inbox):
    response = _sign_up(_visitor(), website="http://spam.example")
    assert response.status_code == 302 and response["Location"] == "/signup/sent/"
    assert not Signup.objects.exists()
    assert smtp_inbox.wait_for(1, timeout=0.3) == []


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_no_account_enumeration_same_answer_same_work_same_timing_class(portal_a, smtp_inbox, settings, monkeypatch):
    # Production's Argon2, so that hashing only for one kind of address would show in the timing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hashed = []
    real_make_password = signups.make_password
    monkeypatch.setattr(signups, "make_password", lambda value: hashed.append(1) or real_make_password(value))
    known, unknown = portal_a.owner.email, "nikt.taki@example.pl"
    timings: dict[str, list[float]] = {known: [], unknown: []}
    pages = {}
    for round_ in range(4):
        for email in (known, unknown) if round_ % 2 else (unknown, known):
            monkeypatch.setattr(signups, "_KEY_PREFIX", f"kompas-signup-rate-test-{uuid.uuid4().hex[:8]}")
            visitor = _visitor(ip=f"192.0.2.{100 + round_}")
            before = len(hashed)
            started = time.perf_counter()
            response = _sign_up(visitor, email=email, slug=f"enum-{round_}-{len(timings[email])}{email[:3]}")
            timings[email].append(time.perf_counter() - started)
            assert len(hashed) == before + 1
            pages[email] = (response.status_code, response["Location"],
                            _without_csrf(visitor.get("/signup/sent/").content.decode().replace(email, "EMAIL")))
    assert pages[known] == pages[unknown]
    assert len(smtp_inbox.wait_for(8)) == 8  # one e-mail for every attempt, whichever the address
    known_ms, unknown_ms = statistics.median(timings[known]), statistics.median(timings[unknown])
    assert 0.5 < known_ms / unknown_ms < 2, (known_ms, unknown_ms)


# --- Links -------------------------------------------------------------------------------------

def test_an_expired_link_creates_nothing_and_says_to_sign_up_again(portals, smtp_inbox):
    _sign_up(_visitor())
    path = _link_path(smtp_inbox.wait_for(1)[0])
    Signup.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    page = _visitor().get(path)
    assert page.status_code == 410 and "This link has expired" in page.content.decode()
    assert _confirm(_visitor(), path, password=GOOD_PASSWORD).status_code == 410
    assert not Tenant.objects.filter(slug="gamma-meble").exists()
    assert "is free" in _visitor().get("/signup/address/", {"slug": "gamma-meble"}).content.decode()


def test_an_unknown_link_is_not_found(portals):
    assert _visitor().get("/signup/confirm/nie-ma-takiego/").status_code == 404
    assert _visitor().post("/signup/confirm/nie-ma-takiego/", {"slug": "x"}).status_code == 404


def test_old_signups_lose_their_password_hash_and_then_their_row(portals, smtp_inbox):
    _sign_up(_visitor())
    Signup.objects.update(expires_at=timezone.now() - timezone.timedelta(hours=1))
    assert signups.forget_old() == 0
    assert Signup.objects.get().password_hash == ""
    Signup.objects.update(created_at=timezone.now() - timezone.timedelta(days=31))
    assert signups.forget_old() == 1 and not Signup.objects.exists()


# --- The handover token ------------------------------------------------------------------------

def _handover_path(user, tenant) -> str:
    return handover.handover_url(user=user, tenant=tenant, scheme="http").split(".kompas.test", 1)[1]


def test_a_handover_token_works_only_on_its_own_portal(portal_a, portal_b):
    path = _handover_path(portal_a.owner, portal_a.tenant)
    on_b = portal_b.client().get(path)
    assert on_b.status_code == 302 and on_b["Location"].startswith("/auth/login/")
    assert portal_b.client().get("/").status_code == 302


def test_a_handover_token_expires_and_dies_when_the_person_signs_in_meanwhile(portal_a, monkeypatch):
    path = _handover_path(portal_a.owner, portal_a.tenant)
    monkeypatch.setattr(handover, "HANDOVER_SECONDS", -1)
    assert portal_a.client().get(path)["Location"].startswith("/auth/login/")
    monkeypatch.setattr(handover, "HANDOVER_SECONDS", 120)
    portal_a.client(logged_in=True)  # a sign-in elsewhere moves last_login
    assert portal_a.client().get(path)["Location"].startswith("/auth/login/")
    fresh = _handover_path(User.objects.get(pk=portal_a.owner.pk), portal_a.tenant)
    client = portal_a.client()
    assert client.get(fresh)["Location"] == "/" and client.get("/").status_code == 200


def test_a_handover_never_skips_two_factor(portal_a):
    from identity.members import security

    owner = User.objects.get(pk=portal_a.owner.pk)
    device = security.start_enrolment(owner)
    device.confirmed = True
    device.save()
    response = portal_a.client().get(_handover_path(owner, portal_a.tenant))
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")


def test_a_forged_handover_token_is_refused(portal_a):
    forged = f"/auth/handover/{uuid.uuid4().hex}:{uuid.uuid4().hex}/"
    client = portal_a.client()
    assert client.get(forged)["Location"].startswith("/auth/login/")
    assert client.get("/").status_code == 302


# --- Two verifications racing for one address --------------------------------------------------

def test_two_concurrent_verifications_for_one_address_create_exactly_one_portal(portals):
    tokens = {"marta@delta.pl": signups.new_token(), "jan@delta-bis.pl": signups.new_token()}

    def prepare() -> None:
        for email, token in tokens.items():
            Signup.objects.create(email=email, full_name=email.split("@")[0].title(), company_name="Delta",
                                  kind="company", slug="delta-wyscig", language="en",
                                  password_hash=signups.make_password(GOOD_PASSWORD),
                                  token_hash=signups.token_hash(token),
                                  expires_at=timezone.now() + timezone.timedelta(hours=1))

    def clean_up() -> None:
        Tenant.objects.filter(slug="delta-wyscig").delete()  # drops its schema as well
        User.objects.filter(email__in=list(tokens)).delete()
        Signup.objects.filter(email__in=list(tokens)).delete()

    in_own_connection(prepare)
    barrier, outcomes, lock = threading.Barrier(2), {}, threading.Lock()

    def verify(email: str, token: str) -> None:
        try:
            connection.set_schema_to_public()
            barrier.wait()
            try:
                with translation.override("en"):
                    done = signups.complete(token=token, same_browser=True)
                result = ("created", done.tenant.pk)
            except signups.ValidationError as error:
                result = ("refused", error.message_dict["slug"][0])
            with lock:
                outcomes[email] = result
        finally:
            connections.close_all()

    threads = [threading.Thread(target=verify, args=item) for item in tokens.items()]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        kinds = sorted(result[0] for result in outcomes.values())
        assert kinds == ["created", "refused"], outcomes
        [loser] = [email for email, result in outcomes.items() if result[0] == "refused"]
        assert "Someone has just taken this portal address. Please choose another one" in outcomes[loser][1]
        assert in_own_connection(lambda: Tenant.objects.filter(slug="delta-wyscig").count()) == 1
        # The loser's link still works, for another address.
        pending = in_own_connection(lambda: Signup.objects.get(email=loser).completed_at)
        assert pending is None
    finally:
        in_own_connection(clean_up)


def test_the_landing_page_links_to_signup(portals):
    page = _visitor().get("/").content.decode()
    assert 'href="/signup/"' in page


def test_staff_see_signups_without_their_secrets(portals, smtp_inbox):
    _sign_up(_visitor())
    staff = User.objects.create_superuser(email="obsluga@kompas.test", password=GOOD_PASSWORD)
    client = Client(HTTP_HOST=PUBLIC, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff, backend="identity.members.backends.PortalMemberBackend")
    verify_two_factor(client, staff)
    signup = Signup.objects.get()
    listing = client.get("/staff/admin/tenants/signup/").content.decode()
    assert "gamma-meble" in listing and "anna.nowak@gamma-meble.pl" in listing
    detail = client.get(f"/staff/admin/tenants/signup/{signup.pk}/change/")
    assert detail.status_code == 200
    assert signup.password_hash not in detail.content.decode() and signup.token_hash not in detail.content.decode()
