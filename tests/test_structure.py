"""The project's shape, checked: every paper package is registered, the shared layer imports no
paper, and no module reaches into another's private names."""
from __future__ import annotations

import ast
from pathlib import Path

from reproductions import registry

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def test_every_paper_package_is_in_the_registry():
    packages = sorted(p.parent.name for p in (REPO / "reproductions").glob("*/paper.py"))
    missing = [p for p in packages if p not in registry.PAPERS]
    assert not missing, f"paper packages the registry does not list (add them to reproductions/registry.py): {missing}"
    assert sorted(registry.PAPERS) == packages


def test_the_shared_layer_imports_no_paper():
    offenders = [f"{path.relative_to(REPO)}: {module}" for path in (REPO / "common").rglob("*.py")
                 for module, _ in _imports(path) if module.split(".")[0] == "reproductions"]
    assert not offenders, offenders


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for top in ("common", "reproductions", "tools", "benchmarks"):
        for path in (REPO / top).rglob("*.py"):
            for module, names in _imports(path):
                if module.split(".")[0] in ("common", "reproductions"):
                    offenders += [f"{path.relative_to(REPO)}: from {module} import {n}" for n in names
                                  if n.startswith("_") and not n.startswith("__")]
    assert not offenders, offenders
