"""The project's shape, checked: every paper package is registered, the shared layer imports no
paper, and no module reaches into another's private names."""
from __future__ import annotations

import ast
from pathlib import Path

from reproductions import registry

REPO = Path(__file__).resolve().parents[1]


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of an import, relative ones (``from .discovery import x``) included."""
    if not node.level:
        return node.module or ""
    package = list(path.relative_to(REPO).parent.parts)
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield _absolute(path, node), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def _is_module(dotted: str) -> bool:
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _module_aliases(tree: ast.AST, path: Path) -> dict[str, str]:
    """Local names bound to the project's modules: ``from common.training import records`` and
    ``import common.training.paper as pp``."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            for a in node.names:
                if module.split(".")[0] in ("common", "reproductions") and _is_module(f"{module}.{a.name}"):
                    out[a.asname or a.name] = f"{module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname and a.name.split(".")[0] in ("common", "reproductions"):
                    out[a.asname] = a.name
    return out


def test_every_paper_package_is_in_the_registry():
    packages = sorted(p.parent.name for p in (REPO / "reproductions").glob("*/paper.py"))
    missing = [p for p in packages if p not in registry.PAPERS]
    assert not missing, f"paper packages the registry does not list (add them to reproductions/registry.py): {missing}"
    assert sorted(registry.PAPERS) == packages


def test_paper_declarations_and_the_registry_import_no_backend():
    # The backend is imported by the commands after their arguments are read (quietly, unless
    # --verbose); a declaration that imports Keras brings TensorFlow's start-up lines into --help.
    import subprocess
    import sys

    code = ("import sys\nfrom reproductions import registry\nregistry.all_papers()\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"a paper.py imports a backend at import time: {done.stdout}"


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


def test_no_module_reaches_into_another_modules_private_names_through_its_name():
    """``records._jsonable`` is as private as ``from records import _jsonable``."""
    offenders = []
    for top in ("common", "reproductions", "tools", "benchmarks"):
        for path in (REPO / top).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            aliases = _module_aliases(tree, path)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in aliases and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not offenders, offenders


def test_the_runner_has_no_module_over_about_400_lines():
    long = {str(p.relative_to(REPO)): n for p in (REPO / "common" / "training").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 420}
    assert not long, f"split these modules: {long}"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at the top or inside a function)."""
    modules = {}
    for top in ("common", "reproductions"):
        for path in (REPO / top).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        deps = set()
        for imported, names in _imports(path):
            for target in [f"{imported}.{n}" for n in names if f"{imported}.{n}" in modules] or [imported]:
                found = owner(target)
                if found and found != module:
                    deps.add(found)
        graph[module] = deps
    return graph


def test_no_import_circle_anywhere():
    """Strongly connected groups of the import graph (Tarjan's algorithm): none may hold two modules."""
    graph = _import_graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles
