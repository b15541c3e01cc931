"""Django settings, read from the environment (12-factor).

Variables:
- ``MINQING_DATA_DIR``: embedded database, key ring and uploads (default ``./var``).
- ``DATABASE_URL``: any dj-database-url URL; default SQLite (WAL) in the data dir.
- ``SECRET_KEY``: required when ``MINQING_DEBUG`` is off and no data dir secret exists.
- ``MINQING_KEYRING``: the personal-data key ring (default ``$MINQING_DATA_DIR/keyring.json``);
  keep it outside the database and its backups.
- ``MINQING_DEBUG``, ``ALLOWED_HOSTS`` (comma separated), ``MINQING_PASSWORD_EXPIRY_DAYS``.
- ``MINQING_HTTPS`` (default on unless debugging or the demo): redirect to HTTPS (except
  ``/healthz``), HSTS for ``MINQING_HSTS_SECONDS`` (a year), with subdomains unless
  ``MINQING_HSTS_SUBDOMAINS=0``; ``MINQING_HSTS_PRELOAD=1`` only for a public domain entered in
  the browsers' preload list. ``manage.py check --deploy`` is clean with these.
- ``MINQING_PHOTO_MAX_BYTES``, ``MINQING_PHOTO_MAX_PIXELS``, ``MINQING_LEDGER_MAX_BYTES``: upload
  limits (8 MB, 50 megapixels, 20 MB); uploads are cut off at them while they arrive.
- ``MINQING_SQLITE_BUSY_TIMEOUT_MS``: how long a SQLite writer waits for another's lock before
  the request answers 503 "busy, try again" (default 10000).
- ``MINQING_OTP_REQUIRED_ROLES``: roles whose users must pass the second factor (TOTP) at
  every login, comma separated (default ``security_admin,system_admin,auditor,command_centre``;
  empty in the demo); anyone may enrol of their own accord.
- ``MINQING_AUDIT_KEY``: the audit chain's HMAC key file (default
  ``$MINQING_DATA_DIR/audit_key.json``, created 0600); like the key ring, outside the database
  and its backups. ``MINQING_AUDIT_ANCHORS``: the chain's anchors (default
  ``$MINQING_DATA_DIR/audit_anchors.jsonl``, append-only); back it up with the database.
- ``MINQING_API_TOKEN_DAYS``: how long a new API token is valid (default 90; 0 = no end).
- ``MINQING_RATE_LIMITS``: rate limits, e.g. ``login.address=20/900,search=60/60`` (count per
  seconds; names and defaults in ``minqing.lib.ratelimit.DEFAULT_LIMITS``).
"""

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("MINQING_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into the data dir."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = _env_bool("MINQING_DEBUG")
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "minqing.accounts",
    "minqing.audit",
    "minqing.org",
    "minqing.households",
    "minqing.workdays",
    "minqing.notifications",
    "minqing.issues",
    "minqing.contacts",
    "minqing.visits",
    "minqing.menus",
    "minqing.public",
    "minqing.auditor",  # the auditor's pages: reading the trail minqing.audit records
]
# The demo county and the bench (minqing.demo, which can drop every table) are no part of the
# product: installed only when `minqing demo`/`minqing bench` run (minqing/__main__.py sets
# MINQING_DEMO_APP for them) and in the test suite (minqing/tests/settings.py).
if _env_bool("MINQING_DEMO_APP"):
    INSTALLED_APPS.append("minqing.demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "minqing.lib.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Input: NUL, lone surrogates and out-of-range integers refused before any view (400).
    "minqing.lib.inputs.InputGuardMiddleware",
    "minqing.accounts.middleware.SessionLifetimeMiddleware",
    "minqing.accounts.middleware.LoginRequiredMiddleware",
    "minqing.accounts.middleware.SecondFactorMiddleware",
    "minqing.accounts.middleware.PasswordExpiryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Auth: a RateLimited raised in a page answers 429 with the input kept (lib/ratelimit).
    "minqing.lib.ratelimit.RateLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Database (sqlite-phone): a write that waited for a lock in vain answers 503, not 500.
    "minqing.lib.busy.BusyDatabaseMiddleware",
]

