"""Cluster targets: a registry lookup picks one, and the embedded cluster stays behind its own
target (the core never imports `pytest_kfs.local` anywhere else)."""

import ast
from pathlib import Path

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.plugin.settings import resolve
from pytest_kfs.targets import REGISTRY, LocalTarget, TargetOptions, parse_target

ROOT = Path(__file__).resolve().parents[2]
# The one door to the embedded cluster; the embedded cluster's own package is behind it.
ALLOWED = {ROOT / "pytest_kfs" / "targets" / "local.py"}


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "suites":  # shipped as pytest_kfs.suites
        parts = ["pytest_kfs", *parts]
    return parts[:-1]


def _imports(path: Path, text: str | None = None) -> set[str]:
    """Every module a file imports, at any depth (lazy imports in functions included),
    relative imports made absolute, and module names handed to importlib."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path)[:len(_package_of(path)) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and "import" in ast.unparse(node.func):
            names.add(node.args[0].value)
    return names


def _core_files() -> list[Path]:
    files = [*(ROOT / "pytest_kfs").rglob("*.py"), *(ROOT / "suites").rglob("*.py")]
    return [path for path in files
            if (ROOT / "pytest_kfs" / "local") not in path.parents and path not in ALLOWED]


def test_only_the_local_target_imports_the_embedded_cluster():
    files = _core_files()
    assert len(files) > 30  # the walk found the package, not an empty directory
    leaks = {str(path.relative_to(ROOT)): sorted(name for name in _imports(path)
                                                 if name == "pytest_kfs.local"
                                                 or name.startswith("pytest_kfs.local."))
             for path in files}
    assert {path: names for path, names in leaks.items() if names} == {}


@pytest.mark.parametrize(("where", "code"), [
    ("pytest_kfs/lazy.py", "def f():\n    from pytest_kfs.local.scenarios import scenario\n"),
    ("pytest_kfs/lazy.py", "from .local import scenarios\n"),
    ("pytest_kfs/targets/lazy.py", "from ..local.scenarios import scenario\n"),
    ("suites/lazy.py", "from ..local import up\n"),
    ("pytest_kfs/lazy.py", "import importlib\nimportlib.import_module('pytest_kfs.local.up')\n"),
])
def test_the_import_check_sees_every_way_in(where, code):
    names = _imports(ROOT / where, code)  # a file that would be there: nothing is written
    assert any(name.startswith("pytest_kfs.local") for name in names), names


def test_every_registered_target_has_its_own_name():
    names = [target.name for target in REGISTRY]
    assert len(set(names)) == len(names)
    assert REGISTRY[-1].name == "context"  # it takes any value: asked last


@pytest.mark.parametrize("value", ["local:x", "in-cluster-prod", "kindly", "arn:aws:eks:eu:1:c/x"])
def test_a_name_no_target_claims_is_a_kubeconfig_context(value):
    target = parse_target(value, TargetOptions())
    assert target.name == "context"
    assert f"'{value}'" in target.describe()


def test_only_a_target_that_can_choose_kserve_takes_a_release():
    with pytest.raises(SettingsError, match="runs the KServe installed there"):
        resolve({"cluster": "prod", "kserve_version": "v0.20.0"}, {}, {})
    with pytest.raises(SettingsError, match="--kfs-kserve-version: "):
        resolve({"cluster": "local", "kserve_version": "v0.1.0"}, {}, {})
    assert resolve({"cluster": "local", "kserve_version": "v0.13.1"}, {}, {}).target == \
        LocalTarget("v0.13.1")


def test_scenarios_need_a_target_that_rehearses():
    with pytest.raises(SettingsError, match="needs --kfs-cluster=local"):
        resolve({"cluster": "kind", "scenario": "healthy"}, {}, {})
    with pytest.raises(SettingsError, match="unknown scenario 'nope'"):
        resolve({"cluster": "local", "scenario": "nope"}, {}, {})
    assert parse_target("in-cluster").rehearsal() is None
    models = LocalTarget().rehearsal().default_models(None)
    assert [model.scenario for model in models] == ["healthy"]


def test_several_scenarios_make_one_model_each():
    from pytest_kfs.local.scenarios import SCENARIOS
    from pytest_kfs.plugin.settings import configured_models

    settings = resolve({"cluster": "local", "scenario": "bad-key, wrong-path,bad-key"}, {}, {})
    assert settings.scenarios == ("bad-key", "wrong-path")
    assert [(m.name, m.scenario) for m in configured_models(settings)] == [
        ("bad-key", "bad-key"), ("wrong-path", "wrong-path")]
    everything = resolve({"cluster": "local", "scenario": "all"}, {}, {})
    assert everything.scenarios == tuple(SCENARIOS)
    with pytest.raises(SettingsError, match="an empty scenario name; known: healthy"):
        resolve({"cluster": "local", "scenario": "healthy,"}, {}, {})
