"""The `minqing` console script: Django's management utility with Minqing's settings."""

import os
import sys

#: Commands of the demo app, installed only when one of them runs (minqing.settings).
DEMO_COMMANDS = ("demo", "bench")


def main() -> None:
    from minqing.lib.private_files import private_umask, secure_data_dir

    private_umask()  # before anything is created: the data dir is the owner's only
    if sys.argv[1:2] and sys.argv[1] in DEMO_COMMANDS:
        os.environ["MINQING_DEMO_APP"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    secure_data_dir(settings.DATA_DIR, settings.MINQING_KEYRING)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
