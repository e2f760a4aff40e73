"""The package's architecture, enforced: families are subpackages, imports run one way (from the
pure model up to the plugin), nothing imports in a circle, the embedded cluster has one door,
and the shipped suites use only the public API.

Every import counts: at the top, inside functions, under TYPE_CHECKING, relative ones, and
module names handed to importlib.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import pytest_kfs

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_kfs"
SUITES = ROOT / "suites"  # shipped as pytest_kfs.suites

# Bottom to top: a module imports from its own layer or the ones below it, never above.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "errors untrusted shell once",  # leaves
        "kserve",  # the pure KServe model
        "kube",  # the cluster
        "gcp",  # Google Cloud
        "local",  # the embedded cluster: only the layers above this line
        "kindnode",  # the kind node: engine set-up, the node image built from local's builds
        "targets",  # where a run's cluster comes from (local through targets/local.py alone)
        "diagnosis",
        "wait inference",
        "reports",
        "deploy serving existing failures",
        "testing",  # tools for tests and benchmarks
        "plugin",  # pytest glue
        "__init__",  # the public API
        "suites",  # built on the public API alone
        "__main__",  # the command line
    )
)
# The one door to the embedded cluster; kindnode builds its node image from the embedded
# cluster's pinned Kubernetes and build cache, and is no way into the cluster itself.
LOCAL_DOOR = "pytest_kfs.targets.local"
LOCAL_BUILDERS = "kindnode"
MAX_TOP_LEVEL_MODULES = 12


def module_name(path: Path) -> str:
    """`pytest_kfs.kserve.spec` for pytest_kfs/kserve/spec.py; suites count as shipped."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "suites":
        parts = ["pytest_kfs", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> list[Path]:
    return sorted(
        path
        for path in [*PACKAGE.rglob("*.py"), *SUITES.rglob("*.py")]
        if "gobuild" not in path.parts
    )


def imported_names(path: Path, text: str | None = None) -> set[str]:
    """Every dotted name a file imports (a module, or a name in one), at any depth."""
    names: set[str] = set()
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                within = package[: len(package) - node.level + 1]
                base = ".".join([*within, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and "import" in ast.unparse(node.func)
        ):
            names.add(node.args[0].value)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a name in a module counts as the module)."""
    modules = {module_name(path): path for path in _files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def unit(module: str) -> str:
    """The family a module belongs to: its subpackage, or itself at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    found = [index for index, members in enumerate(LAYERS) if unit(module) in members]
    assert found, f"{module} is in no layer: add its family to LAYERS"
    return found[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_finds_the_package():
    graph = import_graph()
    assert {
        "pytest_kfs.kserve.spec",
        "pytest_kfs.plugin",
        "pytest_kfs.suites.conftest",
        "pytest_kfs.local.embedded",
    } <= set(graph)


def test_no_module_imports_in_a_circle():
    assert cycles(import_graph()) == []


def test_no_family_imports_in_a_circle():
    graph = import_graph()
    families: dict[str, set[str]] = {}
    for module, targets in graph.items():
        families.setdefault(unit(module), set()).update(
            unit(target) for target in targets if unit(target) != unit(module)
        )
    assert cycles(families) == []


def test_imports_run_from_the_pure_model_up_to_the_plugin():
    graph = import_graph()
    upward = sorted(
        f"{module} ({LAYERS[layer(module)]}) imports {target} ({LAYERS[layer(target)]})"
        for module, targets in graph.items()
        for target in targets
        if layer(target) > layer(module)
    )
    assert upward == []


def test_only_the_local_target_imports_the_embedded_cluster():
    graph = import_graph()
    leaks = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if unit(target) == "local"
        and unit(module) not in ("local", LOCAL_BUILDERS)
        and module != LOCAL_DOOR
    )
    assert leaks == []
    assert any(unit(target) == "local" for target in graph[LOCAL_DOOR])


def test_the_embedded_cluster_package_imports_nothing_when_imported():
    assert imported_names(PACKAGE / "local" / "__init__.py") == set()
    assert imported_names(PACKAGE / LOCAL_BUILDERS / "__init__.py") == set()


def test_the_kind_node_takes_only_builds_and_release_data_from_the_embedded_cluster():
    """The build cache, and a KServe release's own manifests and certificates (pure data, and
    the CRD install both clusters do): never the embedded cluster's running parts (its node,
    its Google Cloud, its processes)."""
    graph = import_graph()
    taken = {
        target
        for module, targets in graph.items()
        if unit(module) == LOCAL_BUILDERS
        for target in targets
        if unit(target) == "local"
    }
    assert taken <= {
        "pytest_kfs.local",
        "pytest_kfs.local.assets",
        "pytest_kfs.local.progress",
        "pytest_kfs.local.pki",
        "pytest_kfs.local.crds",
        "pytest_kfs.local.kserve",
        "pytest_kfs.local.kserve.releases",
        "pytest_kfs.local.kserve.manifests",
        "pytest_kfs.local.kserve.in_cluster",
    }, taken


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ("pytest_kfs/lazy.py", "def f():\n    from pytest_kfs.local.scenarios import scenario\n"),
        ("pytest_kfs/lazy.py", "from .local import scenarios\n"),
        ("pytest_kfs/targets/lazy.py", "from ..local.scenarios import scenario\n"),
        ("suites/lazy.py", "from ..local import up\n"),
        (
            "pytest_kfs/lazy.py",
            "import importlib\nimportlib.import_module('pytest_kfs.local.up')\n",
        ),
        (
            "pytest_kfs/lazy.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pytest_kfs.local import up\n",
        ),
    ],
)
def test_the_import_walk_sees_every_way_in(where, code):
    names = imported_names(ROOT / where, code)  # a file that would be there: nothing is written
    assert any(name.startswith("pytest_kfs.local") for name in names), names