ROOT_URLCONF = "minqing.urls"
WSGI_APPLICATION = "minqing.wsgi.application"

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
                "minqing.notifications.context.unread",
                "minqing.accounts.context.nav",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'minqing.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db))}
# Database (sqlite-phone): a SQLite writer waits this long for another's lock (writers wait in
# turn, they do not fail; long writers such as a ledger import write in short batches).
SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("MINQING_SQLITE_BUSY_TIMEOUT_MS", "10000"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            f" PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS};"
            " PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
        ),
        # Python's own wait for a lock (seconds): the same, so neither gives up first.
        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "org:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "minqing.accounts.validators.CharacterClassValidator"},
]

# Sessions: idle timeout 30 min (refreshed on every request), server-side store.
SESSION_COOKIE_AGE = int(os.environ.get("MINQING_SESSION_IDLE_SECONDS", str(30 * 60)))
MINQING_SESSION_MAX_AGE = int(os.environ.get("MINQING_SESSION_MAX_SECONDS", str(12 * 3600)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool(
    "MINQING_SECURE_COOKIES", not DEBUG and "MINQING_DEMO" not in os.environ
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS-terminating proxy (nginx) in production; plain HTTP only for the demo/intranet tests.
if _env_bool("MINQING_HTTPS", SESSION_COOKIE_SECURE):
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("MINQING_HSTS_SECONDS", str(365 * 24 * 3600)))
    # Load balancers probe /healthz over plain HTTP inside the network (Django's own name).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # HSTS for every subdomain (check --deploy W005) unless the host shares its domain with
    # plain-HTTP services (MINQING_HSTS_SUBDOMAINS=0). Preload (W021) is off and its warning
    # silenced: the browsers' preload list holds public domains only, and entering one is a
    # commitment for the whole domain a deployment cannot make alone (MINQING_HSTS_PRELOAD=1).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("MINQING_HSTS_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("MINQING_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = [
        check
        for check, on in (
            ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
            ("security.W021", SECURE_HSTS_PRELOAD),
        )
        if not on
    ]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the packages: no collectstatic step needed
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
LEDGER_MAX_UPLOAD_BYTES = int(os.environ.get("MINQING_LEDGER_MAX_BYTES", str(20 * 1024 * 1024)))
MINQING_PHOTO_MAX_BYTES = int(os.environ.get("MINQING_PHOTO_MAX_BYTES", str(8 * 1024 * 1024)))
# Input hardening (minqing.lib.inputs): an upload is counted while it arrives and stops being
# stored past its form field's limit; photos are decoded (at most this many pixels) and
# re-encoded, so EXIF and GPS never reach the disk.
MINQING_UPLOAD_LIMITS = {"file": LEDGER_MAX_UPLOAD_BYTES, "photo": MINQING_PHOTO_MAX_BYTES}
FILE_UPLOAD_HANDLERS = [
    "minqing.lib.inputs.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
MINQING_PHOTO_MAX_PIXELS = int(os.environ.get("MINQING_PHOTO_MAX_PIXELS", str(50_000_000)))
# Contact cards: the base URL their QR codes print (else the host they are printed from), and
# the TrueType CJK font they embed (else Debian's fonts-wqy-microhei where installed).
MINQING_PUBLIC_URL = os.environ.get("MINQING_PUBLIC_URL", "")
MINQING_CJK_FONT = os.environ.get("MINQING_CJK_FONT", "")

MINQING_KEYRING = Path(os.environ.get("MINQING_KEYRING", DATA_DIR / "keyring.json"))
MINQING_PASSWORD_EXPIRY_DAYS = int(os.environ.get("MINQING_PASSWORD_EXPIRY_DAYS", "90"))

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Background worker (`minqing worker`, minqing.lib.worker): periodic jobs by dotted path, every N
# seconds. With MINQING_REDIS_URL (e.g. redis://127.0.0.1:6379/0) jobs go through the RQ queue
# MINQING_WORKER_QUEUE and any number of worker processes share them.
MINQING_SWEEP_SECONDS = int(os.environ.get("MINQING_SWEEP_SECONDS", "60"))
MINQING_PERIODIC_JOBS = {
    "issues.sweep_deadlines": {
        "path": "minqing.issues.jobs.sweep_deadlines",
        "every": MINQING_SWEEP_SECONDS,
    },
    "visits.night_sessions": {
        "path": "minqing.visits.jobs.night_sessions",
        "every": 3600,
    },
    # County-wide assignment runs queued from the runs page (minqing.contacts.jobs).
    "contacts.run_queued": {"path": "minqing.contacts.jobs.run_queued", "every": 15},
}
MINQING_REDIS_URL = os.environ.get("MINQING_REDIS_URL", "")
# Rate limits count in the cache, so every app process must share it: Redis when there is one,
# else files in the data dir (shared by the processes of one machine).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": MINQING_REDIS_URL}
        if MINQING_REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    )
}
# Auth: API tokens expire, and rate limits bound guessers (minqing.lib.ratelimit).
MINQING_API_TOKEN_DAYS = int(os.environ.get("MINQING_API_TOKEN_DAYS", "90"))
MINQING_RATE_LIMITS: dict[str, tuple[int, int]] = {
    name: (int(count), int(seconds))
    for item in os.environ.get("MINQING_RATE_LIMITS", "").split(",")
    if "=" in item
    for name, rate in [item.strip().split("=", 1)]
    for count, seconds in [rate.split("/", 1)]
}
MINQING_WORKER_QUEUE = "minqing"
# Where notifications go besides the in-app list (minqing.notifications.channels).
MINQING_NOTIFY_CHANNELS = ["minqing.notifications.channels.LogChannel"]

