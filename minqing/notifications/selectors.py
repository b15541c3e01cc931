"""Reading a user's notifications (always their own: every function takes the user)."""

from __future__ import annotations

from typing import Any

from minqing.notifications.models import Notification


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def recent_for(user: Any, limit: int = 50) -> list[Notification]:
    """The user's newest notifications, read or not."""
    return list(Notification.objects.filter(recipient=user).order_by("-created_at", "-id")[:limit])


def notification_for(user: Any, pk: int) -> Notification:
    """One of the user's notifications; another user's raises DoesNotExist like a missing one."""
    return Notification.objects.get(recipient=user, pk=pk)
