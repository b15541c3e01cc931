"""Migration 0006 stores existing usernames in their normal form, and stops at a clash
(names written before it, as ``bulk_create`` still can: it skips ``save``)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from minqing.accounts.models import User

migration = importlib.import_module("minqing.accounts.migrations.0006_username_normal_form")


def test_existing_usernames_are_normalised(db):
    User.objects.bulk_create(
        [User(username=" Village\u3000", password="!"), User(username="ＧＲＩＤ", password="!")]
    )
    migration.normalise_usernames(apps, None)
    assert sorted(User.objects.values_list("username", flat=True)) == ["grid", "village"]


def test_a_clash_stops_the_migration_and_names_both(db):
    first, second = User.objects.bulk_create(
        [User(username=" village", password="!"), User(username="village\u3000", password="!")]
    )
    with pytest.raises(RuntimeError, match=rf"Accounts {first.pk} and {second.pk} are both"):
        migration.normalise_usernames(apps, None)
