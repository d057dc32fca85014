"""The import layers hold (README "Layout"): the domain is pure, the engine knows no use case
and no web, services know no web framework, only app/db touches the tables, only the app
factory and the CLI wire controllers. Imports are read with `ast`, nothing is imported; every
import counts, including those inside functions and `if TYPE_CHECKING:` blocks."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.settings import REPO_ROOT

# Libraries that do I/O or belong to a framework: the domain stays free of them.
IO_AND_FRAMEWORKS = (
    "litestar", "piccolo", "temporalio", "asyncpg", "httpx", "sse_starlette", "uvicorn",
    "prometheus_client", "socket", "subprocess",
)  # fmt: skip
# Modules that serve HTTP: a package's pages, JSON API and other controllers; beside them, the
# Litestar dependency providers those controllers share (web code, not services).
CONTROLLER_NAMES = ("pages", "api", "controllers")
WEB_NAMES = (*CONTROLLER_NAMES, "dependencies")
# The places that wire the pieces together.
WIRING = ("app/web/app.py", "app/cli.py")


@dataclass(frozen=True)
class Import:
    path: str  # the importing file, relative to the repository: app/temporal/worker.py
    line: int
    target: str  # what it names: app.steps.service.evaluate_after_outcome, litestar.get

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def under(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def imports_in(path: str, source: str) -> Iterator[Import]:
    """Every import in `source`, the text of the module at `path` (relative to the repository)."""
    parts = Path(path).with_suffix("").parts
    package = parts if parts[-1] == "__init__" else parts[:-1]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against the importing package
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(path, node.lineno, f"{base}.{alias.name}")


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO_ROOT / folder).rglob("*.py"))


IMPORTS = [
    found
    for path in python_files("app", "bench")
    for found in imports_in(str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8"))
]


def in_folder(*folders: str) -> Callable[[str], bool]:
    return lambda path: any(path.startswith(folder + "/") for folder in folders)


def is_service(path: str) -> bool:
    """Use-case modules: `service*.py` of any package, the inbox and listing readers, and every
    module of app/steps but its controllers."""
    name = Path(path).stem
    if not path.startswith("app/") or path.count("/") < 2:
        return False
    if name.startswith("service") or path in (
        "app/approvals/inbox.py",
        "app/executions/listing.py",
    ):
        return True
    return path.startswith("app/steps/") and name not in WEB_NAMES


def is_controller(target: str) -> bool:
    parts = target.split(".")
    return parts[0] == "app" and any(name in CONTROLLER_NAMES for name in parts[2:3])


def app_outside(*allowed: str) -> Callable[[str], bool]:
    """Forbids any module of the app outside the `allowed` packages."""
    return lambda target: under(target, "app") and not any(under(target, a) for a in allowed)


@dataclass(frozen=True)
class Rule:
    id: str
    says: str
    applies_to: Callable[[str], bool]  # the importing file's path
    forbids: Callable[[str], bool]  # the imported name

    def broken_by(self, imports: list[Import]) -> list[Import]:
        found = [i for i in imports if self.applies_to(i.path) and self.forbids(i.target)]
        return sorted(found, key=lambda i: (i.path, i.line, i.target))


RULES = [
    Rule(
        "domain-is-pure",
        "app/domain imports nothing of the app outside app.domain, and no I/O or framework",
        in_folder("app/domain"),
        lambda t: app_outside("app.domain")(t) or any(under(t, f) for f in IO_AND_FRAMEWORKS),
    ),
    Rule(
        "db-above-domain-only",
        "app/db imports only app.db, app.domain and app.settings of the app",
        in_folder("app/db"),
        app_outside("app.db", "app.domain", "app.settings"),
    ),
    Rule(
        "engine-knows-no-use-case-or-web",
        "app/temporal imports only app.temporal, app.domain, app.db and app.settings of the app "
        "(never executions, approvals, steps, live, web, definitions)",
        in_folder("app/temporal"),
        app_outside("app.temporal", "app.domain", "app.db", "app.settings"),
    ),
    Rule(
        "services-know-no-web-framework",
        "service modules import neither litestar (nor sse_starlette) nor app.web",
        is_service,
        lambda t: any(under(t, p) for p in ("litestar", "sse_starlette", "app.web")),
    ),
    Rule(
        "tables-only-in-db",
        "only app/db imports app.db.tables: data access lives in app/db's modules",
        lambda path: path.startswith("app/") and not path.startswith("app/db/"),
        lambda t: under(t, "app.db.tables"),
    ),
    Rule(
        "controllers-wired-only-by-the-factory",
        "controller modules (pages, api, controllers) are imported only by " + " and ".join(WIRING),
        lambda path: path.startswith("app/") and path not in WIRING,
        is_controller,
    ),
    Rule(
        "settings-and-devstack-are-leaves",
        "app/settings.py and app/devstack.py import nothing of the app",
        lambda path: path in ("app/settings.py", "app/devstack.py"),
        app_outside(),
    ),
    Rule(
        "nothing-imports-tests",
        "app/ and bench/ import nothing from tests/ (tests may import bench, never the reverse)",
        in_folder("app", "bench"),
        lambda t: under(t, "tests"),
    ),
    Rule(
        "app-imports-no-bench",
        "app/ imports nothing from bench/",
        in_folder("app"),
        lambda t: under(t, "bench"),
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_import_layer(rule: Rule) -> None:
    broken = rule.broken_by(IMPORTS)
    if broken:
        pytest.fail(f"{rule.says}; broken by:\n" + "\n".join(map(str, broken)), pytrace=False)


def sql_outside_db(path: str, source: str) -> Iterator[tuple[str, int, str]]:
    """`.raw(...)` queries and `QueryString(...)` built outside app/db: SQL written elsewhere."""
    if path.startswith("app/db/"):
        return
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in ("raw", "QueryString"):
                yield path, node.lineno, name


def test_sql_is_written_only_in_app_db() -> None:
    """Every SQL statement lives in a data-access module of app/db, one per noun."""
    found = [
        f"{path}:{line} calls {name}()"
        for file in python_files("app")
        for path, line, name in sorted(
            sql_outside_db(str(file.relative_to(REPO_ROOT)), file.read_text(encoding="utf-8"))
        )
    ]
    if found:
        pytest.fail("SQL written outside app/db:\n" + "\n".join(found), pytrace=False)


def test_the_rules_see_imports_anywhere_in_a_module() -> None:
    """The reader finds imports inside functions and TYPE_CHECKING blocks, and relative ones."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from litestar import Request\n"
        "def f():\n    import app.db.tables\n"
        "from ..web import guards\nfrom . import modes\n"
    )
    found = list(imports_in("app/domain/probe.py", source))
    targets = {i.target for i in found}
    assert {"litestar.Request", "app.db.tables", "app.web.guards", "app.domain.modes"} <= targets
    assert [str(i) for i in RULES[0].broken_by(found)] == [
        "app/domain/probe.py:3 imports litestar.Request",
        "app/domain/probe.py:5 imports app.db.tables",
        "app/domain/probe.py:6 imports app.web.guards",
    ]


def test_a_service_and_a_controller_are_told_apart() -> None:
    assert is_service("app/steps/service.py") and is_service("app/approvals/inbox.py")
    assert is_service("app/executions/service.py") and is_service("app/steps/seeding.py")
    assert not is_service("app/steps/controllers.py") and not is_service("app/executions/api.py")
    assert is_controller("app.executions.pages.ExecutionPages")
    assert is_controller("app.steps.controllers") and not is_controller("app.steps.service")