def test_the_circle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_suites_use_only_the_public_api():
    """A user copies a suite to write their own check: it must not copy internals."""
    private = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in SUITES.rglob("*.py")
        for name in imported_names(path)
        if name.startswith("pytest_kfs.")
        and not name.startswith("pytest_kfs.suites")
        and name.removeprefix("pytest_kfs.") not in pytest_kfs.__all__
    )
    assert private == []


def test_at_most_a_dozen_modules_stay_at_the_top():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    families = [path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()]
    assert len(set(families) - {"local", "targets"}) >= 4, families


def test_every_family_states_its_contract():
    undocumented = sorted(
        str(init.relative_to(ROOT))
        for init in PACKAGE.glob("*/__init__.py")
        if not ast.get_docstring(ast.parse(init.read_text()))
    )
    assert undocumented == []


def test_the_public_api_names_what_it_can_load():
    assert sorted(pytest_kfs.__all__) == sorted(pytest_kfs._HOMES)
    for name in pytest_kfs.__all__:
        assert getattr(pytest_kfs, name).__name__ == name


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout\n") :]
    return section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n"))]


def test_the_readme_layout_names_every_module_and_family():
    layout = _readme_layout()
    named = set(re_words(layout))
    top = {path.name for path in PACKAGE.glob("*.py")} - {"__init__.py"}
    families = {path.name + "/" for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    inner = {
        path.name
        for family in families - {"local/"}
        for path in (PACKAGE / family).glob("*.py")
        if path.name != "__init__.py"
    }
    assert top | families | inner <= named, sorted((top | families | inner) - named)
    # ... and names nothing that is not there.
    gone = {
        word
        for word in named
        if word.endswith(".py")
        and word not in top | inner
        and not any((PACKAGE / "local").rglob(word))
    }
    assert gone == set()


def re_words(text: str) -> list[str]:
    return re.findall(r"[\w.]+\.py|\w+/", text)


def test_every_package_folder_is_listed_for_setuptools() -> None:
    """A folder missing from pyproject's `packages` is left out of a wheel (and setuptools warns
    about it at every install): each folder with Python modules or Go sources is listed."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for pattern in ("*.py", "go.mod")
        for path in PACKAGE.rglob(pattern)
        if "__pycache__" not in path.parts
        and all(part.isidentifier() for part in path.parent.relative_to(ROOT).parts)
    }
    assert folders - listed == set()
