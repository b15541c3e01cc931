"""The skeleton's rules that import-linter cannot see (it checks modules, not names).

The layers themselves are ``[tool.importlinter]`` in pyproject.toml (``./dev lint``); here:
no module imports a ``_private`` name (or module) of another app, and no product module
imports the demo, not even inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the minqing package


def _product_modules() -> list[Path]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "tests" in rel.parts or "migrations" in rel.parts or rel.name == "conftest.py":
            continue
        out.append(path)
    return out


def _app(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else ""  # "" for minqing/api.py, urls.py, ...


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of each import in the file; names empty for ``import x``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return found


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def test_the_scan_sees_the_product():
    modules = _product_modules()
    assert len(modules) > 100
    assert {_app(p) for p in modules} >= {"lib", "audit", "accounts", "org", "issues"}


def test_no_private_names_across_apps():
    wrong = []
    for path in _product_modules():
        here = _app(path)
        for line, module, names in _imports(path):
            parts = module.split(".")
            if parts[0] != "minqing" or len(parts) < 2 or parts[1] == here:
                continue
            private = [p for p in parts[2:] if _private(p)] + [n for n in names if _private(n)]
            if private:
                rel = path.relative_to(ROOT.parent)
                wrong.append(f"{rel}:{line}: from {module} import {', '.join(private)}")
    assert not wrong, "private names imported across apps:\n" + "\n".join(wrong)


def test_no_product_module_imports_the_demo():
    wrong = []
    for path in _product_modules():
        if _app(path) == "demo":
            continue
        for line, module, _names in _imports(path):
            if module == "minqing.demo" or module.startswith("minqing.demo."):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line}: {module}")
    assert not wrong, "product modules importing the demo:\n" + "\n".join(wrong)
