"""Self-service signup: a pending signup, a confirmation e-mail, then the portal (docs/decisions/0015).

1. ``start`` records a :class:`tenants.models.Signup` (password only as a hash, token only as
   its SHA-256) and e-mails a link valid for SIGNUP_HOURS. The page and the work are the same
   whether the address has an account or not; only the e-mail says which.
2. ``complete`` (the link, then one click) creates the portal with ``create_portal``: schema
   from the warm pool, 30-day trial of the top plan, owner membership, CRM defaults. A new
   account gets the password chosen at signup and is handed over to the portal signed in; an
   existing account becomes the owner and signs in there with its own password.

Abuse basics: rate limits per IP and per e-mail address on the public schema's cache keys.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django_tenants.utils import schema_context

from identity.accounts.models import User
from identity.accounts.selectors import portals_of
from identity.members.tokens import new_token, token_hash
from kompas.provisioning import create_portal
from tenants.models import Signup, Tenant
from tenants.selectors import portal_address
from tenants.services import pending_signups, validate_slug

log = structlog.get_logger(__name__)

SIGNUP_HOURS = 48


# --- Rate limits -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


PER_IP = Limit("ip", 5, 3600)  # signups from one address per hour
PER_EMAIL = Limit("email", 3, 24 * 3600)  # signups for one e-mail address per day
ADDRESS_CHECKS_PER_IP = Limit("check", 120, 60)  # live address checks per minute

_KEY_PREFIX = "kompas-signup-rate"


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after, self.message = retry_after, message


def _rate_keys(limit: Limit, value: str) -> tuple[str, str]:
    # Hashed: no IP or e-mail address in cache keys.
    digest = hashlib.sha256(f"{limit.name}:{value}".encode()).hexdigest()[:40]
    return f"{_KEY_PREFIX}:{limit.name}:{digest}:count", f"{_KEY_PREFIX}:{limit.name}:{digest}:since"


def hit(limit: Limit, value: str) -> int:
    """Count one attempt; 0 when allowed, otherwise the seconds until the window ends.

    A fixed window that starts with the first attempt. The counter is an atomic ``incr``, so
    parallel requests cannot slip past it. Keys live under the public schema's prefix of the
    default cache (django-tenants puts the schema first in every key), so they never meet a
    portal's keys.
    """
    count_key, since_key = _rate_keys(limit, value)
    with nullcontext() if connection.schema_name == "public" else schema_context("public"):
        now = time.time()
        cache.add(since_key, now, timeout=limit.seconds)
        cache.add(count_key, 0, timeout=limit.seconds)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(since_key, now, timeout=limit.seconds)
            cache.set(count_key, 1, timeout=limit.seconds)
            count = 1
        if count <= limit.count:
            return 0
        since = cache.get(since_key) or now
    return max(1, int(since + limit.seconds - now))


def wait_message(seconds: int) -> str:
    if seconds >= 5400:
        hours = round(seconds / 3600)
        return ngettext("Please try again in %(count)d hour.", "Please try again in %(count)d hours.",
                        hours) % {"count": hours}
    minutes = max(1, -(-seconds // 60))
    return ngettext("Please try again in %(count)d minute.", "Please try again in %(count)d minutes.",
                    minutes) % {"count": minutes}


def _mailbox(email: str) -> str:
    """One bucket for every ``+tag`` variant of an address."""
    local, _at, domain = email.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def admit_signup(*, ip: str | None, email: str) -> None:
    """Refuse, saying when to try again, above PER_IP or PER_EMAIL; the same words for any address."""
    wait = hit(PER_IP, ip or "unknown")
    if wait:
        raise TooManyAttempts(wait, _("Too many sign-ups from your network.") + " " + wait_message(wait))
    wait = hit(PER_EMAIL, _mailbox(email))
    if wait:
        raise TooManyAttempts(wait, _("Too many sign-ups for this e-mail address.") + " " + wait_message(wait))


# --- Portal address ----------------------------------------------------------------------------

def check_address(slug: str, *, email: str = "") -> str:
    """The canonical address, or ValidationError with the reason (rules, reserved, taken)."""
    try:
        return validate_slug(slug, signup_email=email or "")
    except ValidationError as error:
        raise ValidationError(error.message_dict["slug"]) from None


def is_taken(slug: str, *, email: str = "") -> bool:
    """In use, or reserved by someone else's pending signup (rather than against the rules)."""
    value = slug.strip().lower()
    return (Tenant.objects.filter(slug__iexact=value).exists()
            or pending_signups().filter(slug=value).exclude(email__iexact=email).exists())


