"""Visit-diary pages: the diary itself (``diary``), quotas, compliance, events and campaigns
(``cadence``), night visits (``night``)."""

from django.http import HttpRequest

from minqing.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request past the login wall (every diary page needs one): its user is an account."""

    user: User  # narrowed: the login wall lets only accounts in
