"""PHB settings: every value comes from the environment (see README, "Configuration").

Nothing else in PHB reads the environment. Local runs need no configuration at all: SQLite, an
embedded broker and generated secrets under ./var/. Production (PHB_ENV=production) refuses to start
when a secret or a host list is missing.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import environ

env = environ.Env()

PHB_ENV = env.str("PHB_ENV", default="local")
if PHB_ENV not in {"local", "production"}:
    raise SystemExit(f"PHB_ENV must be 'local' or 'production', not {PHB_ENV!r}")
PRODUCTION = PHB_ENV == "production"
TESTING = "pytest" in sys.modules or env.bool("PHB_TESTING", default=False)

VAR_DIR = Path(env.str("PHB_VAR_DIR", default="var")).resolve()
if not PRODUCTION:
    VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(name: str, nbytes: int = 48) -> str:
    """A secret generated once into ./var/ for local runs, never in production."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    if DEBUG:
        raise SystemExit("DEBUG must be off when PHB_ENV=production")
    if not env.str("SECRET_KEY", default=""):
        raise SystemExit("SECRET_KEY is required when PHB_ENV=production")
    if not env.list("ALLOWED_HOSTS", default=[]):
        raise SystemExit("ALLOWED_HOSTS is required when PHB_ENV=production")
SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret("secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # trigram lookups; inert on SQLite
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_email",
    "axes",
    "rest_framework_simplejwt.token_blacklist",
    "phb.kernel",
    "phb.accounts",
    "phb.organizations",
    "phb.terminology",
    "phb.patients",
    "phb.notifications",
    "phb.workforce",
    "phb.scheduling",
    "phb.clinical",
    "phb.medications",
    "phb.pharmacy",
    "phb.interop",
    "phb.web",
    "phb.demo",
]

MIDDLEWARE = [
    "phb.kernel.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "phb.accounts.middleware.ContextMiddleware",
    "phb.accounts.middleware.SessionSecurityMiddleware",
    "axes.middleware.AxesMiddleware",
    "phb.kernel.middleware.ProblemDetailsMiddleware",
]

ROOT_URLCONF = "phb.config.urls"
WSGI_APPLICATION = "phb.config.wsgi.application"
ASGI_APPLICATION = "phb.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "phb.web.context_processors.phb",
            ],
        },
    },
]

