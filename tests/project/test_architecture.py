"""The shape of the code, read from its imports (``ast``; module-level and function-level
imports alike, since a function-level import is a dependency that waits for its first call).

1. The apps depend on each other without a cycle: each can be read, changed and tested
   with only the apps below it. The graph is drawn in docs/architecture.md.
2. The domain (models, services, selectors, errors, payloads, tasks, the pure formats and
   the other modules that hold business rules) reaches no API layer through any chain of
   imports: not the REST framework, not Channels, not the consumers, the pages, the views
   or the serializers. An error, an event payload or a rule is defined once, in the
   domain, and the edges only translate it.

No database: this reads source files.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

APPS = (
    "project",
    "users",
    "wallets",
    "idempotency",
    "tournaments",
    "matches",
    "notifications",
    "consumers",
    "web",
)

# The composition root: the modules that wire every app into one service (the URL
# configuration, the ASGI and WSGI applications). They sit above the graph, so they are
# no app's node; test_nothing_imports_the_entry_points keeps them there.
ENTRY_POINTS = frozenset({"project.urls", "project.asgi", "project.wsgi"})

# The apps whose modules hold the domain, and which of their modules do: every module of
# these kinds, every module of the pure formats package, and the parts of project/ the
# domain builds on (project/ is otherwise the API's configuration: its errors module is the
# one place that maps errors to HTTP and WebSocket answers).
DOMAIN_APPS = ("users", "wallets", "idempotency", "tournaments", "matches", "notifications")
DOMAIN_SHARED = frozenset(
    {"project.domain_errors", "project.encoding", "project.celery", "project.statements"}
)
DOMAIN_KINDS = frozenset(
    {
        "models",
        "services",
        "selectors",
        "errors",
        "domain_errors",
        "payloads",
        "tasks",
        "events",
        "locks",
        "placements",
        "progression",
        "payouts",
        "snapshots",
        "chunks",
    }
)
DOMAIN_PACKAGES = ("matches.formats",)

# What the domain must never reach: third-party API layers, and our own edge modules.
FORBIDDEN_LIBRARIES = ("rest_framework", "channels", "drf_spectacular")
EDGE_APPS = ("consumers", "web")
EDGE_KINDS = frozenset({"views", "serializers", "http"})

# Imports of a forbidden module that the domain makes on purpose, each with its reason.
ALLOWED = {
    ("users.services", "rest_framework.authtoken.models"): (
        "a sign-up creates the player's API token: DRF's Token is a model (a table of "
        "keys), not the REST layer, and importing it loads no view or serializer"
    ),
    ("tournaments.publish", "channels.layers"): (
        "the one seam where committed events leave for live delivery: the channel layer is "
        "the transport (a group send after commit, from the process's publisher); no "
        "consumer is imported"
    ),
}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # the imported module (a module of ours, or the name as written)
    path: str  # file, relative to the repository
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


@cache
def modules() -> dict[str, Path]:
    """Every module of the apps, by dotted name (packages by their ``__init__``)."""
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue  # historical models: they import only Django
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolved(name: str, attribute: str | None) -> str:
    """``from name import attribute``: the submodule if ``attribute`` is one of ours."""
    if attribute and f"{name}.{attribute}" in modules():
        return f"{name}.{attribute}"
    return name


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            targets = [_resolved(base, alias.name) for alias in node.names]
        else:
            continue
        relative = str(path.relative_to(ROOT))
        found += [Import(module, target, relative, node.lineno) for target in targets]
    return tuple(found)


def app_of(module: str) -> str | None:
    """The app a module belongs to; None for the entry points and for other code."""
    if module in ENTRY_POINTS:
        return None
    top = module.split(".")[0]
    return top if top in APPS else None


def app_graph() -> dict[tuple[str, str], list[Import]]:
    """``{(app, app it imports): the imports that make the edge}``."""
    edges: dict[tuple[str, str], list[Import]] = {}
    for module in modules():
        source = app_of(module)
        if source is None:
            continue
        for imported in imports_of(module):
            target = app_of(imported.target)
            if target is not None and target != source:
                edges.setdefault((source, target), []).append(imported)
    return edges


def cycles(edges) -> list[list[str]]:
    """One cycle through each edge that closes one (``[a, b, ..., a]``), each cycle once."""
    successors: dict[str, set[str]] = {}
    for source, target in edges:
        successors.setdefault(source, set()).add(target)
    found, seen = [], set()
    for source, target in sorted(edges):
        # The shortest way back from target to source, breadth first.
        back = {target: None}
        queue = deque([target])
        while queue and source not in back:
            node = queue.popleft()
            for following in sorted(successors.get(node, ())):
                if following not in back:
                    back[following] = node
                    queue.append(following)
        if source not in back:
            continue
        path = [source]
        while path[-1] != target:
            path.append(back[path[-1]])
        cycle = [source, *reversed(path[1:]), source]
        key = frozenset(zip(cycle, cycle[1:], strict=False))
        if key not in seen:
            seen.add(key)
            found.append(cycle)
    return found


def _described(cycle: list[str], edges) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in zip(cycle, cycle[1:], strict=False):
        lines += [f"    {source} -> {target}: {imported}" for imported in edges[source, target]]
    return "\n".join(lines)


def is_domain(module: str) -> bool:
    if module in DOMAIN_SHARED:
        return True
    if app_of(module) not in DOMAIN_APPS:
        return False
    if any(module == p or module.startswith(p + ".") for p in DOMAIN_PACKAGES):
        return True
    return module.split(".")[-1] in DOMAIN_KINDS


def is_forbidden(target: str) -> bool:
    if target.split(".")[0] in FORBIDDEN_LIBRARIES + EDGE_APPS:
        return True
    return target in modules() and bool(EDGE_KINDS & set(target.split(".")[1:]))


def api_chain(module: str) -> list[Import] | None:
    """The shortest chain of imports from ``module`` to a forbidden one, or None."""
    back: dict[str, Import | None] = {module: None}
    queue = deque([module])
    while queue:
        current = queue.popleft()
        for imported in imports_of(current):
            if (imported.importer, imported.target) in ALLOWED:
                continue
            if is_forbidden(imported.target):
                chain = [imported]
                while back[chain[0].importer] is not None:
                    chain.insert(0, back[chain[0].importer])
                return chain
            # Follow our own modules, and the packages whose __init__ runs on the way.
            parts = imported.target.split(".")
            for depth in range(1, len(parts) + 1):
                name = ".".join(parts[:depth])
                if name in modules() and name not in back:
                    back[name] = imported
                    queue.append(name)
    return None


# --- The tests --------------------------------------------------------------------------------


def test_the_import_reader_sees_every_kind_of_import():
    """The reader is what both rules stand on: it must see function-level and relative
    imports, and resolve ``from package import module`` to the module."""
    reads = {(i.importer, i.target) for i in imports_of("notifications.tasks")}
    assert ("notifications.tasks", "notifications.services") in reads  # inside a function
    reads = {(i.importer, i.target) for i in imports_of("tournaments.services")}
    assert ("tournaments.services", "tournaments.tasks") in reads  # from tournaments import tasks
    assert app_of("project.urls") is None and app_of("project.errors") == "project"
    assert is_forbidden("matches.views") and is_forbidden("rest_framework.response")
    assert not is_forbidden("matches.payloads")


def test_the_cycle_finder_names_a_cycle():
    edges = {("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    assert cycles({("a", "b"): [], ("b", "c"): []}) == []


def test_no_import_cycle_between_apps():
    edges = app_graph()
    found = cycles(edges)
    assert not found, "Import cycles between apps:\n" + "\n".join(
        _described(cycle, edges) for cycle in found
    )


def test_nothing_imports_the_entry_points():
    """The entry points import every app; were one of them imported by an app, the graph
    above would hide the cycle that makes."""
    importers = [
        str(imported)
        for module in modules()
        for imported in imports_of(module)
        if imported.target in ENTRY_POINTS and module not in ENTRY_POINTS
    ]
    assert not importers, importers


def test_the_domain_reaches_no_api_layer():
    domain = [module for module in modules() if is_domain(module)]
    assert {"tournaments.services", "matches.payloads", "project.domain_errors"} <= set(domain)
    assert "matches.formats.swiss" in domain
    reaching = {module: chain for module in domain if (chain := api_chain(module))}
    assert not reaching, "Domain modules that reach the API layer:\n" + "\n".join(
        f"{module}: " + " -> ".join(str(imported) for imported in chain)
        for module, chain in reaching.items()
    )


@pytest.fixture
def tiny_tree(tmp_path, monkeypatch):
    """The checks pointed at a tree of a few files: a cycle users <-> wallets and a ledger
    service that reaches the REST framework through project.errors, in a function."""
    files = {
        "project/__init__.py": "",
        "project/errors.py": "from rest_framework import exceptions\n",
        "users/models.py": "",
        "users/services.py": "from wallets import services\n",
        "wallets/services.py": "def f():\n    from project.errors import NotFound\n",
        "wallets/views.py": "from ..users.models import User\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    modules.cache_clear()
    imports_of.cache_clear()
    yield
    modules.cache_clear()
    imports_of.cache_clear()


@pytest.mark.usefixtures("tiny_tree")
def test_the_checks_catch_a_cycle_and_a_domain_module_reaching_the_rest_framework():
    edges = app_graph()
    assert cycles(edges) == [["users", "wallets", "users"]]
    assert "users/services.py:1 imports wallets.services" in _described(
        ["users", "wallets", "users"], edges
    )
    chain = [str(imported) for imported in api_chain("wallets.services")]
    assert chain == [
        "wallets/services.py:2 imports project.errors",
        "project/errors.py:1 imports rest_framework",
    ]
    assert api_chain("users.models") is None


def test_each_allowed_exception_is_still_needed():
    """An exception no import needs any more is deleted, so the list says what is true."""
    made = {(i.importer, i.target) for module in modules() for i in imports_of(module)}
    assert set(ALLOWED) <= made, set(ALLOWED) - made
