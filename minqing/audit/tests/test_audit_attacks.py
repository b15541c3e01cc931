"""Forging and cutting the audit trail with database access, in raw SQL with the triggers
dropped: each attack that
``verify_audit`` answered "intact" to before is now reported broken."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from minqing.audit.models import AuditEvent, AuditSeal
from minqing.audit.services import audit_record, seal_pending, verify_chain
from minqing.audit.tests.attacks import delete_rows, raw_sql, rechain


@pytest.fixture
def trail(county):
    """Six rows written and sealed (on top of the county's own), the head anchored."""
    rows = [audit_record(action="test", username=f"u{i}") for i in range(6)]
    seal_pending()
    assert verify_chain().ok
    return rows


def broken(*phrases: str) -> list[str]:
    report = verify_chain()
    assert not report.ok
    for phrase in phrases:
        assert any(phrase in p for p in report.problems), report.problems
    with pytest.raises(CommandError):
        call_command("verify_audit", "--no-seal")
    return report.problems


@pytest.mark.parametrize("how", ["sha256", "guessed_key"])
def test_rows_deleted_and_the_chain_recomputed_without_the_key(trail, how):
    def attack(cursor):
        delete_rows(cursor, [trail[2].pk])
        rechain(cursor, how)

    raw_sql(attack)
    problems = broken("content does not match its MAC", "seal does not match the chain")
    assert problems[0].startswith("row ")


def test_a_row_deleted_with_its_seal(trail):
    victim = trail[2]
    position = AuditSeal.objects.get(event=victim).position
    raw_sql(lambda c: delete_rows(c, [victim.pk]))
    broken(f"positions {position}–{position} of the chain are missing")


def test_a_row_deleted_under_its_seal(trail):
    victim = AuditEvent.objects.get(pk=trail[2].pk)
    raw_sql(lambda c: c.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk]))
    broken(f"row {victim.pk} (position")
    victim.save(force_insert=True)  # the foreign key is checked when the test ends


def test_the_tail_cut(trail):
    """Deleting the newest rows and their seals (what deleting the head row did before)."""
    head = AuditSeal.objects.order_by("-position").first().position
    raw_sql(lambda c: delete_rows(c, [r.pk for r in trail[-2:]]))
    broken(f"names position {head}", f"ends at position {head - 2}")


def test_the_whole_trail_deleted(trail):
    def attack(cursor):
        cursor.execute("DELETE FROM audit_auditseal")
        cursor.execute("DELETE FROM audit_auditevent")

    raw_sql(attack)
    broken("the newest rows were removed", "ends at position 0")


def test_the_tail_cut_and_new_rows_written_over_it(trail):
    """The cut tail replaced by as many honest new rows: same count, other MACs."""
    raw_sql(lambda c: delete_rows(c, [r.pk for r in trail[-2:]]))
    for i in range(2):
        audit_record(action="test", username=f"v{i}")
    seal_pending()
    broken("differs from the anchor")


def test_a_sealed_row_edited(trail):
    victim = trail[3]
    raw_sql(
        lambda c: c.execute(
            "UPDATE audit_auditevent SET success = %s WHERE id = %s", [False, victim.pk]
        )
    )
    problems = broken(f"row {victim.pk}: content does not match its MAC (edited)")
    assert len(problems) == 1


def test_two_rows_swapped(trail):
    a, b = trail[1], trail[4]

    def attack(cursor):
        for row, other in ((a, b), (b, a)):
            cursor.execute(
                "UPDATE audit_auditevent SET username = %s, nonce = %s, mac = %s WHERE id = %s",
                [other.username, other.nonce, "x" + other.mac[1:], row.pk],
            )
        for row, other in ((a, b), (b, a)):
            cursor.execute(
                "UPDATE audit_auditevent SET mac = %s WHERE id = %s", [other.mac, row.pk]
            )

    raw_sql(attack)
    broken("seal does not match the chain")


def test_a_row_edited_before_it_was_sealed(county):
    row = audit_record(action="login", username="mallory", success=False)
    raw_sql(
        lambda c: c.execute(
            "UPDATE audit_auditevent SET success = %s WHERE id = %s", [True, row.pk]
        )
    )
    result = seal_pending()
    assert result["refused"] == [row.pk]
    assert not AuditSeal.objects.filter(event_id=row.pk).exists()
    broken(f"row {row.pk} (not sealed): content does not match its MAC")


def test_a_forged_row(trail):
    template = AuditEvent.objects.get(pk=trail[0].pk)
    template.pk, template.username, template.nonce = None, "mallory", "f" * 32
    template.mac = "0" * 64
    template.save(force_insert=True)
    assert seal_pending()["refused"] == [template.pk]
    broken(f"row {template.pk} (not sealed): content does not match its MAC")
