"""The `minqing` console script: Django's management utility with Minqing's settings."""

import os
import sys


def main() -> None:
    from minqing.lib.private_files import private_umask, secure_data_dir

    private_umask()  # before anything is created: the data dir is the owner's only
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    secure_data_dir(settings.DATA_DIR, settings.MINQING_KEYRING)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
