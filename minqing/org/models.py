"""The organisation tree (组织树) and county departments (区直单位)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minqing.lib.collations import BYTEWISE, PostgresCollatedCharField


class Level(models.TextChoices):
    """What a node is, whatever the place calls it (``Node.level_name`` holds the local word)."""

    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County/district")
    TOWN = "town", _("Town/street")
    VILLAGE = "village", _("Village/community")
    AREA = "area", _("Area")
    GRID = "grid", _("Group/grid")


LEVEL_ORDER = [lvl.value for lvl in Level]


class Kind(models.TextChoices):
    """Urban or rural: the quarterly menu has 城市版 and 农村版."""

    URBAN = "urban", _("Urban")
    RURAL = "rural", _("Rural")


def subtree_q(path: str, field: str = "path") -> Q:
    """Nodes whose path starts with ``path``, as an index range.

    Paths are digits and "/", and "0" sorts right after "/", so every path under "/1/7/" lies in
    ["/1/7/", "/1/70"). A range uses the plain b-tree index on SQLite (whose LIKE cannot) and on
    PostgreSQL under the C collation the field declares (minqing.lib.collations).
    """
    return Q(**{f"{field}__gte": path, f"{field}__lt": path[:-1] + "0"})


class NodeQuerySet(models.QuerySet["Node"]):
    def subtree(self, node: Node, include_self: bool = True) -> NodeQuerySet:
        qs = self.filter(subtree_q(node.path))
        return qs if include_self else qs.exclude(pk=node.pk)

    def ancestors_of(self, node: Node, include_self: bool = False) -> NodeQuerySet:
        ids = node.ancestor_ids if not include_self else [*node.ancestor_ids, node.pk]
        return self.filter(pk__in=ids).order_by("depth")

    def county_on_path(self, path: str) -> Node | None:
        """The county among the nodes of a materialised path ("/1/7/42/"), if there is one."""
        ids = [int(p) for p in path.strip("/").split("/") if p]
        return self.filter(pk__in=ids, level=Level.COUNTY).first()


class Node(models.Model):
    """组织树节点 — one place in the county → town → village → area → grid tree.

    A materialised ``path`` of ancestor ids ("/1/7/42/") makes subtree queries one indexed
    prefix match; ``household_count``/``resident_count`` are cumulative over the subtree and
    kept in step by the household services (``minqing recount`` rebuilds them).
    """

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    name = PostgresCollatedCharField(
        _("name"), max_length=100, db_index=True, db_collation=BYTEWISE
    )
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    level_name = models.CharField(
        _("local level name"),
        max_length=20,
        blank=True,
        help_text=_("What this place calls the level, e.g. 社区, 片, 村民小组, 楼栋."),
    )
    code = models.CharField(_("official code"), max_length=32, blank=True, db_index=True)
    kind = models.CharField(
        _("urban/rural"), max_length=8, choices=Kind.choices, default=Kind.RURAL
    )
    path = PostgresCollatedCharField(
        max_length=255, unique=True, editable=False, db_collation=BYTEWISE
    )
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    sort_key = models.PositiveIntegerField(default=0)
    household_count = models.PositiveIntegerField(default=0, editable=False)
    resident_count = models.PositiveIntegerField(default=0, editable=False)

    objects = NodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("organisation node")
        verbose_name_plural = _("organisation nodes")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="node_unique_name_per_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="node_unique_root_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_level(self) -> str:
        return self.level_name or self.get_level_display()

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")[:-1] if p]

    def is_descendant_of(self, other: Node, include_self: bool = True) -> bool:
        if self.pk == other.pk:
            return include_self
        return self.path.startswith(other.path)


class Department(models.Model):
    """区直单位 — a county department (电力, 社保, 司法, 派出所 …) that handles issues, or a
    co-building unit (共建单位) that takes residents' orders."""

    county = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="departments", verbose_name=_("county")
    )

    class Kind(models.TextChoices):
        DEPARTMENT = "department", _("County department")
        CO_BUILDING = "co_building", _("Co-building unit")

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.DEPARTMENT)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="department_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