# --- database ------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'phb.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and the scheduler share the file without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The owner role (PostgreSQL, optional): `phb migrate` connects with DATABASE_OWNER_URL, so that this
# role owns every table, and then grants DATABASE_URL's role what it needs at run time: data changes,
# but only SELECT and INSERT on the audit trail (README, "Database roles"). Without it, one role does all.
DATABASE_OWNER = env.db("DATABASE_OWNER_URL") if env.str("DATABASE_OWNER_URL", default="") else None
if DATABASE_OWNER is not None:
    if not (DATABASE_OWNER["ENGINE"] == DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"):
        raise SystemExit("DATABASE_OWNER_URL and DATABASE_URL must both be postgres:// URLs")
    if DATABASE_OWNER["NAME"] != DATABASES["default"]["NAME"]:
        raise SystemExit("DATABASE_OWNER_URL must name the same database as DATABASE_URL")
    if not DATABASES["default"].get("USER") or not DATABASE_OWNER.get("USER"):
        raise SystemExit("DATABASE_URL and DATABASE_OWNER_URL must each name their role when both are set")
    if DATABASE_OWNER["USER"] == DATABASES["default"]["USER"]:
        raise SystemExit("DATABASE_OWNER_URL must connect as another role than DATABASE_URL")

# --- cache, broker, background work --------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://phb")}
if TESTING:  # parallel test workers share one Redis: keep their keys apart
    CACHES["default"]["KEY_PREFIX"] = "test-" + env.str("PYTEST_XDIST_WORKER", default="main")

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://" if TESTING else "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem:"):
    # The embedded broker: messages are files under ./var/broker/, no server to install.
    for sub in ("queue", "processed"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False
OUTBOX_DISPATCH_INTERVAL_SECONDS = env.float("OUTBOX_DISPATCH_INTERVAL_SECONDS", default=5.0)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# --- scheduling and notifications ----------------------------------------------------------------
SCHEDULING_CANCEL_CUTOFF_HOURS = env.int("SCHEDULING_CANCEL_CUTOFF_HOURS", default=24)
SCHEDULING_NO_SHOW_GRACE_MINUTES = env.int("SCHEDULING_NO_SHOW_GRACE_MINUTES", default=30)
# Self check-in kiosks: failed attempts (per kiosk) in a window before a pause, and the enrolment's life.
KIOSK_FAILURE_LIMIT = env.int("KIOSK_FAILURE_LIMIT", default=5)
KIOSK_FAILURE_WINDOW_SECONDS = env.int("KIOSK_FAILURE_WINDOW_SECONDS", default=300)
KIOSK_COOLDOWN_SECONDS = env.int("KIOSK_COOLDOWN_SECONDS", default=300)
KIOSK_COOKIE_DAYS = env.int("KIOSK_COOKIE_DAYS", default=365)
# Text messages go through this provider (a dotted path); the default only logs ids (no gateway).
NOTIFICATIONS_SMS_PROVIDER = env.str("NOTIFICATIONS_SMS_PROVIDER", default="phb.notifications.sms.LoggingSmsProvider")
TELEMEDICINE_PROVIDER = env.str("TELEMEDICINE_PROVIDER", default="phb.scheduling.telemedicine.JitsiProvider")
TELEMEDICINE_BASE_URL = env.str("TELEMEDICINE_BASE_URL", default="https://meet.jit.si")
TELEMEDICINE_OPENS_MINUTES_BEFORE = env.int("TELEMEDICINE_OPENS_MINUTES_BEFORE", default=15)

# --- clinical record -----------------------------------------------------------------------------
# An unacknowledged critical alert escalates to the department's head after this many minutes.
CRITICAL_ALERT_ESCALATE_MINUTES = env.int("PHB_CRITICAL_ALERT_ESCALATE_MINUTES", default=15)

# --- security ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "web:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:  # hashing is deliberately slow; the suite checks Argon2 where it matters
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out users before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout (django-axes): N failures for one account from one address lock it for a while.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=30.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "phb.accounts.lockout.lockout_response"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

# Second factor (django-otp)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="PHB")
OTP_EMAIL_TOKEN_VALIDITY = 600
OTP_EMAIL_SUBJECT = "Your PHB sign-in code"
OTP_EMAIL_BODY_TEMPLATE = "Your PHB sign-in code is {{ token }}. It expires in 10 minutes. If you did not try to sign in, change your password."
# Audit events are kept at least six years (HIPAA); a shorter setting is refused.
AUDIT_RETENTION_YEARS = env.int("AUDIT_RETENTION_YEARS", default=6)
if AUDIT_RETENTION_YEARS < 6:
    raise SystemExit("AUDIT_RETENTION_YEARS may not be less than 6")
STEP_UP_MINUTES = env.int("STEP_UP_MINUTES", default=30)
BREAK_GLASS_HOURS = env.float("BREAK_GLASS_HOURS", default=4.0)

# Sessions: idle timeouts by kind of user, and an absolute lifetime.
SESSION_IDLE_MINUTES_STAFF = env.int("SESSION_IDLE_MINUTES_STAFF", default=15)
SESSION_IDLE_MINUTES_PATIENT = env.int("SESSION_IDLE_MINUTES_PATIENT", default=30)
SESSION_COOKIE_AGE = env.int("SESSION_ABSOLUTE_HOURS", default=12) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_HOURS", default=48) * 3600
INVITATION_MAX_AGE = env.int("INVITATION_DAYS", default=7) * 86400
CONSENT_VERSIONS = {"terms": "2026-01", "data_processing": "2026-01", "privacy": "2026-01"}

# Field-encryption keys: a JSON key ring in PHB_KEYRING_JSON, or in the file PHB_KEYRING (generated for
# local runs only). Never in the database. See README, "Encryption keys".
KEYRING_PATH = Path(env.str("PHB_KEYRING", default=str(VAR_DIR / "keyring.json")))
KEYRING_JSON = env.str("PHB_KEYRING_JSON", default="")
if PRODUCTION and not KEYRING_JSON and not KEYRING_PATH.exists():
    raise SystemExit("a key ring is required when PHB_ENV=production: set PHB_KEYRING_JSON or PHB_KEYRING")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

# --- email ---------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="PHB <no-reply@phb.localhost>")

# --- i18n ----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_ORGANIZATION_TIMEZONE = "Africa/Lagos"
DEFAULT_ORGANIZATION_CURRENCY = "NGN"

# --- static files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "phb.accounts.authentication.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.ScopedRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # The suite signs in hundreds of times from one address; its throttle tests lower the rates themselves.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="300/min" if not TESTING else "100000/min"),
        "user": env.str("THROTTLE_USER", default="2000/min" if not TESTING else "100000/min"),
        "sign_in": env.str("THROTTLE_SIGN_IN", default="10/min" if not TESTING else "100000/min"),
        "otp": env.str("THROTTLE_OTP", default="10/min" if not TESTING else "100000/min"),
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/hour" if not TESTING else "100000/min"),
        "oauth_token": env.str("THROTTLE_OAUTH_TOKEN", default="60/min" if not TESTING else "100000/min"),
    },
    # SECURITY: deny by default; every view declares what it needs.
    "DEFAULT_PERMISSION_CLASSES": ["phb.kernel.rest.DenyAll"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "phb.kernel.rest.PagePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "phb.kernel.rest.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PHB API",
    "DESCRIPTION": "REST API of PHB, the open-source health platform. Errors are RFC 9457 problem details.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for a choice set several serializers share.
    "ENUM_NAME_OVERRIDES": {"AppointmentStatusEnum": "phb.scheduling.models.AppointmentStatus"},
}

# --- logging -------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
# JSON lines with the request id on each; personal data is kept out by phb.kernel.logging.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"phb": {"()": "phb.kernel.logging.formatter", "fmt": LOG_FORMAT}},
    "filters": {"phb": {"()": "phb.kernel.logging.PrivacyFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "phb", "filters": ["phb"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # One line per scheduled task run is noise; failures still log at WARNING and above.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

ADMIN_URL = env.str("ADMIN_URL", default="admin/")

from datetime import timedelta  # noqa: E402

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": SECRET_KEY,
}

# --- clinical documents (phb.clinical.documents) --------------------------------------------------
# Files on patients' records (PDF, PNG, JPEG, TIFF) up to this size, kept encrypted in the storage
# "clinical_documents": a directory by default, or any Django storage backend with its options as JSON
# (an S3-compatible bucket through django-storages: README, "Clinical documents").
DOCUMENT_MAX_BYTES = env.int("PHB_DOCUMENT_MAX_MB", default=20) * 1024 * 1024
if DOCUMENT_MAX_BYTES < 1024 * 1024:
    raise SystemExit("PHB_DOCUMENT_MAX_MB must be at least 1")
_DOCUMENT_BACKEND = env.str("PHB_DOCUMENT_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
STORAGES["clinical_documents"] = {
    "BACKEND": _DOCUMENT_BACKEND,
    "OPTIONS": env.json("PHB_DOCUMENT_STORAGE_OPTIONS", default={})
    or (
        {
            "location": env.str("PHB_DOCUMENT_DIR", default=str(VAR_DIR / "documents")),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        }
        if _DOCUMENT_BACKEND == "django.core.files.storage.FileSystemStorage"
        else {}
    ),
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "DocumentCategoryEnum": "phb.clinical.models.DocumentCategory",
        "DocumentStatusEnum": "phb.clinical.models.DocumentStatus",
        "DocumentSourceEnum": "phb.clinical.models.DocumentSource",
    }
)

# --- medications (phb.medications) -----------------------------------------------------------------
# A signed prescription may be dispensed for this many days; a patient may ask for a repeat of a
# prescription whose course ended at most MEDICATIONS_REPEAT_RECENT_DAYS ago (or with refills left).
MEDICATIONS_PRESCRIPTION_VALID_DAYS = env.int("PHB_PRESCRIPTION_VALID_DAYS", default=30)
MEDICATIONS_REPEAT_RECENT_DAYS = env.int("PHB_REPEAT_RECENT_DAYS", default=28)
# Adherence: doses due are generated this many days ahead; a dose may be marked this early; one left
# unmarked this long after it was due becomes missed; this many missed in a row tell the prescriber.
MEDICATIONS_DOSE_WINDOW_DAYS = env.int("PHB_DOSE_WINDOW_DAYS", default=7)
MEDICATIONS_DOSE_EARLY_MINUTES = env.int("PHB_DOSE_EARLY_MINUTES", default=60)
MEDICATIONS_DOSE_GRACE_MINUTES = env.int("PHB_DOSE_GRACE_MINUTES", default=180)
MEDICATIONS_MISSED_DOSES_ALERT = env.int("PHB_MISSED_DOSES_ALERT", default=3)
if MEDICATIONS_MISSED_DOSES_ALERT < 1 or MEDICATIONS_DOSE_WINDOW_DAYS < 1:
    raise SystemExit("PHB_MISSED_DOSES_ALERT and PHB_DOSE_WINDOW_DAYS must be at least 1")

# --- pharmacy (phb.pharmacy) ----------------------------------------------------------------------
# A batch held in stock that expires within this many days raises a near-expiry alert.
PHARMACY_NEAR_EXPIRY_DAYS = env.int("PHB_PHARMACY_NEAR_EXPIRY_DAYS", default=90)
if PHARMACY_NEAR_EXPIRY_DAYS < 0:
    raise SystemExit("PHB_PHARMACY_NEAR_EXPIRY_DAYS must not be negative")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "StockLocationKindEnum": "phb.pharmacy.models.LocationKind",
        "StockMovementKindEnum": "phb.pharmacy.models.MovementKind",
        "StockAlertKindEnum": "phb.pharmacy.models.AlertKind",
        "StockAlertStatusEnum": "phb.pharmacy.models.AlertStatus",
        "PurchaseOrderStatusEnum": "phb.pharmacy.models.PurchaseOrderStatus",
    }
)
# With the pharmacy's, more than one choice set is called "kind": the consents' gets its own name too.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["ConsentKindEnum"] = "phb.patients.models.ConsentKind"
