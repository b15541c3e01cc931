"""包保联系台账 exported: every household of a place with its responsible people, as xlsx.

Phones are masked by default (docs/SECURITY-BAR.md §11); an unmasked file needs the reveal
permission over the place. Every export writes one ``contacts.ledger_export`` audit row before a
byte is written; the sheet itself is ``ledger_sheet``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.accounts.permissions import Action, allowed
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.contacts.ledger_sheet import XLSX_TYPE, LedgerFile, file_chunks, kind_word, write_xlsx
from minqing.contacts.selectors.ledger import (
    ledger_households,
    ledger_rows,
    ledger_values,
    place_path,
)
from minqing.contacts.selectors.network import kind_rules
from minqing.lib import ratelimit
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.org.models import Node


def ledger_export(
    *,
    by: User,
    node: Node,
    unmasked: bool = False,
    place: Node | None = None,
    missing: str = "",
    context: AuditContext | None = None,
) -> LedgerFile:
    """The ledger of ``node`` (narrowed like the page: ``place``, ``missing``) as xlsx.

    Out-of-scope nodes raise ``Node.DoesNotExist`` (answer 404); an unmasked export without the
    reveal permission over the node raises ``PermissionDenied`` and writes nothing.
    """
    ratelimit.consume(
        "export.unmasked" if unmasked else "export", by, context=context, audit=unmasked
    )
    if not allowed(by, Action.VIEW, node) or (
        place is not None and not place.is_descendant_of(node)
    ):
        raise Node.DoesNotExist
    if unmasked and not allowed(by, Action.REVEAL, node):
        raise PermissionDenied(_("Your role may not export full phone numbers."))
    rules = kind_rules(node)
    if missing not in ("", "any", *(r.kind for r in rules if r.required)):
        raise ValueError(missing)
    households = ledger_households(node, rules, place=place, missing=missing)
    count = households.count()
    with transaction.atomic():
        audit_record(
            action=AuditAction.CONTACTS_LEDGER_EXPORT,
            user=by,
            context=context,
            obj=node,
            detail={
                "masked": not unmasked,
                "households": count,
                "place": place.pk if place is not None else None,
                "missing": missing,
            },
        )
    when = timezone.localtime()
    who = f"{by} ({by.username})" if str(by) != by.username else by.username
    title = f"包保联系台账  {place_path(node)}"
    if place is not None and place.pk != node.pk:
        title += f"/{place.name}"
    if missing:
        title += "  （仅列缺少联系人的户" + (
            f"：{kind_word(missing)}）" if missing != "any" else "）"
        )
    stamp = (
        f"导出时间：{when:%Y-%m-%d %H:%M}    导出人：{who}    "
        + ("电话未脱敏，请妥善保管，用完即删" if unmasked else "电话已脱敏")
        + f"    共 {count} 户"
    )
    rows = ledger_rows(ledger_values(households).iterator(chunk_size=2000), rules)
    fh = write_xlsx(rows, rules, title=title, stamp=stamp, who=who, unmasked=unmasked)
    suffix = "-未脱敏" if unmasked else ""
    filename = f"包保联系台账-{node.name}-{when:%Y%m%d-%H%M}{suffix}.xlsx"
    return LedgerFile(filename, XLSX_TYPE, file_chunks(fh))
