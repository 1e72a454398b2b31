"""The shape of the package: every module imports on its own, the import graph has no cycle,
subpackages import only downwards in the layer order, the packaging names every subpackage,
and the version has one source (pyproject.toml).

The import graph is read statically (ast) from every ``import`` statement of ``postrender``,
at module level and inside functions alike; imports under ``if TYPE_CHECKING:`` never run, so
they are left out of the cycle check but kept in the layer check (a type from an upper layer
is still a dependency on it).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE = ROOT / "postrender"

# Lowest first. A module may import modules of its own layer or of a lower one, never of a higher
# one. ``postrender`` itself (version() and lazy re-exports) and ``__main__`` stand outside.
LAYERS: list[tuple[str, ...]] = [
    ("postrender.errors", "postrender.limits"),
    ("postrender.stream",),
    ("postrender.ruleset",),
    ("postrender.filters",),
    ("postrender.pipeline",),
    ("postrender.writers",),
    ("postrender.api", "postrender.lint", "postrender.integrations"),
    ("postrender.cli",),
]
OUTSIDE_LAYERS = ("postrender", "postrender.__main__")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULE_FILES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in path.parts}
MODULES = sorted(MODULE_FILES)


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    typing_only: bool


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(importer: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The ``postrender`` modules an import statement loads (a ``from X import y`` names module
    ``X.y`` when that is a module, else ``X``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "postrender"]
    base = node.module or ""
    if node.level:
        parts = importer.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    if base.split(".")[0] != "postrender":
        return []
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.append(candidate if candidate in MODULE_FILES else base)
    return found


def imports_of(module: str) -> list[Import]:
    path = MODULE_FILES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[Import] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _resolve(module, path.name == "__init__.py", node):
                found.append(Import(module, target, node.lineno, typing_only))
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return found


ALL_IMPORTS = [item for module in MODULES for item in imports_of(module)]


def layer_of(module: str) -> int | None:
    for index, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return index
    return None


def group_of(module: str) -> str:
    """The layer entry a module belongs to (``postrender.stream`` for ``postrender.stream.split``)."""
    return next(name for names in LAYERS for name in names if module == name or module.startswith(name + "."))


# --- (a) every module imports alone --------------------------------------------------------------

@pytest.mark.parametrize("module", [m for m in MODULES if m != "postrender.__main__"])
def test_every_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, f"`import {module}` failed on its own:\n{done.stderr}"


# --- (b) no import cycle ---------------------------------------------------------------------------

def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:  # recursion depth is bounded by the number of modules
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def import_cycles(leave_out: set[tuple[str, str]]) -> str:
    """The cycles of the runtime import graph without the ``leave_out`` edges, described."""
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in ALL_IMPORTS:
        if not item.typing_only and item.target in MODULE_FILES and (item.source, item.target) not in leave_out:
            edges[item.source].add(item.target)
    details = []
    for cycle in _cycles(edges):
        members = set(cycle)
        details.append(" <-> ".join(cycle) + ": " + ", ".join(sorted(
            {f"{i.source}:{i.line} -> {i.target}" for i in ALL_IMPORTS
             if i.source in members and i.target in members and (i.source, i.target) not in leave_out
             and not i.typing_only})))
    return "\n".join(details)


def test_the_import_graph_has_no_cycle() -> None:
    cycles = import_cycles(set())
    assert not cycles, "import cycles:\n" + cycles


def test_the_import_graph_is_read() -> None:
    """The graph is not empty by mistake: known edges are found, function-level ones included."""
    pairs = {(i.source, i.target) for i in ALL_IMPORTS}
    assert ("postrender.__main__", "postrender.cli.fast") in pairs
    assert ("postrender", "postrender.api") in pairs  # inside __getattr__
    assert len(pairs) > 50


# --- (c) layers ------------------------------------------------------------------------------------

def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if m not in OUTSIDE_LAYERS and layer_of(m) is None] == []


def upward_imports() -> set[tuple[str, str]]:
    """(importing group, imported group) for every import of a higher layer."""
    found = set()
    for item in ALL_IMPORTS:
        if item.source in OUTSIDE_LAYERS or item.target in OUTSIDE_LAYERS:
            continue
        source, target = layer_of(item.source), layer_of(item.target)
        assert source is not None and target is not None, item
        if target > source:
            found.add((group_of(item.source), group_of(item.target)))
    return found


def _describe(pairs: set[tuple[str, str]]) -> str:
    return "\n".join(
        f"{source} imports {target}: " + ", ".join(
            f"{i.source}:{i.line}{' (typing only)' if i.typing_only else ''}" for i in ALL_IMPORTS
            if i.source not in OUTSIDE_LAYERS and i.target not in OUTSIDE_LAYERS
            and group_of(i.source) == source and group_of(i.target) == target)
        for source, target in sorted(pairs))


def test_subpackages_import_only_downwards() -> None:
    new = upward_imports()
    assert not new, "imports of a higher layer (order: " + " < ".join(", ".join(n) for n in LAYERS) + "):\n" + \
        _describe(new)


def test_layers_of_modules() -> None:
    assert [layer_of(m) for m in ("postrender.errors", "postrender.stream.split", "postrender.pipeline",
                                  "postrender.lint", "postrender.cli.app", "postrender")] == [0, 1, 4, 6, 7, None]


# --- (d) packaging -----------------------------------------------------------------------------------

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_packages_list_names_every_subpackage() -> None:
    folders = {module_name(path.parent / "__init__.py") for path in PACKAGE.rglob("*.py")
               if "__pycache__" not in path.parts}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert sorted(folders - listed) == [], "subpackages missing from [tool.setuptools] packages"
    assert sorted(listed - folders - {"postrender.presets"}) == [], "packages listed that do not exist"
    missing_init = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*") if p.is_dir()
                          and p.name != "__pycache__" and any(p.glob("*.py")) and not (p / "__init__.py").exists())
    assert missing_init == []


# --- the version: one source ---------------------------------------------------------------------

VERSION = PYPROJECT["project"]["version"]


def test_plugin_yaml_carries_the_version_of_pyproject() -> None:
    assert yaml.safe_load((ROOT / "plugin.yaml").read_text(encoding="utf-8"))["version"] == VERSION


def test_version_option_prints_the_version_of_pyproject() -> None:
    done = run_cli(["--version"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == ["velero-postrender", VERSION]


def test_the_console_script_prints_the_version_of_pyproject() -> None:
    script = Path(sysconfig.get_path("scripts")) / "velero-postrender"
    if not script.exists():
        pytest.skip(f"no velero-postrender console script in {script.parent} (pip install -e . installs it)")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["velero-postrender", VERSION]


def test_no_code_hard_codes_the_version() -> None:
    pattern = re.compile(rf"(?<![\w.]){re.escape(VERSION)}(?![\w.])")
    places = [ROOT / "postrender", ROOT / "bin", ROOT / "rules", ROOT / "fuzz", ROOT / "bench", ROOT / ".ci"]
    found = []
    for place in places:
        for path in sorted(p for p in place.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            found += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if pattern.search(line)]
    assert found == [], "the version is written out here; read it with postrender.version() instead"


# --- the test set-up itself: a skipped live/helm test fails under VELERO_POSTRENDER_REQUIRE_ALL ---

SKIPPING_TESTS = '''
import pytest

@pytest.mark.live
def test_live_without_its_server():
    pytest.skip("no server here")

@pytest.mark.helm
def test_helm_without_its_binary():
    pytest.skip("no helm here")

@pytest.mark.live(may_skip="packaged nowhere")
def test_live_that_may_skip():
    pytest.skip("no such server anywhere")

def test_plain_skip():
    pytest.skip("not applicable")
'''


@pytest.mark.parametrize("require_all", ["", "1"])
def test_skips_of_live_and_helm_tests_fail_when_everything_is_required(tmp_path: Path, require_all: str) -> None:
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    (tmp_path / "test_skipping.py").write_text(SKIPPING_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    live: x\n    helm: x\n    slow: x\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELERO_POSTRENDER_")}
    env["VELERO_POSTRENDER_REQUIRE_ALL"] = require_all
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--strict-markers",
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    outcomes = {line.split()[1].split("::")[-1]: line.split()[0] for line in done.stdout.splitlines()
                if line.startswith(("PASSED", "FAILED", "SKIPPED", "ERROR")) and "::" in line}
    if require_all:
        assert done.returncode == 1, done.stdout
        assert "a `live` test may not skip, and this one did: no server here" in done.stdout
        assert outcomes == {"test_live_without_its_server": "FAILED", "test_helm_without_its_binary": "FAILED"}, outcomes
        assert "2 failed, 2 skipped" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "4 skipped" in done.stdout
