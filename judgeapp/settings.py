"""JudgeApp settings: one module, every value from the environment, with embedded defaults.

With nothing set, the app runs on a SQLite file and Celery's file-system broker under ``var/``,
so a laptop needs no services. Set ``DATABASE_URL`` and ``REDIS_URL`` for the production path.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


VAR_DIR = Path(env_str("JUDGEAPP_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0 (production mode).")
    SECRET_KEY = "dev-only-key-not-for-production-judgeapp-0123456789abcdefghijklmnop"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "judgeapp.core",
    "judgeapp.accounts",
    "judgeapp.datasets",
    "judgeapp.judging",
    "judgeapp.campaigns",
    "judgeapp.reports",
    "judgeapp.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "judgeapp.accounts.middleware.CurrentTeamMiddleware",
]

ROOT_URLCONF = "judgeapp.urls"
WSGI_APPLICATION = "judgeapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "judgeapp.accounts.context_processors.teams",
            ],
        },
    },
]

# Database --------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'judgeapp.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write to the same file: WAL lets readers go on while one
    # writes, IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that worker processes started by tests see the same database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files: whitenoise serves them from the app itself, no CDN and no build step.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Production mode (DEBUG=0): the settings `manage.py check --deploy` asks for. Behind a TLS
# terminating proxy set SECURE_PROXY_SSL_HEADER=1 so Django trusts X-Forwarded-Proto.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^api/health/$"]
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per judge request at INFO would drown the worker's log.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}

# API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "judgeapp.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "JudgeApp API",
    "DESCRIPTION": "Judge reward-model verdicts against human labels. Authenticate with "
    "`Authorization: Token <key>` (see `manage.py create_token`) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "judgeapp.judging.models.JudgeRun.Status",
        "ImportStatusEnum": "judgeapp.datasets.models.ImportJob.Status",
        "CampaignStatusEnum": "judgeapp.campaigns.models.Campaign.Status",
        "AssignmentStatusEnum": "judgeapp.campaigns.models.Assignment.Status",
        "ReportStatusEnum": "judgeapp.reports.models.Report.Status",
        "TurnRoleEnum": ["system", "user", "assistant"],
        "MemberRoleEnum": "judgeapp.accounts.models.Membership.Role",
    },
}

# Cache: shared by the web and worker processes (import progress, report results).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Imports: uploads up to IMPORT_MAX_UPLOAD_MB; files above IMPORT_INLINE_MAX_KB run in a worker.
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 2048)
IMPORT_INLINE_MAX_KB = env_int("IMPORT_INLINE_MAX_KB", 512)
# Agreement reports over up to this many items are computed during the request; larger by a worker.
REPORT_INLINE_MAX_ITEMS = env_int("REPORT_INLINE_MAX_ITEMS", 2000)
IMPORT_MAX_ERRORS_SHOWN = env_int("IMPORT_MAX_ERRORS_SHOWN", 200)

# Secrets kept in the database (judges' API keys): comma-separated Fernet keys, newest first.
# Empty: one key derived from SECRET_KEY.
ENCRYPTION_KEYS = [k for k in env_str("ENCRYPTION_KEYS", "").split(",") if k.strip()]

# Judging (see judgeapp/judging/pump.py). A judgment is leased to the process that sends it; the
# lease is renewed every third of JUDGING_LEASE_SECONDS while the request is open, and a lease
# that ran out (its process died) is handed back to the queue by the reconciler.
JUDGING_LEASE_SECONDS = env_int("JUDGING_LEASE_SECONDS", 60)
JUDGING_RECONCILE_SECONDS = env_int("JUDGING_RECONCILE_SECONDS", 15)
# Pumps: long-running worker tasks that keep each judge's requests in flight. One is enough for
# hundreds of requests a second; more spread the work over worker processes and machines.
JUDGING_PUMPS = env_int("JUDGING_PUMPS", 1)
# A pump hands over to a fresh one after this long (well under the task time limits below).
JUDGING_PUMP_MAX_SECONDS = env_int("JUDGING_PUMP_MAX_SECONDS", 900)
# Transient failures (timeouts, 429, 5xx, dropped connections) are retried this many times in
# all, with exponential backoff from JUDGING_RETRY_BASE_SECONDS, jitter, and Retry-After honoured.
JUDGING_MAX_ATTEMPTS = env_int("JUDGING_MAX_ATTEMPTS", 10)
JUDGING_RETRY_BASE_SECONDS = float(env_str("JUDGING_RETRY_BASE_SECONDS", "2"))
JUDGING_RETRY_MAX_SECONDS = float(env_str("JUDGING_RETRY_MAX_SECONDS", "300"))

# Celery ----------------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Redis re-delivers an unacknowledged message after the visibility timeout. With acks_late a
    # task that runs longer than this would run twice, so it sits well above the hard time limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    # A host name, though the transport needs none: without one kombu warns on every connection.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
    for _folder in (_broker_dir / "queue", _broker_dir / "control", VAR_DIR / "results"):
        _folder.mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
# A task is acknowledged only after it finished, and re-queued when its worker dies, so a killed
# worker loses no work; every task is written to be safe to run twice (see STYLE.md).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: long tasks do not sit reserved behind a busy process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3000)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = False
# The queue tasks are sent to (a worker consumes it with `-Q`); separate queues keep apart
# JudgeApps sharing one Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_BEAT_SCHEDULE = {
    "judging-reconcile": {
        "task": "judgeapp.judging.tasks.judging_reconcile_task",
        "schedule": float(JUDGING_RECONCILE_SECONDS),
    },
    "campaign-locks-expire": {
        "task": "judgeapp.campaigns.tasks.campaign_locks_expire_task",
        "schedule": 60.0,
    },
    "search-index-catch-up": {
        "task": "judgeapp.datasets.tasks.search_index_pending_task",
        "schedule": 300.0,
    },
}

# How long the health page waits for a worker to answer its ping.
HEALTH_WORKER_TIMEOUT = float(env_str("HEALTH_WORKER_TIMEOUT", "3"))
