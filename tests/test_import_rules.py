"""The import rules (docs/architecture.md, "Packages and who may import whom"): who may import whom among
our packages, and no import circles at any depth."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"apimachinery", "apiserver", "kubeclient", "controllers", "agents", "servers", "migrations", "kubelite", "console", "robustness"}
ALLOWED = {
    "apimachinery": set(),
    "apiserver": {"apimachinery"},
    "kubeclient": {"apimachinery"},
    "controllers": {"apimachinery", "kubeclient"},
    # agents and servers share the controllers' process runtime (controllers.runtime), nothing else of theirs
    "agents": {"apimachinery", "kubeclient", "controllers"},
    "servers": {"apimachinery", "kubeclient", "controllers"},
    "migrations": {"apiserver"},
    "console": {"apimachinery", "kubeclient", "controllers"},
    "robustness": {"apimachinery", "kubeclient"},
    "kubelite": OURS,
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from apiserver.app import create_app\nimport kubeclient.client\n")
    assert imports_of(bad) == {"apiserver", "kubeclient"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in imports_of(path) - {package} - ALLOWED[package]:
            violations.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert violations == []


# -- no import circles, between modules of one package too ---------------------------------------------------------

def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, root: Path, known: set[str]) -> set[str]:
    """Our modules that ``path`` imports anywhere in it (a function-local or TYPE_CHECKING import counts too).

    ``from a.b import c`` names module a.b.c when that is a module, else a.b (c is defined there).
    """
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            named.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    return {n for n in named if n in known} - {me}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more nodes (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_circles(root: Path = ROOT, packages: set[str] = OURS) -> list[str]:
    """Import circles among the members (modules and subpackages) of every package, at every depth.

    Why members, not modules: apiserver/storage importing apiserver/watchcache while the watch cache
    imports a storage module is a circle between two members of ``apiserver`` even when no single module
    imports itself back. A circle among modules shows at the package that holds them all.
    Each circle reads "package: member member ...".
    """
    mods = {module_name(p, root): p for pkg in sorted(packages) for p in sorted((root / pkg).rglob("*.py"))}
    edges = [(m, n) for m, p in mods.items() for n in module_imports(p, root, set(mods))]
    parents = {m.rpartition(".")[0] for m in mods if "." in m} | {""}
    circles: list[str] = []
    for pkg in sorted(parents):
        prefix = f"{pkg}." if pkg else ""
        graph: dict[str, set[str]] = {}
        for m, n in edges:
            if m.startswith(prefix) and n.startswith(prefix):
                a, b = m[len(prefix):].split(".")[0], n[len(prefix):].split(".")[0]
                if a != b:
                    graph.setdefault(a, set()).add(b)
        circles += [f"{pkg or '(top)'}: {' '.join(c)}" for c in strongly_connected(graph)]
    return circles


# Circles that exist today, owned by others. This list may only shrink: when a circle is broken the
# test fails until its entry is removed, so the list stays true; never add one.
KNOWN_CIRCLES: list[str] = []


def test_circle_finder_sees_a_circle_inside_a_package(tmp_path: Path) -> None:
    (tmp_path / "apiserver" / "storage").mkdir(parents=True)
    files = {
        "apiserver/__init__.py": "",
        "apiserver/storage/__init__.py": "",
        "apiserver/storage/store.py": "from apiserver.watchcache import WatchCache\n",
        "apiserver/watchcache.py": "def f():\n    from .storage import store\n",
        "apiserver/app.py": "from . import watchcache\nimport apiserver.storage.store\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert import_circles(tmp_path, {"apiserver"}) == ["apiserver: storage watchcache"]
    (tmp_path / "apiserver/storage/store.py").write_text("from apiserver.storage.records import Change\n")
    (tmp_path / "apiserver/storage/records.py").write_text("import apiserver.storage.store\n")
    assert import_circles(tmp_path, {"apiserver"}) == ["apiserver.storage: records store"]


def test_no_import_circles_inside_packages() -> None:
    circles = import_circles()
    assert [c for c in circles if c not in KNOWN_CIRCLES] == []
    assert [c for c in KNOWN_CIRCLES if c not in circles] == [], "a known circle is gone: drop it from the list"
    assert not any(m in ("storage", "watchcache") for c in circles for m in c.split(": ")[1].split())


@pytest.mark.parametrize("package", ["agents", "servers", "console"])
def test_agents_servers_and_console_take_only_the_process_runtime_from_controllers(package: str) -> None:
    """They run on the controllers' runtime (informers, leader election, signals), never on a reconciler."""
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            violations += [f"{path.relative_to(ROOT)} imports {n}" for n in names
                           if n.split(".")[0] == "controllers" and not n.startswith("controllers.runtime")]
    assert violations == []
