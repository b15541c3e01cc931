"""The test suite's settings: the site's, with the demo app installed (its tests build the demo
county and run the bench; production installs it only for `minqing demo`/`minqing bench`)."""

from minqing.settings import *  # noqa: F403
from minqing.settings import INSTALLED_APPS

if "minqing.demo" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "minqing.demo"]
