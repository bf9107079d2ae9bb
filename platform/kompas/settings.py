"""Settings for the Kompas platform, read from the environment.

Three environments (KOMPAS_ENV): ``production`` (the default, so a forgotten variable never
loosens security), ``development`` (what ``kompas run`` sets) and ``test`` (what the test
suite sets). See the configuration table in README.md for every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from kompas.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent.parent

KOMPAS_ENV = env_str("KOMPAS_ENV", "production")
if KOMPAS_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured(f"KOMPAS_ENV must be production, development or test, not {KOMPAS_ENV!r}")
IS_PRODUCTION = KOMPAS_ENV == "production"

DEBUG = env_bool("DEBUG", KOMPAS_ENV == "development")

# A key that is public (it is in this file) and therefore only good for a laptop.
DEV_SECRET_KEY = "kompas-dev-only-secret-key-never-use-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", "" if IS_PRODUCTION else DEV_SECRET_KEY)
if IS_PRODUCTION and (not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "Refusing to start in production without a real SECRET_KEY: set SECRET_KEY to a random "
        "string of at least 32 characters (the development key is public)."
    )

BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").lower().strip(".")
# Tenant routing (tenants.routing) is the host validator: a host that is not a portal,
# a verified custom domain or the public site gets the 404 page, never data.
ALLOWED_HOSTS = ["*"]
# Custom domains (tenants.domains, docs/decisions/0019): customers point a CNAME at this host
# and prove ownership with a TXT record; DNS_NAMESERVERS ("ip" or "ip:port", comma-separated)
# replaces the system resolver for those checks (the tests run their own DNS server).
CUSTOM_DOMAIN_TARGET = env_str("CUSTOM_DOMAIN_TARGET", "").lower().strip(".") or f"portals.{BASE_DOMAIN}"
DNS_NAMESERVERS = env_list("DNS_NAMESERVERS", [])
DNS_TIMEOUT_SECONDS = env_float("DNS_TIMEOUT_SECONDS", 5.0)

def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("kompas", appauthor=False))


KOMPAS_DATA_DIR = Path(env_str("KOMPAS_DATA_DIR", "") or _default_data_dir())

# --- Applications -----------------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "billing",
    "identity.accounts",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "kompas.staff.admin_apps.StaffAdminConfig",  # django.contrib.admin, 2FA required (kompas.staff.admin_site)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_dramatiq",
    "kompas",
    "kompas.site",
    "kompas.partners",
    "kompas.staff",
]

# Apps whose tables live in every portal's own schema.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "identity.members",
    "crm.core",
    "crm.dictionaries",
    "crm.contacts",
    "crm.leads",
    "crm.deals",
    "crm.tasks",
    "crm.activities",
    "crm.products",
    "crm.quotes",
    "crm.invoices",
    "crm.sales",
    "crm.duplicates",
    "kompas.portal",
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "kompas.urls_public"
ROOT_URLCONF = "kompas.urls_portal"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_LIMIT_SET_CALLS = True

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["identity.members.backends.PortalMemberBackend"]
LOGIN_URL = "members:login"
OTP_TOTP_ISSUER = "Kompas"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "members:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if KOMPAS_ENV == "test":
    # Hashing cost is not what the tests measure; the production hashers stay above.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

MIDDLEWARE = [
    "kompas.health.HealthCheckMiddleware",
    "tenants.tls.TlsAskMiddleware",  # before routing and the HTTPS redirect: Caddy asks on localhost
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.routing.TenantRoutingMiddleware",
    "tenants.context.RequestContextMiddleware",
    "tenants.context.PortalTimeZoneMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "tenants.lifecycle.ReadOnlyWhenSuspendedMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "identity.members.middleware.MemberMiddleware",
    "kompas.staff.middleware.ImpersonationMiddleware",
    "identity.members.security.IpAllowlistMiddleware",
    "identity.members.security.TwoFactorEnforcementMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tenants.modules.ModulesMiddleware",  # after sign-in and 2FA checks: its 404 page shows the app shell
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kompas.context_processors.portal",
            ],
        },
    },
]

WSGI_APPLICATION = "kompas.wsgi.application"

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `kompas run` and `kompas test` start an embedded PostgreSQL "
        "when it is missing; anything else needs DATABASE_URL=postgres://user:pass@host:5432/db."
    )
_database = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60 if IS_PRODUCTION else 0))
_database["ENGINE"] = "django_tenants.postgresql_backend"
_database.setdefault("OPTIONS", {})
_database["OPTIONS"].setdefault("application_name", env_str("DB_APPLICATION_NAME", "kompas"))
_database["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "") or f"test_{_database['NAME']}"}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
_cache_backend = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
)
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", f"kompas:{KOMPAS_ENV}")
CACHES = {
    # Every key of the default cache carries the schema, so portals never share entries.
    "default": {**_cache_backend, "KEY_FUNCTION": "django_tenants.cache.make_key",
                "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
                "KEY_PREFIX": CACHE_KEY_PREFIX},
    # Host → tenant routing is global by nature; see tenants/routing.py.
    "routing": {**_cache_backend, "KEY_PREFIX": f"{CACHE_KEY_PREFIX}:routing", "TIMEOUT": 3600},
}
if not REDIS_URL:
    CACHES["default"]["LOCATION"] = "kompas-default"
    CACHES["routing"]["LOCATION"] = "kompas-routing"
    CACHES["routing"]["OPTIONS"] = {"MAX_ENTRIES": 100_000}
if IS_PRODUCTION and not REDIS_URL and not env_bool("ALLOW_SINGLE_PROCESS_WITHOUT_REDIS", False):
    # Without a shared cache and broker, a change (a suspended portal, a new domain) reaches only
    # the process that made it, and jobs have nowhere to go.
    raise ImproperlyConfigured("Refusing to start in production without REDIS_URL (cache, routing and jobs "
                               "are shared through it).")

# --- Background jobs --------------------------------------------------------------------------
# TenantJobMiddleware comes before Retries/Pipelines/Callbacks: see tenants/job_context.py.
_dramatiq_middleware = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.ShutdownNotifications",
    "tenants.job_context.TenantJobMiddleware",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Pipelines",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": REDIS_URL, "namespace": env_str("DRAMATIQ_NAMESPACE", "kompas")},
        "MIDDLEWARE": _dramatiq_middleware,
    }
else:
    # No broker service: `kompas run` consumes this in-process with a dramatiq Worker.
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {},
                       "MIDDLEWARE": _dramatiq_middleware}
DRAMATIQ_AUTODISCOVER_MODULES = ["jobs"]

# --- Files ------------------------------------------------------------------------------------
S3_BUCKET = env_str("S3_BUCKET", "")
STATIC_URL = "/static/"
STATIC_ROOT = env_str("STATIC_ROOT", "") or str(KOMPAS_DATA_DIR / "static")
MEDIA_ROOT = env_str("MEDIA_ROOT", "") or str(KOMPAS_DATA_DIR / "media")
MEDIA_URL = "/files/"
_static_storage = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage" if IS_PRODUCTION
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", "") or None,
            "region_name": env_str("S3_REGION", "") or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {"default": _default_storage, "staticfiles": {"BACKEND": _static_storage}}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST or IS_PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"Kompas <no-reply@{BASE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Stripe -----------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")  # the tests point this at their fake Stripe

# --- Security ---------------------------------------------------------------------------------
# Cookies are host-only (no SESSION_COOKIE_DOMAIN): a session of one portal is never sent
# to another portal's host.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)
USE_TLS = env_bool("USE_TLS", IS_PRODUCTION)
if USE_TLS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "pl"
LANGUAGES = [("pl", _("Polish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Browser libraries installed from the npm registry by ./kompas (frontend/package.json).
FRONTEND_DIR = Path(env_str("KOMPAS_FRONTEND_DIR", "") or REPO_DIR / "frontend")
STATICFILES_DIRS = [(f"vendor/{name}", FRONTEND_DIR / "node_modules" / name) for name in ("sortablejs",)
                    if (FRONTEND_DIR / "node_modules" / name).is_dir()]
TIME_ZONE = "Europe/Warsaw"
USE_I18N = True
USE_TZ = True

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.members.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # One error shape for every API error (crm.core.api).
    "EXCEPTION_HANDLER": "crm.core.api.exception_handler",
    # Counted on the default cache, whose keys carry the portal's schema; rates below.
    "DEFAULT_THROTTLE_CLASSES": ["crm.core.api_throttling.KeyRateThrottle",
                                 "crm.core.api_throttling.PortalRateThrottle"],
}
# Requests per API key (or per member calling with a session), and per portal for all callers.
API_RATE_PER_KEY = env_str("API_RATE_PER_KEY", "600/min")
API_RATE_PER_PORTAL = env_str("API_RATE_PER_PORTAL", "3000/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Kompas CRM API",
    "DESCRIPTION": "The API of one Kompas portal. Every path is served on the portal's own host. Errors have "
                   "one shape: {\"error\": {\"code\", \"message\", \"fields\", \"items\"}}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema shows the portal's own custom fields: only its members and keys may read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "crm.core.api.custom_fields_schema"],
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "crm.leads.models.LeadStatus.choices",
        "TaskStatusEnum": "crm.tasks.models.TaskStatus.choices",
        "StageKindEnum": "crm.deals.models.StageKind.choices",
    },
    # Swagger UI from the drf-spectacular-sidecar package, served with our static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Observability ----------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json" if IS_PRODUCTION else "console")
LOGGING_CONFIG = None  # kompas.observability configures logging once, with structlog
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", KOMPAS_ENV)
SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0)

# Read by `kompas run` only.
PORT = env_int("PORT", 8000)

os.makedirs(KOMPAS_DATA_DIR, exist_ok=True)

from kompas.observability import configure_logging, configure_sentry  # noqa: E402

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
configure_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
os.makedirs(STATIC_ROOT, exist_ok=True)
