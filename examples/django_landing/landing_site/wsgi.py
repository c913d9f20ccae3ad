"""The WSGI entry point: Django's application, wrapped by leadkit (configured from ``settings.LEADKIT``).

    waitress-serve --listen 127.0.0.1:8000 landing_site.wsgi:application
"""

import os

from django.core.wsgi import get_wsgi_application

from leadkit.django import wrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "landing_site.settings")

application = wrap(get_wsgi_application())