def free_alternative(slug: str, *, email: str = "") -> str | None:
    """A free address close to a taken one, to offer instead (one query per kind of check)."""
    base = slug[:55].rstrip("-")
    candidates = [f"{base}-crm", f"{base}-pl", *(f"{base}{n}" for n in range(2, 6))]
    taken = set(Tenant.objects.filter(slug__in=candidates).values_list("slug", flat=True))
    taken |= set(pending_signups().filter(slug__in=candidates).exclude(email__iexact=email)
                 .values_list("slug", flat=True))
    return next((candidate for candidate in candidates if candidate not in taken), None)


def host_of(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


# --- Step 1: the pending signup and its e-mail -------------------------------------------------

NEW_SUBJECT = gettext_noop("Confirm your e-mail address to create %(host)s")
NEW_BODY = gettext_noop(
    "Hello %(name)s,\n\n"
    "thank you for choosing Kompas. Confirm your e-mail address to create your portal %(host)s "
    "(30 days of the full plan, free):\n\n%(link)s\n\n"
    "The link is valid for %(hours)s hours and works once.\n\n"
    "If you did not sign up for Kompas, ignore this e-mail: nothing is created without the link.\n")
EXISTING_SUBJECT = gettext_noop("You already have a Kompas account — create %(host)s?")
EXISTING_BODY = gettext_noop(
    "Hello,\n\n"
    "someone, hopefully you, asked to create the portal %(host)s with this e-mail address. You already "
    "have a Kompas account with it.\n\n"
    "To sign in to a portal you already use, open its address and sign in with your usual password "
    "(\"Forgot your password?\" on its login page helps if needed).%(portals)s\n\n"
    "To create the new portal %(host)s as well, confirm here (valid for %(hours)s hours, works once):\n\n"
    "%(link)s\n\n"
    "You will sign in to it with your existing password; the password typed in the sign-up form is not "
    "used. If this was not you, ignore this e-mail: nothing is created without the link.\n")
YOUR_PORTALS = gettext_noop("Your portals:")


def public_url(path: str, *, scheme: str, port: str | int | None = None) -> str:
    """An address on the public site, built from BASE_DOMAIN (never from the request's Host)."""
    suffix = f":{port}" if port and str(port) not in ("80", "443") else ""
    return f"{scheme}://{settings.BASE_DOMAIN}{suffix}{path}"


def start(*, kind: str, full_name: str, email: str, password: str, company_name: str, slug: str,
          language: str, ip: str | None, scheme: str, port: str | int | None = None) -> Signup:
    """Record the signup and e-mail its link after commit; the caller has validated the fields.

    Both kinds of address do the same work (one password hash, one e-mail), so neither the page
    nor its timing tells whether an account exists.
    """
    email = email.strip().lower()
    account = User.objects.filter(email__iexact=email).first()
    token = new_token()
    with transaction.atomic():
        signup = Signup.objects.create(
            email=email, full_name=full_name.strip(), company_name=company_name.strip(), kind=kind,
            slug=slug, language=language, password_hash=make_password(password), token_hash=token_hash(token),
            ip=ip, expires_at=timezone.now() + timedelta(hours=SIGNUP_HOURS))
        link = public_url(f"/signup/confirm/{token}/", scheme=scheme, port=port)
        transaction.on_commit(lambda: _send_link(signup, link, account, scheme=scheme, port=port))
    log.info("signup.started", signup=signup.pk, slug=slug)
    return signup


def _send_link(signup: Signup, link: str, account: User | None, *, scheme: str, port) -> None:
    with translation.override(signup.language):
        values = {"host": host_of(signup.slug), "link": link, "hours": SIGNUP_HOURS, "name": signup.full_name}
        if account is None:
            subject, body = _(NEW_SUBJECT) % values, _(NEW_BODY) % values
        else:
            portals = [portal_address(tenant.slug, scheme=scheme, port=port) for tenant in portals_of(account)]
            values["portals"] = ("\n\n" + _(YOUR_PORTALS) + "\n" + "\n".join(f"- {url}" for url in portals)
                                 if portals else "")
            subject, body = _(EXISTING_SUBJECT) % values, _(EXISTING_BODY) % values
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [signup.email])


