"""WSGI entry point for gunicorn: ``gunicorn minqing.wsgi``."""

import os

from minqing.lib.private_files import private_umask

private_umask()  # database, key ring, sealed files and logs are the owner's only

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
application = get_wsgi_application()
