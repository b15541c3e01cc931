"""Keeping uploaded ledger files between "check" and "import" (under ``DATA_DIR/imports``).

A ledger holds whole villages' ID numbers and phones, so the file is sealed with the personal-data
key ring (docs/SECURITY-BAR.md §9) like any other stored personal data, never written in the clear.
"""

from __future__ import annotations

from pathlib import Path

from minqing.lib.sealed_files import SealedStore

IMPORTS = SealedStore("imports")


def imports_dir() -> Path:
    return IMPORTS.root


def store(data: bytes, file_format: str) -> str:
    """Seal and write the file; returns its path relative to the imports directory."""
    return IMPORTS.store(data, file_format)


def load(relative: str) -> bytes:
    return IMPORTS.load(relative)


def remove(relative: str) -> None:
    IMPORTS.remove(relative)
