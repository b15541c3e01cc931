"""State changes of the organisation tree."""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from minqing.org import hooks
from minqing.org.errors import OrgErrorCode
from minqing.org.models import LEVEL_ORDER, Kind, Level, Node


def node_create(
    *,
    name: str,
    level: str,
    parent: Node | None = None,
    code: str = "",
    level_name: str = "",
    kind: str | None = None,
    sort_key: int = 0,
) -> Node:
    """Add a node under ``parent`` (or a root); names are unique among siblings."""
    name = name.strip()
    if not name:
        raise ValidationError(
            {"name": ValidationError(_("Name is required."), code=OrgErrorCode.NAME_REQUIRED)}
        )
    if level not in LEVEL_ORDER:
        raise ValidationError(
            {
                "level": ValidationError(
                    _("Unknown level %(level)s.") % {"level": level},
                    code=OrgErrorCode.UNKNOWN_LEVEL,
                )
            }
        )
    if parent is not None and LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(parent.level):
        raise ValidationError(
            {
                "level": ValidationError(
                    _("A %(child)s cannot sit under a %(parent)s.")
                    % {"child": Level(level).label, "parent": parent.get_level_display()},
                    code=OrgErrorCode.LEVEL_ORDER,
                )
            }
        )
    siblings = Node.objects.filter(parent=parent, name=name)
    if siblings.exists():
        raise ValidationError(
            {
                "name": ValidationError(
                    _("%(name)s already exists here.") % {"name": name},
                    code=OrgErrorCode.NAME_TAKEN,
                )
            }
        )
    with transaction.atomic():
        node = Node.objects.create(
            parent=parent,
            name=name,
            level=level,
            level_name=level_name,
            code=code,
            kind=kind or (parent.kind if parent else Kind.RURAL),
            sort_key=sort_key,
            path=f"tmp-{name}-{parent.pk if parent else 0}",
            depth=(parent.depth + 1) if parent else 0,
        )
        node.path = f"{parent.path if parent else '/'}{node.pk}/"
        node.save(update_fields=["path"])
    return node


def node_move(*, node: Node, new_parent: Node) -> Node:
    """Move a subtree under another parent, keeping paths, depths and counts right."""
    if LEVEL_ORDER.index(node.level) <= LEVEL_ORDER.index(new_parent.level):
        raise ValidationError(
            {
                "parent": ValidationError(
                    _("A %(child)s cannot sit under a %(parent)s.")
                    % {"child": node.get_level_display(), "parent": new_parent.get_level_display()},
                    code=OrgErrorCode.LEVEL_ORDER,
                )
            }
        )
    if new_parent.is_descendant_of(node):
        raise ValidationError(
            {
                "parent": ValidationError(
                    _("A node cannot move under itself."), code=OrgErrorCode.MOVE_UNDER_ITSELF
                )
            }
        )
    if Node.objects.filter(parent=new_parent, name=node.name).exists():
        raise ValidationError(
            {
                "name": ValidationError(
                    _("%(name)s already exists here.") % {"name": node.name},
                    code=OrgErrorCode.NAME_TAKEN,
                )
            }
        )
    with transaction.atomic():
        # counts on the caller's instance may be stale: they move by F() updates
        node = Node.objects.select_for_update().get(pk=node.pk)
        old_path, new_path = node.path, f"{new_parent.path}{node.pk}/"
        depth_shift = new_parent.depth + 1 - node.depth
        adjust_counts(
            node.ancestor_ids, households=-node.household_count, residents=-node.resident_count
        )
        Node.objects.subtree(node).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
            depth=F("depth") + depth_shift,
        )
        Node.objects.filter(pk=node.pk).update(parent=new_parent)
        node.refresh_from_db()
        adjust_counts(
            node.ancestor_ids, households=node.household_count, residents=node.resident_count
        )
    return node


def adjust_counts(node_ids: list[int], *, households: int = 0, residents: int = 0) -> None:
    """Add to the cumulative counts of the given nodes (a node and its ancestors)."""
    if not node_ids or (households == 0 and residents == 0):
        return
    Node.objects.filter(pk__in=node_ids).update(
        household_count=F("household_count") + households,
        resident_count=F("resident_count") + residents,
    )


def recount_tree() -> int:
    """Recompute every node's cumulative counts from the households (their own counts per node
    come from the households app, ``hooks.provide_own_counts``); returns nodes changed."""
    own_households, own_residents = hooks.own_counts()
    nodes = list(Node.objects.only("id", "path", "household_count", "resident_count"))
    hh: dict[int, int] = defaultdict(int)
    rs: dict[int, int] = defaultdict(int)
    for node in nodes:
        for ancestor in (int(p) for p in node.path.strip("/").split("/")):
            hh[ancestor] += own_households.get(node.pk, 0)
            rs[ancestor] += own_residents.get(node.pk, 0)
    changed = [n for n in nodes if (n.household_count, n.resident_count) != (hh[n.pk], rs[n.pk])]
    for n in changed:
        n.household_count, n.resident_count = hh[n.pk], rs[n.pk]
    Node.objects.bulk_update(changed, ["household_count", "resident_count"], batch_size=500)
    return len(changed)
