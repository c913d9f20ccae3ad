"""Settings of the example landing: no database, no sessions, only leadkit and one template.

The secrets come from the environment: ``LEADKIT_KEY`` (the network's API key),
``LEADKIT_SECRET`` (a long random text that signs the tag cookie) and
``DJANGO_SECRET_KEY``. ``LEADKIT_API`` points the example at another network
(the sandbox: ``leadkit sandbox``), ``LEADKIT_JOURNAL`` moves the
lead journal.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-set-DJANGO_SECRET_KEY-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = ["leadkit"]  # {% load leadkit %} and the leadkit.* system checks
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "landing_site.urls"
WSGI_APPLICATION = "landing_site.wsgi.application"  # wrapped by leadkit, so runserver has it too
DATABASES = {}

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "OPTIONS": {
        # {% leadkit_form %} and {% landing_url %} read the request
        "context_processors": ["django.template.context_processors.request"],
    },
}]

# The same sections and keys as leadkit.toml (see leadkit's README).
LEADKIT = {
    "network": {
        "api": os.environ.get("LEADKIT_API", "https://lk.dalead.pro/api"),
        "role": "wm",
        "dialect": "dalead",
    },
    # "language": the page is in English; without it, the country's language (Russian in Kazakhstan).
    "offer": {"offer": 217, "flow": 42, "country": "kz", "language": "en", "fields": {"currency": "kzt"}},
    "form": {"title": "Order with a 50% discount", "submit": "Order now"},
    "journal": {"path": os.environ.get("LEADKIT_JOURNAL", "leadkit.db")},  # relative to BASE_DIR
}

LANGUAGE_CODE = "en-us"
USE_TZ = True
