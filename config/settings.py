"""Settings of the monitoring console: every knob from the environment.

Each setting is listed, with its default, in docs/settings.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import embedded, redis_roles, seed_variables
from config.env import env_bool, env_float, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core --------------------------------------------------------------------
DATA_DIR = Path(env_str("DATA_DIR", ".data"))
if not DATA_DIR.is_absolute():
    DATA_DIR = BASE_DIR / DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)
LOG_DIR = DATA_DIR / "logs"
LOG_DIR.mkdir(parents=True, exist_ok=True)

# off unless asked for: `make run` and the test settings turn it on explicitly
DEBUG = env_bool("DEBUG", False)
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Behind TLS (docs/security.md); `manage.py check --deploy` is clean with SECURE_SSL_REDIRECT=true ---
# plain HTTP stays possible with it off (the default): a console on a private network, or TLS not yet set up
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# liveness and readiness probes speak plain HTTP inside the network
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health$"]
# "HTTP_X_FORWARDED_PROTO,https": the header and value a TLS-terminating proxy sets. Only behind such a
# proxy: a client reaching the console directly could send it.
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None
# daphne takes the client's address and scheme from X-Forwarded-For/-Proto (config/management/commands/web.py)
PROXY_HEADERS = env_bool("PROXY_HEADERS", SECURE_PROXY_SSL_HEADER is not None)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_SSL_REDIRECT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# preloading commits the whole domain to HTTPS in browsers for months: the operator's explicit choice
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]  # W021: "preload not set"
# failed logins per minute, per client address and per username, before the login pages answer 429
LOGIN_RATE_LIMIT_PER_MINUTE = env_int("LOGIN_RATE_LIMIT_PER_MINUTE", 10)
LOGIN_USERNAME_RATE_LIMIT_PER_MINUTE = env_int("LOGIN_USERNAME_RATE_LIMIT_PER_MINUTE", 5)
TIME_ZONE = env_str("TIME_ZONE", "UTC")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# seed 003: the console's own log also goes to this file (JSON lines); empty: only the console/stderr
LOG_FILE = env_str("LOG_FILE")


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if key:
        return key
    # development: generated once (by a DEBUG run: make run) and kept under DATA_DIR, so sessions survive
    # restarts and `manage.py issue_token` beside it (DEBUG off) signs with the same key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    path.write_text(secrets.token_urlsafe(50))
    path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# --- Storage and broker ------------------------------------------------------
EMBEDDED_POSTGRES_FAST = env_bool("EMBEDDED_POSTGRES_FAST", False)
DATABASE_URL_SET = bool(env_secret("DATABASE_URL"))
# seed 002's POSTGRES_DSN is the same thing under another name
DATABASE_URL = env_secret("DATABASE_URL") or env_secret("POSTGRES_DSN")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    DATABASE_URL = embedded.EmbeddedPostgres(DATA_DIR, fast=EMBEDDED_POSTGRES_FAST).ensure_running()
REDIS_URL_SET = bool(env_secret("REDIS_URL"))
# seed 002's REDIS_HOST / REDIS_PORT / REDIS_DB when REDIS_URL is unset
REDIS_URL = env_secret("REDIS_URL") or seed_variables.redis_url_from_parts(os.environ)
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = embedded.EmbeddedRedis(DATA_DIR).ensure_running()
# Redis per role, each defaulting to REDIS_URL (docs/scale-out.md); sentinel:// URLs where supported
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or REDIS_URL
CHANNEL_REDIS_URL = env_secret("CHANNEL_REDIS_URL") or REDIS_URL
CACHE_REDIS_URL = env_secret("CACHE_REDIS_URL") or REDIS_URL
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "mymaster")

DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
# Behind PgBouncer in transaction pooling (docs/scale-out.md): a transaction may land on any server
# connection, so no server-side prepared statements (psycopg prepares repeated queries) nor cursors.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# the web process (ASGI) runs with CONN_MAX_AGE 0 and this statement timeout (config/web_database.py);
# the ingest fast path's threads keep their connections this many seconds
WEB_STATEMENT_TIMEOUT_MS = env_int("WEB_STATEMENT_TIMEOUT_MS", 15_000)
INGEST_CONN_MAX_AGE = env_int("INGEST_CONN_MAX_AGE", 60)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_roles.cache_location(CACHE_REDIS_URL),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
CHANNEL_LAYERS = {
    "default": {
        # channels_redis, plus: a group_add tells the live publishers somebody watches (monitoring/live/publisher.py)
        "BACKEND": "monitoring.live.publisher.LiveChannelLayer",
        "CONFIG": {
            "hosts": redis_roles.channel_hosts(CHANNEL_REDIS_URL, REDIS_SENTINEL_MASTER),
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# --- Django ------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "config",
    "servers",
    "monitoring",
    "ingest",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "monitoring.selfmetrics.RequestMetrics",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "config.login_limits.LoginRateLimit",
    "ingest.middleware.IngestRequestLog",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.canonical_urls.CanonicalSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.web_database.StatementTimeout",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# the debug page and error reports hide connection strings and every NOTIFY_*/GROQ_* setting
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.SettingsFilter"
ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None
# Agents and receivers post to exact paths: never redirect a POST to add a slash.
APPEND_SLASH = False

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
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# the console's own page: team members need not be staff
LOGIN_URL = env_str("LOGIN_URL", "/console/login")
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("INGEST_MAX_BODY_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

ADMIN_USER = env_str("ADMIN_USER", "admin")
ADMIN_PASSWORD = env_secret("ADMIN_PASSWORD")
CONSOLE_NAME = env_str("CONSOLE_NAME", "Monitoring console")

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "servers.auth.PersonTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # the API reads JSON only (the seeds' clients send nothing else); a form or multipart body gets a 415.
    # Under daphne, Twisted parses a multipart body itself and answers a malformed one with a bare 400.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Monitoring console API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # vendored Swagger UI and ReDoc: the console loads nothing from a CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["config.openapi.one_path_per_operation"],
    # the ingest paths (lean views, not DRF), then every operation's error answers
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ingest.openapi.add_ingest_paths",
        "config.openapi.add_refusals",
    ],
    # one name per choice set shared by several serializers
    "ENUM_NAME_OVERRIDES": {
        "AlertStateEnum": "alerts.choices.AlertState",
        "AlertSeverityEnum": "alerts.choices.Severity",
        "ServerKindEnum": "servers.choices.ServerKind",
        "ServiceStateEnum": "monitoring.choices.ServiceState",
        "EventStatusEnum": "monitoring.choices.EventStatus",
    },
}

# CORS for the seeds' frontends (seeds 003, 004): origins whose pages may call the REST API (and open the
# WebSocket streams); "*" (any origin) only with DEBUG
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
if "*" in CORS_ALLOWED_ORIGINS and not DEBUG:
    raise ImproperlyConfigured("CORS_ALLOWED_ORIGINS=* is allowed only with DEBUG on: list the frontends' origins")
CORS_ALLOW_ALL_ORIGINS = "*" in CORS_ALLOWED_ORIGINS
if CORS_ALLOW_ALL_ORIGINS:
    CORS_ALLOWED_ORIGINS = []
CORS_URLS_REGEX = r"^/(api/.*|health/?|healthz/?)$"
CORS_ALLOW_CREDENTIALS = False  # pages elsewhere use a person's token, never this console's session cookie

# --- Inventory and ingest ----------------------------------------------------
SERVER_STALE_SECONDS = env_int("SERVER_STALE_SECONDS", 60)
SERVER_DOWN_SECONDS = env_int("SERVER_DOWN_SECONDS", 300)
INGEST_ALLOW_ANONYMOUS = env_bool("INGEST_ALLOW_ANONYMOUS", False)
# seed 000: each received snapshot pretty-printed on the console (make run); on with DEBUG
INGEST_PRETTY_PRINT = env_bool("INGEST_PRETTY_PRINT", DEBUG)
# seed 000: the ingest.log line also carries the request's payload, cut at INGEST_LOG_PAYLOAD_BYTES
INGEST_LOG_PAYLOADS = env_bool("INGEST_LOG_PAYLOADS", False)
INGEST_LOG_PAYLOAD_BYTES = env_int("INGEST_LOG_PAYLOAD_BYTES", 4096)
INGEST_MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
INGEST_MAX_FUTURE_SECONDS = env_int("INGEST_MAX_FUTURE_SECONDS", 3600)
INGEST_IDEMPOTENCY_SECONDS = env_int("INGEST_IDEMPOTENCY_SECONDS", 86400)
# bytes of request bodies held at once by one web process; beyond, 503 with Retry-After
INGEST_MAX_INFLIGHT_BYTES = env_int("INGEST_MAX_INFLIGHT_BYTES", 64 * 1024 * 1024)
# cardinality per server: labels per series, label name and value length (400 beyond), new series
# a minute (429 beyond) and series in total (400 beyond); checked only when a write creates series
SERIES_MAX_LABELS = env_int("SERIES_MAX_LABELS", 32)
SERIES_MAX_LABEL_NAME_CHARS = env_int("SERIES_MAX_LABEL_NAME_CHARS", 128)
SERIES_MAX_LABEL_VALUE_CHARS = env_int("SERIES_MAX_LABEL_VALUE_CHARS", 1024)
SERIES_MAX_NEW_PER_MINUTE = env_int("SERIES_MAX_NEW_PER_MINUTE", 2000)
SERIES_MAX_PER_SERVER = env_int("SERIES_MAX_PER_SERVER", 10_000)
# a longer log message is stored cut to this many bytes (UTF-8), with a marker saying how much was cut
LOG_MESSAGE_MAX_BYTES = env_int("LOG_MESSAGE_MAX_BYTES", 16 * 1024)
# the continuous log stream (seed 004): bytes per stream, and seconds without a byte before it is closed
INGEST_STREAM_MAX_BYTES = env_int("INGEST_STREAM_MAX_BYTES", 1024 * 1024 * 1024)
INGEST_STREAM_IDLE_SECONDS = env_int("INGEST_STREAM_IDLE_SECONDS", 60)
# a series with at least this many samples in one request is stored as one row of arrays (a run)
INGEST_RUN_MIN_SAMPLES = env_int("INGEST_RUN_MIN_SAMPLES", 4)
# threads (each with its database connection) serving the seed ingest paths under daphne
INGEST_THREADS = env_int("INGEST_THREADS", 4)
AGENT_RATE_LIMIT_PER_MINUTE = env_int("AGENT_RATE_LIMIT_PER_MINUTE", 120)
# a fleet token as a whole (each host it writes for has its own AGENT_RATE_LIMIT_PER_MINUTE)
FLEET_RATE_LIMIT_PER_MINUTE = env_int("FLEET_RATE_LIMIT_PER_MINUTE", 60_000)
# seed 002: one shared agent token; when set, it is accepted as a fleet token
AGENT_API_TOKEN = env_secret("AGENT_API_TOKEN")
TOKEN_CACHE_SECONDS = env_int("TOKEN_CACHE_SECONDS", 10)
# the URL agents reach the console at, in install lines (default: the URL the page was opened at)
CONSOLE_URL = env_str("CONSOLE_URL", "")
# `make run` (manage.py console) runs the bundled agent for the console's own host
SELF_MONITOR = env_bool("SELF_MONITOR", True)
SELF_MONITOR_HOSTNAME = env_str("SELF_MONITOR_HOSTNAME", "")  # default: this machine's hostname
SELF_MONITOR_INTERVAL = env_int("SELF_MONITOR_INTERVAL", 10)
# per-process series (seed 002 tables) are kept for the top N process names of each table
PROCESS_SERIES_TOP_N = env_int("PROCESS_SERIES_TOP_N", 10)

# --- Storage: queries, roll-ups, partitions, retention -----------------------
MAX_QUERY_POINTS = env_int("MAX_QUERY_POINTS", 11_000)
MAX_QUERY_SERIES = env_int("MAX_QUERY_SERIES", 1000)
# series x points one metrics query may answer, checked before any point is read
MAX_QUERY_TOTAL_POINTS = env_int("MAX_QUERY_TOTAL_POINTS", 500_000)
RETENTION_SECONDS = env_int("RETENTION_SECONDS", 300)
ROLLUP_LATE_SECONDS = env_int("ROLLUP_LATE_SECONDS", 3600)
PARTITION_PREMAKE_DAYS = env_int("PARTITION_PREMAKE_DAYS", 3)
RAW_RETENTION_DAYS = env_int("RAW_RETENTION_DAYS", env_int("POSTGRES_RETENTION_DAYS", 7))
ROLLUP_RETENTION_DAYS = env_int("ROLLUP_RETENTION_DAYS", 365)  # 1-hour roll-ups
ROLLUP_1M_RETENTION_DAYS = env_int("ROLLUP_1M_RETENTION_DAYS", 31)
# a size cap on the database (bytes; 0: none): over it, retention drops the oldest raw days, then 1-minute roll-ups
STORAGE_MAX_BYTES = env_int("STORAGE_MAX_BYTES", 0) or None
# the console alerts on itself when the cap or the disk is this many days away, or the disk this free
STORAGE_WARN_DAYS = env_int("STORAGE_WARN_DAYS", 7)
STORAGE_WARN_DISK_FREE_PERCENT = env_float("STORAGE_WARN_DISK_FREE_PERCENT", 10.0)
UPKEEP_INTERVAL_SECONDS = env_int("UPKEEP_INTERVAL_SECONDS", 60)

# --- Prometheus-compatible query API (/prometheus/api/v1/) -------------------
PROMQL_LOOKBACK_SECONDS = env_int("PROMQL_LOOKBACK_SECONDS", 300)
# the step of a subquery written without one (Prometheus' global evaluation_interval)
PROMQL_SUBQUERY_STEP_SECONDS = env_int("PROMQL_SUBQUERY_STEP_SECONDS", 60)
PROMQL_MAX_SERIES = env_int("PROMQL_MAX_SERIES", 10_000)
PROMQL_MAX_SAMPLES = env_int("PROMQL_MAX_SAMPLES", 5_000_000)

# --- Logs and events ---------------------------------------------------------
LOG_ERROR_RATE_THRESHOLD = env_float("LOG_ERROR_RATE_THRESHOLD", 0.05)
LOG_ERROR_RATE_WINDOW_SECONDS = env_int("LOG_ERROR_RATE_WINDOW_SECONDS", 300)
SERVICE_SILENT_SECONDS = env_int("SERVICE_SILENT_SECONDS", 600)
EVENT_RESPONSE_TIME_MS = env_float("EVENT_RESPONSE_TIME_MS", 5000)
EVENT_CPU_USAGE = env_float("EVENT_CPU_USAGE", 90)
EVENT_MEMORY_USAGE = env_float("EVENT_MEMORY_USAGE", 85)
EVENT_ERROR_RATE = env_float("EVENT_ERROR_RATE", 10)
EVENT_LATENCY_MS = env_float("EVENT_LATENCY_MS", 3000)
EVENT_ANOMALY_Z_SCORE = env_float("EVENT_ANOMALY_Z_SCORE", 3)
# seed 003's automatic re-evaluation: every REEVALUATE_INTERVAL_SECONDS, the events of the last
# REEVALUATE_LOOKBACK_MINUTES are judged again with today's rules (as POST .../analysis/re-evaluate); 0: off
REEVALUATE_INTERVAL_SECONDS = env_int("REEVALUATE_INTERVAL_SECONDS", 300)
REEVALUATE_LOOKBACK_MINUTES = env_int("REEVALUATE_LOOKBACK_MINUTES", 60)
# seed 004's log classification: every PROCESSING_INTERVAL_SECONDS each service's new lines (at most
# MAX_LOG_BATCH_SIZE) are grouped into templates in batches of BATCH_SIZE lines and the new templates
# classified (Groq when a key is set, else rules); AI_CLASSIFICATION_ENABLED=false: no classification
AI_CLASSIFICATION_ENABLED = env_bool("AI_CLASSIFICATION_ENABLED", True)
PROCESSING_INTERVAL_SECONDS = env_int("PROCESSING_INTERVAL_SECONDS", 30)
BATCH_SIZE = env_int("BATCH_SIZE", 100)
MAX_LOG_BATCH_SIZE = env_int("MAX_LOG_BATCH_SIZE", 1000)
WARNING_THRESHOLD = env_float("WARNING_THRESHOLD", 0.7)
CRITICAL_THRESHOLD = env_float("CRITICAL_THRESHOLD", 0.9)

# --- Alerting and notifications ----------------------------------------------
ALERT_EVAL_INTERVAL_SECONDS = env_int("ALERT_EVAL_INTERVAL_SECONDS", 10)
ALERT_CPU_THRESHOLD = env_float("ALERT_CPU_THRESHOLD", 90)
ALERT_CPU_DURATION_SECONDS = env_int("ALERT_CPU_DURATION_SECONDS", 10)
REPEAT_INTERVAL = env_int("REPEAT_INTERVAL", 4 * 3600)
ALERT_RETENTION_SECONDS = env_int("ALERT_RETENTION_SECONDS", 86400)
# the longest a silence may last (API, admin and console alike)
SILENCE_MAX_SECONDS = env_int("SILENCE_MAX_SECONDS", 7 * 86400)
# an alert that fired ALERT_FLAP_THRESHOLD times within ALERT_FLAP_WINDOW_SECONDS is flapping:
# it resolves only after its condition stays clear for ALERT_FLAP_HOLD_SECONDS
ALERT_FLAP_THRESHOLD = env_int("ALERT_FLAP_THRESHOLD", 3)
ALERT_FLAP_WINDOW_SECONDS = env_int("ALERT_FLAP_WINDOW_SECONDS", 900)
ALERT_FLAP_HOLD_SECONDS = env_int("ALERT_FLAP_HOLD_SECONDS", 300)
# rules of a round are shared among this many threads (each its own database connection)
ALERT_EVAL_THREADS = env_int("ALERT_EVAL_THREADS", 4)
# the first retry of a failed notification waits this long, then twice as long each time
NOTIFY_RETRY_BACKOFF_SECONDS = env_float("NOTIFY_RETRY_BACKOFF_SECONDS", 2)
NOTIFY_WEBHOOK_URL = env_secret("NOTIFY_WEBHOOK_URL")
NOTIFY_WEBHOOK_SECRET = env_secret("NOTIFY_WEBHOOK_SECRET")
NOTIFY_SLACK_WEBHOOK_URL = env_secret("NOTIFY_SLACK_WEBHOOK_URL")
NOTIFY_EMAIL_TO = env_list("NOTIFY_EMAIL_TO", [])
NOTIFY_TIMEOUT_SECONDS = env_float("NOTIFY_TIMEOUT_SECONDS", 10)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 5)
# the outbox sweep: how often beat sends the sent pages no worker took (Redis was down when they were
# queued), and how old such a page must be first (the task queued at commit normally takes it in time)
NOTIFY_SWEEP_SECONDS = env_int("NOTIFY_SWEEP_SECONDS", 15)
NOTIFY_SWEEP_GRACE_SECONDS = env_int("NOTIFY_SWEEP_GRACE_SECONDS", 30)
# less noise (docs: "Less noise"): what a new rule gets unless set, and how much one rule may page
ALERT_DEFAULT_FOR_SECONDS = env_int("ALERT_DEFAULT_FOR_SECONDS", 60)
ALERT_DEFAULT_RECOVERY_PERCENT = env_float("ALERT_DEFAULT_RECOVERY_PERCENT", 10)
# pages (firing, reminder) one rule may send in a clock hour; the rest go into one digest
NOTIFY_BUDGET_PER_HOUR = env_int("NOTIFY_BUDGET_PER_HOUR", 4)
# one-click acknowledge / silence links in Slack and e-mail: valid this long, once
ACTION_LINK_TTL_SECONDS = env_int("ACTION_LINK_TTL_SECONDS", 86400)
# (CONSOLE_URL, above, also makes the one-click links in notifications; without it they use http://HOST:PORT)
# the console watching itself: stored data later than this, and how many intervals a round may be late
ALERT_INGEST_LAG_SECONDS = env_int("ALERT_INGEST_LAG_SECONDS", 60)
ALERT_ROUND_LATE_INTERVALS = env_int("ALERT_ROUND_LATE_INTERVALS", 3)
# Slack and webhook channels may reach loopback, private, link-local and metadata addresses (SSRF guard off)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "monitoring@localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

# --- Incident analysis (Groq) -------------------------------------------------
ENABLE_LLM_MONITORING = env_bool("ENABLE_LLM_MONITORING", True)
GROQ_API_KEY = env_secret("GROQ_API_KEY")
# llama-3.3-70b-versatile (and seed 003's mixtral-8x7b-32768) are shut down on Groq; gpt-oss-120b is
# the production model Groq recommends in their place.
GROQ_MODEL = env_str("GROQ_MODEL", "openai/gpt-oss-120b")
GROQ_BASE_URL = env_str("GROQ_BASE_URL")
GROQ_MAX_TOKENS = env_int("GROQ_MAX_TOKENS", 1024)
GROQ_TIMEOUT_SECONDS = env_float("GROQ_TIMEOUT_SECONDS", 30)
GROQ_MAX_RETRIES = env_int("GROQ_MAX_RETRIES", 2)
# sent as reasoning_effort to reasoning models (gpt-oss, qwen3); empty: not sent (other models)
GROQ_REASONING_EFFORT = env_str("GROQ_REASONING_EFFORT", "low")
ANALYSIS_COOLDOWN_SECONDS = env_int("ANALYSIS_COOLDOWN_SECONDS", 900)
ANALYSIS_WAIT_SECONDS = env_float("ANALYSIS_WAIT_SECONDS", 20)
ANALYSIS_TOKEN_BUDGET = env_int("ANALYSIS_TOKEN_BUDGET", 6000)
ANALYSIS_RETENTION_DAYS = env_int("ANALYSIS_RETENTION_DAYS", 30)
# seed 003's LLM-refined severity: WARNING/CRITICAL events of the last hour, this many a call, every interval
EVENT_REVIEW_INTERVAL_SECONDS = env_int("EVENT_REVIEW_INTERVAL_SECONDS", 30)
EVENT_REVIEW_BATCH_SIZE = env_int("EVENT_REVIEW_BATCH_SIZE", 20)
# background model work (log classification, event reviews): tokens it may spend per hour, and how long
# it leaves Groq alone after a 429 (or Retry-After, when longer); the rules answer meanwhile
LLM_TOKENS_PER_HOUR = env_int("LLM_TOKENS_PER_HOUR", 200_000)
LLM_COOLDOWN_SECONDS = env_int("LLM_COOLDOWN_SECONDS", 60)
# analyses one person may start per minute (API and button); 0: no limit
ANALYSIS_REQUESTS_PER_MINUTE = env_int("ANALYSIS_REQUESTS_PER_MINUTE", 10)
# reads of GET /api/analytics/insights one person may make per minute (dashboards poll it); 0: no limit
INSIGHTS_REQUESTS_PER_MINUTE = env_int("INSIGHTS_REQUESTS_PER_MINUTE", 30)

# --- Live --------------------------------------------------------------------
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])
# live sockets one daphne process holds (seed 004), and one person may hold; over either: closed with 1013
MAX_WEBSOCKET_CONNECTIONS = env_int("MAX_WEBSOCKET_CONNECTIONS", 100)
MAX_WEBSOCKET_CONNECTIONS_PER_PERSON = env_int("MAX_WEBSOCKET_CONNECTIONS_PER_PERSON", 10)
# a {"type": "heartbeat"} frame to every socket this often (seed 004); daphne pings a socket silent this long
# and closes it when the ping is not answered within as long again: two intervals without any answer
WEBSOCKET_HEARTBEAT_INTERVAL = env_int("WEBSOCKET_HEARTBEAT_INTERVAL", 30)
# bytes sent to a socket and not yet taken by its client; past it the slow reader is disconnected
WEBSOCKET_SEND_BUFFER_BYTES = env_int("WEBSOCKET_SEND_BUFFER_BYTES", 1024 * 1024)
# how often an open socket's token or session is checked again (revoked, logged out: closed)
WEBSOCKET_AUTH_RECHECK_SECONDS = env_int("WEBSOCKET_AUTH_RECHECK_SECONDS", 60)
# frames waiting for the live publisher thread; beyond that they are dropped (ingest never waits)
LIVE_QUEUE_SIZE = env_int("LIVE_QUEUE_SIZE", 1000)
LIVE_PUBLISH_TIMEOUT_SECONDS = env_float("LIVE_PUBLISH_TIMEOUT_SECONDS", 1.0)

# --- Seed 002's Redis side --------------------------------------------------
# also publish received payloads and fired alerts on Redis as seed 002 did, for tools built on it
SEED002_REDIS_COMPAT = env_bool("SEED002_REDIS_COMPAT", False)
REDIS_METRICS_CHANNEL = env_str("REDIS_METRICS_CHANNEL", "metrics:live")
REDIS_METRICS_KEY = env_str("REDIS_METRICS_KEY", "metrics:timeline")
REDIS_ALERTS_CHANNEL = env_str("REDIS_ALERTS_CHANNEL", "alerts:live")
REDIS_ALERTS_KEY = env_str("REDIS_ALERTS_KEY", "alerts:timeline")

# --- Receivers ---------------------------------------------------------------
PROM_SERVER_LABEL = env_str("PROM_SERVER_LABEL", "instance")
# Requests a minute per token on the receivers (Prometheus, OTLP, collectd); 0 = no limit.
# Over it they answer 503 with Retry-After, which these clients retry (most drop on 429).
RECEIVER_RATE_LIMIT_PER_MINUTE = env_int("RECEIVER_RATE_LIMIT_PER_MINUTE", 60_000)
# A compressed body (snappy, gzip) may expand to at most this many bytes (else 413).
RECEIVER_MAX_DECOMPRESSED_BYTES = env_int("RECEIVER_MAX_DECOMPRESSED_BYTES", 64 * 1024 * 1024)
# Publish what the receivers store to the live views. A Prometheus request spans many servers,
# and its live frames cost the console more CPU than storing it: fleets at high rates may turn this off.
RECEIVER_LIVE = env_bool("RECEIVER_LIVE", True)

# --- The console's own metrics (GET /metrics) --------------------------------
# addresses that may scrape /metrics without a token (a person's API token works from anywhere)
METRICS_ALLOWED_CIDRS = env_list("METRICS_ALLOWED_CIDRS", ["127.0.0.0/8", "::1/128"])
# Celery queues whose depth /metrics reports
METRICS_CELERY_QUEUES = env_list("METRICS_CELERY_QUEUES", ["celery"])

# --- Celery ------------------------------------------------------------------
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
if redis_roles.is_sentinel(CELERY_BROKER_URL):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"master_name": REDIS_SENTINEL_MASTER}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"master_name": REDIS_SENTINEL_MASTER}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "evaluate-alert-rules": {
        "task": "alerts.tasks.evaluate_rules",
        "schedule": timedelta(seconds=ALERT_EVAL_INTERVAL_SECONDS),
        "options": {"expires": ALERT_EVAL_INTERVAL_SECONDS},
    },
    "storage-upkeep": {
        "task": "monitoring.tasks.upkeep",
        "schedule": timedelta(seconds=UPKEEP_INTERVAL_SECONDS),
        "options": {"expires": UPKEEP_INTERVAL_SECONDS},
    },
    "alerts-prune": {
        "task": "alerts.tasks.prune",
        "schedule": timedelta(hours=1),
    },
    "storage-retention": {
        "task": "monitoring.tasks.retention",
        "schedule": timedelta(hours=1),
    },
    "ingest-forget-receipts": {
        "task": "ingest.tasks.forget_receipts",
        "schedule": timedelta(minutes=10),
    },
    "alerts-send-pending-pages": {
        "task": "alerts.tasks.send_pending_pages",
        "schedule": timedelta(seconds=NOTIFY_SWEEP_SECONDS),
        "options": {"expires": NOTIFY_SWEEP_SECONDS},
    },
    "alerts-digests": {
        "task": "alerts.tasks.send_digests",
        "schedule": timedelta(minutes=1),
    },
    "alerts-watch-console": {
        "task": "alerts.tasks.watch_console",
        "schedule": timedelta(seconds=ALERT_EVAL_INTERVAL_SECONDS),
        "options": {"expires": ALERT_EVAL_INTERVAL_SECONDS},
    },
    "service-health-watch": {
        "task": "monitoring.tasks.watch_service_health",
        "schedule": timedelta(seconds=ALERT_EVAL_INTERVAL_SECONDS),
        "options": {"expires": ALERT_EVAL_INTERVAL_SECONDS},
    },
    "analysis-prune": {
        "task": "alerts.analysis.prune",
        "schedule": timedelta(hours=1),
    },
}
if AI_CLASSIFICATION_ENABLED and PROCESSING_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["logs-classify"] = {
        "task": "alerts.analysis.classify_logs",
        "schedule": timedelta(seconds=PROCESSING_INTERVAL_SECONDS),
        "options": {"expires": PROCESSING_INTERVAL_SECONDS},
    }
if ENABLE_LLM_MONITORING and EVENT_REVIEW_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["events-llm-review"] = {
        "task": "alerts.analysis.review_events",
        "schedule": timedelta(seconds=EVENT_REVIEW_INTERVAL_SECONDS),
        "options": {"expires": EVENT_REVIEW_INTERVAL_SECONDS},
    }
if REEVALUATE_INTERVAL_SECONDS > 0 and REEVALUATE_LOOKBACK_MINUTES > 0:
    CELERY_BEAT_SCHEDULE["events-re-evaluate"] = {
        "task": "monitoring.tasks.re_evaluate_events",
        "schedule": timedelta(seconds=REEVALUATE_INTERVAL_SECONDS),
        "options": {"expires": REEVALUATE_INTERVAL_SECONDS},
    }


# --- Logging -----------------------------------------------------------------
def _log_file_handler(name: str) -> dict:
    path = Path(name)
    if not path.is_absolute():
        path = BASE_DIR / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"class": "logging.handlers.WatchedFileHandler", "filename": str(path), "formatter": "json"}


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    # a webhook's or Slack URL's path is its credential: the HTTP client's lines show scheme and host only
    "filters": {"outbound_urls": {"()": "alerts.outbound.MaskUrlsInLog"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console" if DEBUG else "json"},
        "ingest_file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(LOG_DIR / "ingest.log"),
            "formatter": "json",
        },
    }
    | ({"file": _log_file_handler(LOG_FILE)} if LOG_FILE else {}),
    "root": {"handlers": ["console", "file"] if LOG_FILE else ["console"], "level": LOG_LEVEL},
    "loggers": {
        "ingest.requests": {"handlers": ["ingest_file"], "level": "INFO", "propagate": False},
        "ingest.snapshots": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"filters": ["outbound_urls"]},
    },
}

# --- Seed variables that change nothing (reported at start-up, see docs/seeds.md) ---
IGNORED_SEED_VARIABLES = seed_variables.ignored(
    os.environ,
    redis_url_set=REDIS_URL_SET,
    database_url_set=DATABASE_URL_SET,
    redis_compat=SEED002_REDIS_COMPAT,
    defined=set(globals()),
)
