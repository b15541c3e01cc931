from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    name = "minqing.issues"
    verbose_name = _("Issues")

    def ready(self) -> None:
        from minqing.issues import errors  # noqa: F401  (registers the app's error codes)

        # The issues' part of the households app's search (households imports nothing of issues).
        from minqing.issues.templatetags import household_issues  # noqa: F401
