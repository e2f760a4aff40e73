"""pytest glue for pytest-kfs, hooks only (xdist's plugin pattern): the options, the settings,
and the plugin objects that do the work — the session (the run's cluster), the reporting, and
the fixtures.

The family: `options` (the table of settings) -> `settings` (validated, pure) -> `stash` (the
run's shared state), `policy` (which model a test deploys), `session`, `reporting`, `fixtures`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.kserve.spec import MARKER_KEYS
from pytest_kfs.plugin import fixtures
from pytest_kfs.plugin.policy import marker_problem
from pytest_kfs.plugin.reporting import KfsReporting
from pytest_kfs.plugin.session import KfsSession
from pytest_kfs.plugin.settings import Settings, configured_models, resolve, said
from pytest_kfs.plugin.stash import FLEET, INSTANCE, RECORDS, RUN_ID, SETTINGS
from pytest_kfs.untrusted import expanded


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --kfs-* options and kfs_* ini keys, all from the options table."""
    from pytest_kfs.plugin.options import OPTIONS

    group = parser.getgroup("kfs", "pytest-kfs (KServe model checks)")
    for option in OPTIONS:
        if option.cli and option.flag:
            group.addoption(
                option.flag_name,
                dest=option.dest,
                action="store_true",
                default=False,
                help=option.help_text(),
            )
        elif option.cli:
            extra: dict[str, Any] = {"choices": option.choices} if option.choices else {}
            group.addoption(
                option.flag_name,
                dest=option.dest,
                metavar=option.metavar,
                default=None,
                help=option.help_text(),
                **extra,
            )
        if option.ini:
            parser.addini(option.ini_name, f"pytest-kfs: {option.help}", default="")


def _settings(config: pytest.Config) -> Settings:
    from pytest_kfs.plugin.options import RESOLVED

    cli = {option.name: config.getoption(option.dest) for option in RESOLVED if option.cli}
    ini = {option.name: config.getini(option.ini_name) for option in RESOLVED if option.ini}
    settings = resolve(cli, ini, os.environ)
    workers = config.getoption("numprocesses", None)
    if settings.namespace is not None and workers and not hasattr(config, "workerinput"):
        raise SettingsError(
            f"--kfs-namespace={settings.namespace} runs every test in one "
            "namespace, where parallel tests' models would collide: run it "
            "without -n"
        )
    return settings


def _check_writable(option: str, path: str | None) -> None:
    # Found at the end of a long run, an unwritable report path would lose the report.
    if not path:
        return
    flag = "--" + option.replace("_", "-")
    target = expanded(path, f"{flag}={path}")
    if target.is_dir():
        raise SettingsError(f"{flag}={path} is a directory; name a file")
    parent = target.parent
    if not parent.is_dir():
        raise SettingsError(f"{flag}={path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise SettingsError(f"{flag}={path}: directory {parent} is not writable")


def pytest_configure(config: pytest.Config) -> None:
    """Validate the settings (bad input is a one-line usage error) and start the session."""
    config.addinivalue_line(
        "markers",
        "kfs(" + ", ".join(f"{key}=" for key in sorted(MARKER_KEYS)) + "): the "
        "model kfs_model deploys for this test (ModelSpec's fields), its timeout, "
        "and namespace='module' for a module-wide namespace",
    )
    try:
        config.stash[SETTINGS] = _settings(config)
        for option in ("kfs_report", "kfs_html"):
            _check_writable(option, config.getoption(option))
    except SettingsError as error:
        raise pytest.UsageError(said(error)) from None
    worker_input = getattr(config, "workerinput", {})
    config.stash[RUN_ID] = (
        worker_input.get("kfs_run_id") or config.stash[SETTINGS].run_id or uuid.uuid4().hex[:10]
    )
    config.stash[INSTANCE] = worker_input.get("kfs_instance") or uuid.uuid4().hex[:12]
    config.stash[RECORDS] = {}
    config.pluginmanager.register(KfsSession(config), "kfs-session")
    config.pluginmanager.register(KfsReporting(config), "kfs-reporting")
    config.pluginmanager.register(fixtures, "kfs-fixtures")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `kfs_model_config` over the configured models, `kfs_existing_model` over
    the InferenceServices --kfs-existing selects (one test per model)."""
    settings = metafunc.config.stash[SETTINGS]
    if "kfs_model_config" in metafunc.fixturenames:
        configs = configured_models(settings)
        metafunc.parametrize("kfs_model_config", configs, ids=[c.name for c in configs])
    if "kfs_existing_model" in metafunc.fixturenames:
        fleet = metafunc.config.stash.get(FLEET, None)
        found = fleet.keys() if fleet is not None else []
        metafunc.parametrize(
            "kfs_existing_model",
            found or [None],
            ids=[f"{ns}/{name}" for ns, name in found] or ["none"],
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A typo in a marker is one line at collection, before any cluster work. (xdist workers
    collect, and a usage error there crashes the worker: its tests fail with the line.)"""
    if hasattr(config, "workerinput"):
        return
    problem = next(filter(None, map(marker_problem, items)), None)
    if problem:
        raise pytest.UsageError(problem)