# Audit trail (docs/SECURITY-BAR.md §13; minqing.audit.chain): the HMAC key of the chain
# and the anchor file, both outside the database; the worker seals new rows every few seconds.
MINQING_AUDIT_KEY = Path(os.environ.get("MINQING_AUDIT_KEY", DATA_DIR / "audit_key.json"))
MINQING_AUDIT_ANCHORS = Path(
    os.environ.get("MINQING_AUDIT_ANCHORS", DATA_DIR / "audit_anchors.jsonl")
)
MINQING_AUDIT_SEAL_SECONDS = int(os.environ.get("MINQING_AUDIT_SEAL_SECONDS", "10"))
# verify_audit reports rows still unsealed this long after they were written.
MINQING_AUDIT_UNSEALED_LIMIT = int(os.environ.get("MINQING_AUDIT_UNSEALED_LIMIT", "600"))
MINQING_PERIODIC_JOBS["audit.seal"] = {
    "path": "minqing.audit.jobs.seal",
    "every": MINQING_AUDIT_SEAL_SECONDS,
}
MINQING_PERIODIC_JOBS["audit.seal_all"] = {
    "path": "minqing.audit.jobs.seal",
    "every": 3600,
    "kwargs": {"full": True},
}
LOGGING.setdefault("loggers", {})["minqing.audit"] = {"level": "INFO"}  # the anchors
# Personal data cipher (docs/SECURITY-BAR.md §9, minqing.lib.crypto): each process logs whether it
# seals with SM4-GCM or AES-256-GCM when it reads the key ring.
LOGGING["loggers"]["minqing.crypto"] = {"level": "INFO"}

# Ledger imports (minqing.households.jobs; a large import must not block the county on SQLite):
# the import page queues an import and
# the worker writes it in short batches; this takes what waits and fails imports whose worker
# died. RQ may let it run for hours (a 24,000-row ledger takes minutes).
MINQING_PERIODIC_JOBS["households.run_queued_imports"] = {
    "path": "minqing.households.jobs.run_queued_imports",
    "every": 5,
    "timeout": 3 * 3600,
}

# Second factor (docs/SECURITY-BAR.md §5; minqing.accounts.services.otp): the roles that
# must enter a TOTP code at every login. 等保 deployments keep the default.
MINQING_OTP_REQUIRED_ROLES = frozenset(
    role.strip()
    for role in os.environ.get(
        "MINQING_OTP_REQUIRED_ROLES",
        ""
        if "MINQING_DEMO" in os.environ
        else "security_admin,system_admin,auditor,command_centre",
    ).split(",")
    if role.strip()
)