# --- Step 2: the link --------------------------------------------------------------------------

class LinkState:
    PENDING = "pending"
    USED = "used"
    EXPIRED = "expired"


def signup_for_token(token: str) -> Signup | None:
    return Signup.objects.select_related("tenant").filter(token_hash=token_hash(token)).first()


def state_of(signup: Signup) -> str:
    if signup.completed_at is not None:
        return LinkState.USED
    if signup.expires_at <= timezone.now():
        return LinkState.EXPIRED
    return LinkState.PENDING


def has_account(signup: Signup) -> bool:
    return User.objects.filter(email__iexact=signup.email).exists()


class LinkNotValid(Exception):
    def __init__(self, signup: Signup | None) -> None:
        super().__init__("signup link not valid")
        self.signup = signup


@dataclass(frozen=True)
class Completed:
    signup: Signup
    tenant: Tenant
    owner: User
    new_account: bool


def _taken() -> ValidationError:
    return ValidationError({"slug": _("Someone has just taken this portal address. Please choose another one; "
                                      "your link still works.")})


# Any 64-bit number that nothing else uses as an advisory lock ("kompas" + 1).
_COMPLETION_LOCK = 0x6B6F6D7061730001


def _one_completion_at_a_time() -> None:
    """Serialise portal creations until commit (kept for callers outside signup).

    Signups no longer need it: tenants.pool.acquire_schema takes its own lock, shared on the
    pool path and exclusive only when cloning or migrating, so portals from the pool are
    created side by side and the empty-pool deadlock cannot happen (docs/decisions/0023).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_COMPLETION_LOCK])


# A signup whose creation failed unexpectedly (or whose process died) is retried by the
# reconciliation job this many times in all, then left to staff (tenants.selectors.provisioning_problems).
MAX_CREATION_ATTEMPTS = 5


def complete(*, token: str, slug: str | None = None, password: str | None = None,
             same_browser: bool = False) -> Completed:
    """Create the portal of a pending signup, once.

    The signup row is locked, so the same link used twice creates one portal; two signups for
    the same address race on the portal's unique address and the loser gets a ValidationError
    on ``slug`` (its link stays valid for another address). A new account needs proof that the
    person at the link is the one who filled in the form: the same browser, or the password.

    Crash-safe: once the checks pass, the signup is marked as started in its own committed
    write; the creation itself is one transaction. If it fails unexpectedly or the process dies,
    the mark stays and the reconciliation job (tenants.jobs.reconcile_provisioning) finishes
    the portal and e-mails the person.
    """
    signup = _checked_signup(token=token, slug=slug, password=password, same_browser=same_browser)
    _mark_started(signup)
    try:
        return _create(signup.pk)
    except (ValidationError, LinkNotValid):
        # Refusals (the address was taken meanwhile, …) are the person's to fix, not a failure.
        Signup.objects.filter(pk=signup.pk, completed_at__isnull=True).update(creation_started_at=None)
        raise
    except Exception as error:
        _note_failure(signup.pk, error)
        raise ValidationError(_("Your portal could not be created just now. We will finish it for you and "
                                "e-mail you; you can also try again.")) from error


def _checked_signup(*, token: str, slug: str | None, password: str | None, same_browser: bool) -> Signup:
    """The pending signup if the person at the link may create its portal (the address saved)."""
    with transaction.atomic():
        signup = Signup.objects.select_for_update().filter(token_hash=token_hash(token)).first()
        if signup is None or state_of(signup) != LinkState.PENDING:
            raise LinkNotValid(signup)
        if slug is not None and slug.strip().lower() != signup.slug:
            signup.slug = check_address(slug, email=signup.email)
        existing = User.objects.filter(email__iexact=signup.email).exists()
        if not existing and not same_browser and not check_password(password or "", signup.password_hash):
            raise ValidationError({"password": _(
                "This is not the password you chose when signing up. Open the link in the browser you "
                "signed up in, or sign up again.")})
        signup.save(update_fields=["slug"])
    return signup


def _mark_started(signup: Signup) -> None:
    Signup.objects.filter(pk=signup.pk).update(creation_started_at=timezone.now(),
                                               creation_attempts=F("creation_attempts") + 1)


def _note_failure(signup_pk: int, error: BaseException) -> None:
    text = f"{type(error).__name__}: {error}"[:300]
    Signup.objects.filter(pk=signup_pk).update(creation_error=text)
    log.error("signup.creation_failed", signup=signup_pk, error=text)


def _create(signup_pk: int) -> Completed:
    """The portal of a signup whose checks have passed: one transaction, once."""
    with transaction.atomic():
        signup = Signup.objects.select_for_update().filter(pk=signup_pk).first()
        if signup is None or state_of(signup) != LinkState.PENDING:
            raise LinkNotValid(signup)
        started = time.monotonic()
        try:
            with transaction.atomic():
                portal = create_portal(
                    name=signup.company_name or signup.full_name, slug=signup.slug, owner_email=signup.email,
                    owner_password=None, owner_name=signup.full_name, kind=signup.kind, language=signup.language)
        except IntegrityError:
            if Tenant.objects.filter(slug__iexact=signup.slug).exists():
                raise _taken() from None
            raise
        except ValidationError as error:
            if "slug" in getattr(error, "error_dict", {}):
                raise _taken() from None
            raise
        if portal.owner_created:
            User.objects.filter(pk=portal.owner.pk).update(password=signup.password_hash)
        signup.completed_at, signup.tenant, signup.password_hash = timezone.now(), portal.tenant, ""
        signup.creation_error = ""
        signup.save(update_fields=["completed_at", "tenant", "password_hash", "creation_error"])
    log.info("signup.completed", signup=signup.pk, schema=portal.tenant.schema_name,
             path=getattr(portal.tenant, "provisioning_path", ""), new_account=portal.owner_created,
             ms=round((time.monotonic() - started) * 1000))
    return Completed(signup=signup, tenant=portal.tenant, owner=portal.owner, new_account=portal.owner_created)


# --- Signups whose creation failed or crashed (the reconciliation job) ------------------------

def stuck_signups():
    """Signups marked as started but without a portal, still valid, not given up on."""
    return pending_signups().filter(creation_started_at__isnull=False,
                                    creation_attempts__lt=MAX_CREATION_ATTEMPTS)


READY_SUBJECT = gettext_noop("Your portal %(host)s is ready")
READY_BODY = gettext_noop(
    "Hello %(name)s,\n\n"
    "creating your portal %(host)s did not finish at the first attempt; it is ready now. "
    "Sign in here with your e-mail address and the password you chose:\n\n%(link)s\n")


def finish_stuck(*, older_than: timedelta = timedelta(minutes=2)) -> list[tuple[Signup, Tenant | None, str]]:
    """Retry the creation of every stuck signup; (signup, portal or None, error) for each tried.

    ``SKIP LOCKED`` leaves alone a signup whose request is creating it right now, and the age
    keeps the job from racing a request that has only just marked it.
    """
    outcomes = []
    candidates = stuck_signups().filter(creation_started_at__lt=timezone.now() - older_than)
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            if Signup.objects.select_for_update(skip_locked=True).filter(pk=pk).first() is None:
                continue
            _mark_started(Signup(pk=pk))
        try:
            done = _create(pk)
        except LinkNotValid:
            continue  # completed or expired meanwhile
        except ValidationError as error:
            # A refusal (the address was taken meanwhile): the person picks another one with the link.
            Signup.objects.filter(pk=pk).update(creation_started_at=None)
            outcomes.append((Signup.objects.get(pk=pk), None, "; ".join(error.messages)))
            continue
        except Exception as error:
            _note_failure(pk, error)
            outcomes.append((Signup.objects.get(pk=pk), None, f"{type(error).__name__}: {error}"[:300]))
            continue
        transaction.on_commit(lambda done=done: _send_ready(done))
        outcomes.append((done.signup, done.tenant, ""))
    return outcomes


def _send_ready(done: Completed) -> None:
    from tenants.selectors import portal_url

    with translation.override(done.signup.language):
        values = {"host": host_of(done.tenant.slug), "name": done.signup.full_name,
                  "link": portal_url(done.tenant).rstrip("/") + "/auth/login/"}
        send_mail(_(READY_SUBJECT) % values, _(READY_BODY) % values, settings.DEFAULT_FROM_EMAIL,
                  [done.signup.email])


def forget_old(*, days: int = 30) -> int:
    """Password hashes go as soon as a link expires; the rows themselves after ``days``."""
    now = timezone.now()
    Signup.objects.filter(expires_at__lte=now).exclude(password_hash="").update(password_hash="")
    deleted, _details = Signup.objects.filter(created_at__lt=now - timedelta(days=days)).delete()
    return deleted
