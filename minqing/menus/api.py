"""The quarterly menu in the JSON API (/api/v1/menus/): what the phone's outbox posts."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["menus"])
