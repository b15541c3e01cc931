"""The README's layout table matches the tree: every app, and every module an app has beyond
the common skeleton, is named there, and everything it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "minqing"

#: The skeleton every app may have without the README naming it (STYLE: one shape per app).
SKELETON = {
    "models",
    "services",
    "selectors",
    "views",
    "api",
    "forms",
    "urls",
    "errors",
    "jobs",
    "apps",
    "__init__",
    "migrations",
    "tests",
    "templates",
    "static",
    "management",
    "templatetags",
    "__pycache__",
}


def _layout_rows() -> dict[str, set[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Layout", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        app = cells[0].strip("`").removeprefix("minqing/").rstrip("/")
        modules = re.sub(r"\([^)]*\)", "", cells[2])  # "(what it holds)" is prose
        rows[app] = {m.rstrip("/") for m in re.findall(r"`([^`]+)`", modules)}
    return rows


def _module_names(app_dir: Path) -> set[str]:
    names = set()
    for entry in app_dir.iterdir():
        name = entry.name.removesuffix(".py")
        if entry.is_file() and not entry.name.endswith(".py"):
            continue
        if entry.is_dir() and not (entry / "__init__.py").exists() and name not in SKELETON:
            continue
        if name not in SKELETON:
            names.add(name)
    return names


def test_every_app_is_in_the_layout_table():
    apps = {p.name for p in PACKAGE.iterdir() if (p / "apps.py").exists()} | {"lib"}
    assert apps == set(_layout_rows())


def test_each_row_names_exactly_the_modules_beyond_the_skeleton():
    for app, named in _layout_rows().items():
        present = _module_names(PACKAGE / app)
        assert named == present, (
            f"README layout row for {app}: missing {sorted(present - named)}, "
            f"gone {sorted(named - present)}"
        )
