"""Delivery channels: where a notification goes besides the in-app list.

``MINQING_NOTIFY_CHANNELS`` lists channel classes by dotted path. Each is instantiated once per
delivery batch and its ``send(notification, user)`` called for every notification; raising
counts as a failure of that channel for that message only (logged, the others still go out,
the in-app row stays).

Plugging in a real gateway: subclass :class:`SmsChannel` or :class:`WeChatChannel` in your
deployment's own module, implement ``send`` with the county's gateway client, and add its path
to ``MINQING_NOTIFY_CHANNELS``. Delivery runs in the background worker (``minqing worker``), so a
slow gateway never holds up a page.
"""

from __future__ import annotations

import logging
from typing import Any

from minqing.notifications.models import Notification

logger = logging.getLogger("minqing.notifications")


class Channel:
    """A way to deliver a notification. Subclasses implement :meth:`send`."""

    def send(self, notification: Notification, user: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.send() is not implemented")


class LogChannel(Channel):
    """Writes one log line per message: who (username only), kind and title."""

    def send(self, notification: Notification, user: Any) -> None:
        logger.info(
            "notification %s to %s: %s", notification.kind, user.get_username(), notification.title
        )


class SmsChannel(Channel):
    """Interface for SMS delivery (短信) through the county's SMS gateway.

    Minqing ships no gateway: counties use different ones (政务短信平台, an operator's
    enterprise SMS interface), reached from the intranet. To plug one in::

        class CountySms(SmsChannel):
            def send(self, notification, user):
                if user.phone:  # a Sensitive: str() is masked, reveal() the number
                    gateway.send(user.phone.reveal(), f"{notification.title} {notification.body}")

    then add ``"yourpackage.sms.CountySms"`` to ``MINQING_NOTIFY_CHANNELS``. Keep the text free
    of personal data; an SMS leaves the intranet.
    """

    def send(self, notification: Notification, user: Any) -> None:
        raise NotImplementedError(
            "SmsChannel is an interface, not a gateway: subclass it, implement send() with your "
            "SMS gateway's client, and list the subclass in MINQING_NOTIFY_CHANNELS."
        )


class WeChatChannel(Channel):
    """Interface for WeChat delivery (企业微信 / 政务微信 application messages).

    Implement ``send`` with the organisation's WeChat Work (or 政务微信) API: map the user to
    their WeChat user id (e.g. a field your deployment adds), send ``notification.title`` and an
    absolute link built from ``notification.link``, then add the subclass's dotted path to
    ``MINQING_NOTIFY_CHANNELS``.
    """

    def send(self, notification: Notification, user: Any) -> None:
        raise NotImplementedError(
            "WeChatChannel is an interface, not a gateway: subclass it, implement send() with "
            "your WeChat Work / 政务微信 API client, and list the subclass in "
            "MINQING_NOTIFY_CHANNELS."
        )
