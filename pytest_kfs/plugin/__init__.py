"""pytest hooks of pytest-kfs: options, ini keys, the run's cluster, fixtures."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kfs.errors import NamespaceBusy, NamespaceTaken, SettingsError
from pytest_kfs.kserve.spec import MARKER_KEYS, ModelSpec, spec_from_marker
from pytest_kfs.plugin.settings import Settings, resolve

# The Kubernetes and Google clients take most of a second to import: a run without a cluster
# (the plugin merely installed) must not pay for them, so they are imported where used.
if TYPE_CHECKING:
    from pytest_kfs.deploy import Deployer, ModelHandle
    from pytest_kfs.diagnosis.preflight import Prediction
    from pytest_kfs.kube.cluster import Cluster

from pytest_kfs.plugin.session import KfsSession
from pytest_kfs.plugin.stash import (
    FLEET,
    HEARTBEAT,
    INSTANCE,
    NAMESPACE_ROOM,
    RECORD_PROPERTY,
    RECORDS,
    REPORTS,
    RUN_CLUSTER,
    RUN_ID,
    SETTINGS,
)

_ONE_SCENARIO = ("pytest-kfs: kfs_model and kfs_scenario deploy one scenario, and --kfs-scenario "
                 "names {}: give one, or run the suites, which check each")
_NO_CLUSTER = (
    "no cluster configured for pytest-kfs: pass --kfs-cluster=local (embedded), "
    "--kfs-cluster=<kubeconfig context>, --kfs-cluster=kind[:name] or --kfs-cluster=in-cluster"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --kfs-* options and kfs_* ini keys, all from the options table."""
    from pytest_kfs.plugin.options import OPTIONS

    group = parser.getgroup("kfs", "pytest-kfs (KServe model checks)")
    for option in OPTIONS:
        if option.cli and option.flag:
            group.addoption(option.flag_name, dest=option.dest, action="store_true",
                            default=False, help=option.help_text())
        elif option.cli:
            extra: dict[str, Any] = {"choices": option.choices} if option.choices else {}
            group.addoption(option.flag_name, dest=option.dest, metavar=option.metavar,
                            default=None, help=option.help_text(), **extra)
        if option.ini:
            parser.addini(option.ini_name, f"pytest-kfs: {option.help}", default="")


def _settings(config: pytest.Config) -> Settings:
    from pytest_kfs.plugin.options import RESOLVED

    cli = {option.name: config.getoption(option.dest) for option in RESOLVED if option.cli}
    ini = {option.name: config.getini(option.ini_name) for option in RESOLVED if option.ini}
    settings = resolve(cli, ini, os.environ)
    workers = config.getoption("numprocesses", None)
    if settings.namespace is not None and workers and not hasattr(config, "workerinput"):
        raise SettingsError(f"--kfs-namespace={settings.namespace} runs every test in one "
                            "namespace, where parallel tests' models would collide: run it "
                            "without -n")
    return settings


def _check_writable(option: str, path: str | None) -> None:
    # Found at the end of a long run, an unwritable report path would lose the report.
    if not path:
        return
    flag = "--" + option.replace("_", "-")
    target = Path(path).expanduser()
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
        "markers", "kfs(" + ", ".join(f"{key}=" for key in sorted(MARKER_KEYS)) + "): the "
                   "model kfs_model deploys for this test (ModelSpec's fields), its timeout, "
                   "and namespace='module' for a module-wide namespace")
    try:
        config.stash[SETTINGS] = _settings(config)
        for option in ("kfs_report", "kfs_html"):
            _check_writable(option, config.getoption(option))
    except SettingsError as error:
        raise pytest.UsageError(f"pytest-kfs: {error}") from None
    worker_input = getattr(config, "workerinput", {})
    config.stash[RUN_ID] = (worker_input.get("kfs_run_id") or config.stash[SETTINGS].run_id
                            or uuid.uuid4().hex[:10])
    config.stash[INSTANCE] = worker_input.get("kfs_instance") or uuid.uuid4().hex[:12]
    config.stash[RECORDS] = {}
    config.pluginmanager.register(KfsSession(config), "kfs-session")


def _own_error(error: BaseException | None) -> bool:
    """The plugin's own errors (shown as their message): only if their modules were loaded."""
    deploy, inference = sys.modules.get("pytest_kfs.deploy"), sys.modules.get(
        "pytest_kfs.inference")
    kinds = tuple(kind for module, names in ((deploy, ("DeployError", "ModelNotLoaded")),
                                             (inference, ("InferenceFailed",)))
                  if module is not None for kind in (getattr(module, n) for n in names))
    return bool(kinds) and isinstance(error, kinds)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report (namespaces are kept on failure when asked); show the
    plugin's own errors as their message, answer first (the short summary and JUnit's
    message= take the first line), then the test's line; no traceback."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    error = call.excinfo.value if call.excinfo else None
    if report.failed and _own_error(error):
        where = next((f"{entry.path}:{entry.lineno + 1}"
                      for entry in reversed(call.excinfo.traceback)  # type: ignore[union-attr]
                      if Path(entry.path) == item.path), item.nodeid)
        prefix = "pytest-kfs: cannot deploy: " if type(error).__name__ == "DeployError" else ""
        report.longrepr = f"{prefix}{error}\n\n({type(error).__name__} at {where})"
    return report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `kfs_model_config` over the configured models, `kfs_existing_model` over
    the InferenceServices --kfs-existing selects (one test per model)."""
    settings = metafunc.config.stash[SETTINGS]
    from pytest_kfs.plugin.settings import configured_models

    if "kfs_model_config" in metafunc.fixturenames:
        configs = configured_models(settings)
        metafunc.parametrize("kfs_model_config", configs, ids=[c.name for c in configs])
    if "kfs_existing_model" in metafunc.fixturenames:
        fleet = _fleet(metafunc.config)
        found = fleet.keys() if fleet is not None else []
        metafunc.parametrize("kfs_existing_model", found or [None],
                             ids=[f"{ns}/{name}" for ns, name in found] or ["none"])


def _fleet(config: pytest.Config) -> Any:
    """The run's fleet snapshot (--kfs-existing, read when the run opened its cluster); None
    without one."""
    return config.stash.get(FLEET, None)


@pytest.fixture(scope="session")
def kfs_fleet(pytestconfig: pytest.Config, _kfs_google_access: Any) -> Any:
    """The InferenceServices --kfs-existing selects, read once for the whole run (a `Fleet`):
    `models`, `evidence(namespace, name, with_logs)` and `prediction(namespace, name)`.
    Google is asked once per (principal, bucket, prefix), a few requests at a time."""
    from pytest_kfs.diagnosis.preflight import GoogleChecks

    fleet = _fleet(pytestconfig)
    if fleet is None:
        pytest.skip("no --kfs-existing given")
    fleet.use_google(_kfs_google_access, GoogleChecks())
    yield fleet
    fleet.close()


@pytest.fixture(scope="session")
def kfs_gcp(pytestconfig: pytest.Config) -> Any:
    """The embedded cluster's local GCP: arrange buckets, objects, keys and grants."""
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    if run is None or run.cloud is None:
        pytest.skip("kfs_gcp needs the embedded cluster (--kfs-cluster=local)")
    return run.cloud.admin


@pytest.fixture(scope="session")
def kfs_gcs_endpoint(pytestconfig: pytest.Config) -> str | None:
    """Where Cloud Storage is: the local GCP in the embedded cluster, None for Google's.

    KFS_GCS_ENDPOINT overrides it (private endpoints, or a rehearsal cluster's local GCP)."""
    if os.environ.get("KFS_GCS_ENDPOINT"):
        return os.environ["KFS_GCS_ENDPOINT"]
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    return run.cloud.endpoint() if run is not None and run.cloud is not None else None


@pytest.fixture(scope="session")
def _kfs_google_access(pytestconfig: pytest.Config, kfs_gcs_endpoint: str | None) -> Any:
    from pytest_kfs.diagnosis.preflight import GoogleAccess, operator_access

    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    cloud = run.cloud if run is not None else None
    if cloud is None or kfs_gcs_endpoint is None or os.environ.get("KFS_GCS_ENDPOINT"):
        return operator_access(kfs_gcs_endpoint)
    # A local cloud: its operator account, with what a platform engineer has.
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        cloud.operator_key(), scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return GoogleAccess(credentials, kfs_gcs_endpoint, kfs_gcs_endpoint, kfs_gcs_endpoint,
                        project="kfs-demo")


@pytest.fixture
def kfs_preflight(kfs_cluster: Cluster, _kfs_google_access: Any
                  ) -> Callable[[str, ModelSpec], Prediction]:
    """Predict a model's outcome without deploying: `kfs_preflight(namespace, ModelSpec(...))`.

    Returns a Prediction: `loads`, `fails: <finding code>` or `unknown: <why>`.
    """
    from pytest_kfs.diagnosis.preflight import predict

    def check(namespace: str, model: ModelSpec) -> Prediction:
        try:
            resolved = model.resolved()
        except (KeyError, ValueError) as error:
            pytest.fail(f"pytest-kfs: cannot predict: {error.args[0]}", pytrace=False)
        return predict(kfs_cluster, str(namespace), resolved, _kfs_google_access)
    return check


@pytest.fixture(scope="session")
def kfs_scenario(pytestconfig: pytest.Config) -> Any:
    """The rehearsal scenario of this run (--kfs-scenario), or skip when none is set."""
    settings = pytestconfig.stash[SETTINGS]
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if not settings.scenarios or rehearsal is None:
        pytest.skip("no --kfs-scenario given")
    if len(settings.scenarios) > 1:
        pytest.fail(_ONE_SCENARIO.format(len(settings.scenarios)), pytrace=False)
    return rehearsal.scenario(settings.scenarios[0])


@pytest.fixture(scope="session")
def kfs_cluster(pytestconfig: pytest.Config) -> Cluster:
    """The connected cluster of this run (API clients, context, server version, KServe)."""
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    if run is None:
        pytest.skip(_NO_CLUSTER)
    return run.cluster


def _failed(node: pytest.Item) -> bool:
    return any(report.failed for report in node.stash.get(REPORTS, {}).values())


def _marker_problem(node: pytest.Item) -> str | None:
    """One line on what is wrong with a test's `@pytest.mark.kfs`, or None."""
    marker = node.get_closest_marker("kfs")
    try:
        if marker is not None:
            spec_from_marker(marker.args, marker.kwargs)
    except ValueError as error:
        return f"@pytest.mark.kfs on {node.nodeid}: {error}"
    return None


def _marker(node: pytest.Item) -> tuple[ModelSpec | None, dict[str, Any]]:
    """The model a test's `@pytest.mark.kfs` names, and its namespace and timeout; a marker
    that is wrong fails the test with one line (an xdist worker cannot stop the run)."""
    problem = _marker_problem(node)
    if problem:
        pytest.fail(f"pytest-kfs: {problem}", pytrace=False)
    marker = node.get_closest_marker("kfs")
    return spec_from_marker(marker.args, marker.kwargs) if marker else (None, {})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A typo in a marker is one line at collection, before any cluster work. (xdist workers
    collect, and a usage error there crashes the worker: its tests fail with the line.)"""
    if hasattr(config, "workerinput"):
        return
    problem = next(filter(None, map(_marker_problem, items)), None)
    if problem:
        raise pytest.UsageError(problem)


class _Namespace(str):
    """A namespace name (a str) that remembers which cluster and test it belongs to."""

    cluster: Cluster


def _open_namespace(config: pytest.Config, cluster: Cluster, test_id: str) -> _Namespace:
    from kubernetes.client.rest import ApiException

    from pytest_kfs.kube import namespaces

    room = _namespace_room(config, cluster)
    name = namespaces.namespace_name(config.stash[RUN_ID], test_id, room)
    try:
        try:
            namespaces.create(cluster, name, config.stash[RUN_ID], test_id,
                              config.stash[INSTANCE])
        except NamespaceBusy:
            # Same run id, same test, another job: a name of this run instance's own.
            name = namespaces.namespace_name(
                config.stash[RUN_ID], f"{test_id}@{config.stash[INSTANCE]}", room)
            namespaces.create(cluster, name, config.stash[RUN_ID], test_id,
                              config.stash[INSTANCE])
    except NamespaceTaken as error:
        pytest.fail(f"pytest-kfs: {error}", pytrace=False)
    except ApiException as error:
        need = " (pytest-kfs needs create on namespaces; see README, RBAC)" \
            if error.status == 403 else ""
        pytest.fail(f"pytest-kfs: cannot create namespace {name} on {cluster.context}: HTTP "
                    f"{error.status} {error.reason}{need}", pytrace=False)
    handle = _Namespace(name)
    handle.cluster = cluster
    _heartbeat(config, cluster).held.add(name)
    namespaces.wait_default_account(cluster, name)  # as `kubectl create namespace` users expect
    return handle


class _Heartbeat:
    """Renews the heartbeat of the namespaces this process holds, so that no other run's
    sweep takes them while they are in use (however old they are)."""

    def __init__(self, cluster: Cluster) -> None:
        self.held: set[str] = set()
        self.stopped = threading.Event()
        self._cluster = cluster
        threading.Thread(target=self._run, name="kfs-heartbeat", daemon=True).start()

    def _run(self) -> None:
        from pytest_kfs.kube import namespaces

        while not self.stopped.wait(namespaces.HEARTBEAT_SECONDS):
            namespaces.renew(self._cluster, list(self.held), time.time())




def _heartbeat(config: pytest.Config, cluster: Cluster) -> _Heartbeat:
    if HEARTBEAT not in config.stash:
        config.stash[HEARTBEAT] = _Heartbeat(cluster)
    heartbeat: _Heartbeat = config.stash[HEARTBEAT]
    return heartbeat


def _namespace_room(config: pytest.Config, cluster: Cluster) -> int:
    """The longest namespace the cluster's KServe domainTemplate leaves room for (read once)."""
    from pytest_kfs.kube import namespaces
    from pytest_kfs.kube.kserve_config import read_kserve_config

    if NAMESPACE_ROOM not in config.stash:
        ingress = read_kserve_config(cluster).get("ingress") or {}
        config.stash[NAMESPACE_ROOM] = namespaces.namespace_room(
            ingress.get("domainTemplate"), ingress.get("ingressDomain"))
    return config.stash[NAMESPACE_ROOM]


def _close_namespace(config: pytest.Config, namespace: _Namespace, failed: bool) -> None:
    from pytest_kfs.kube import namespaces

    if HEARTBEAT in config.stash:
        config.stash[HEARTBEAT].held.discard(str(namespace))
    keep = config.stash[SETTINGS].keep
    if keep == "always" or (keep == "on-failure" and failed):
        namespaces.mark_kept(namespace.cluster, str(namespace),
                             "failed" if failed else "--kfs-keep=always")
        return
    namespaces.delete(namespace.cluster, str(namespace))


@pytest.fixture(scope="module")
def _kfs_module_namespace(request: pytest.FixtureRequest, kfs_cluster: Cluster) -> Any:
    config = request.config
    namespace = _open_namespace(config, kfs_cluster, request.node.nodeid)
    yield namespace
    failed = any(_failed(item) for item in request.node.items) if hasattr(
        request.node, "items") else False
    _close_namespace(config, namespace, failed)


@pytest.fixture
def kfs_namespace(request: pytest.FixtureRequest, kfs_cluster: Cluster) -> Any:
    """A fresh namespace for this test, labelled with the run id and deleted afterwards.

    `@pytest.mark.kfs(namespace="module")` shares one per module; `--kfs-keep=on-failure`
    keeps it when the test fails.
    """
    if request.config.stash[SETTINGS].existing is not None:
        pytest.skip("--kfs-existing is read-only: this test deploys")
    if request.config.stash[SETTINGS].namespace is not None:
        shared = _Namespace(request.config.stash[SETTINGS].namespace)
        shared.cluster = kfs_cluster
        yield shared  # the user's: never created or deleted here (kfs_deploy cleans up)
        return
    if _marker(request.node)[1].get("namespace") == "module":
        yield request.getfixturevalue("_kfs_module_namespace")
        return
    namespace = _open_namespace(request.config, kfs_cluster, request.node.nodeid)
    yield namespace
    _close_namespace(request.config, namespace, _failed(request.node))


@pytest.fixture
def kfs_property(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    """`kfs_property(name, value)`: a test property `kfs_<name>` for JUnit (shown with
    junit_family=xunit1; xunit2, pytest's default, allows none, so it is left out there)."""
    def record(name: str, value: object) -> None:
        request.node.user_properties.append((f"kfs_{name}", value))
    return record


def _record(node: pytest.Item, data: dict[str, Any], seconds: float | None) -> None:
    node.user_properties += [
        ("kfs_model", f"{data['namespace']}/{data['name']}"),
        ("kfs_storage_uri", data["storage_uri"]),
        ("kfs_verdict", data["verdict"]),
        ("kfs_time_to_loaded_s", f"{seconds:.3f}" if seconds is not None else ""),
        ("kfs_principal", data["principal"] or ""),
        ("kfs_findings", ",".join(f["code"] for f in data["findings"])),
        (RECORD_PROPERTY, json.dumps(data)),
    ]


def record_snapshot(node: pytest.Item, namespace: str, name: str, storage_uri: str,
                    state: Any, outcome: Any, findings: list[Any]) -> None:
    """Record a read-only observation (no wait, no timeline) like a finished wait."""
    from pytest_kfs.reports.terminal import model_record
    from pytest_kfs.wait import TimelineEntry, WaitResult

    result = WaitResult(verdict=outcome, state=state, elapsed=0.0,
                        timeline=[TimelineEntry(0.0, "isvc", state.summary(), state)])
    _record(node, model_record(node.nodeid, namespace, name, storage_uri, result, findings),
            None)


def _recorder(node: pytest.Item) -> Any:
    """Record each finished wait as test properties (JUnit shows them; reports read them)."""
    from pytest_kfs.reports.terminal import model_record

    def record(handle: ModelHandle, result: Any, findings: list[Any]) -> None:
        model = handle.manifest["spec"]["predictor"].get("model") or {}
        data = model_record(node.nodeid, handle.namespace, handle.name,
                            model.get("storageUri", ""), result, findings)
        _record(node, data, result.elapsed if result.loaded else None)
    return record


def _progress(config: pytest.Config, namespace: str, name: str) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < 1:
        return None

    capture = config.pluginmanager.get_plugin("capturemanager")
    from pytest_kfs.untrusted import capped, printable

    def show(entry: Any) -> None:
        # Live progress belongs on the terminal even while the test's output is captured.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(printable(f"    kfs {namespace}/{name} +{entry.at:.2f}s "
                                          f"{entry.source}: {capped(entry.text, 300)}"))
    return show


@pytest.fixture
def kfs_deploy(request: pytest.FixtureRequest, kfs_cluster: Cluster,
               kfs_namespace: Any) -> Iterator[Deployer]:
    """Factory: deploy a ModelSpec, a sample, a spec/YAML or a storage URI; returns a
    ModelHandle with .wait_loaded() (raises ModelNotLoaded with the diagnosis),
    .require_loaded() (fails the test with it), .wait(), .status, .timeline, .diagnose(),
    .update(patch), .delete(), .predict(rows) / .infer(rows) / .v2_ready(), .url and .route().

    kfs_deploy("sklearn-iris"), kfs_deploy(spec=yaml_or_dict_or_path),
    kfs_deploy(storage_uri=..., model_format=..., service_account=..., credentials=key_json,
    runtime=..., protocol=..., min_replicas=..., annotations=..., name=...).
    With --kfs-namespace, what it created is deleted after the test (and nothing else).
    """
    from pytest_kfs.deploy import Deployer
    from pytest_kfs.kube import namespaces

    settings = request.config.stash[SETTINGS]
    deployer = Deployer(kfs_cluster, str(kfs_namespace), settings.timeout_seconds,
                        labels={namespaces.MANAGED_BY: namespaces.MANAGER,
                                namespaces.RUN_ID_LABEL: request.config.stash[RUN_ID]},
                        shared=settings.namespace is not None)
    deployer.on_change = _progress(request.config, str(kfs_namespace), "model")
    deployer.recorder = _recorder(request.node)
    yield deployer
    failed = _failed(request.node)
    if deployer.shared and not (settings.keep == "always" or
                                (settings.keep == "on-failure" and failed)):
        left = deployer.delete_created()
        if left:
            warnings.warn(pytest.PytestWarning(
                f"pytest-kfs: could not delete from {kfs_namespace}: {', '.join(left)}"),
                stacklevel=1)


@pytest.fixture
def kfs_model(request: pytest.FixtureRequest, kfs_cluster: Cluster, kfs_namespace: Any,
              kfs_deploy: Deployer) -> ModelHandle:
    """The configured model, deployed and Loaded; the test fails with the diagnosis if not.

    From `@pytest.mark.kfs(...)`, else --kfs-storage-uri/--kfs-model-format/
    --kfs-service-account, else the --kfs-scenario plan, else the sklearn-iris sample.
    """
    from pytest_kfs.errors import DeployError

    settings = request.config.stash[SETTINGS]
    model, rest = _marker(request.node)
    timeout = float(rest.get("timeout", settings.timeout_seconds))
    if model is None:
        model = settings.model
    credentials = None
    if not (model and model.service_account) and not settings.scenarios:
        if settings.serving_key:
            credentials = settings.serving_key.read_text()
        elif settings.serving_account:
            model = (model or ModelSpec()).but(
                service_account=kfs_deploy.copy_service_account(*settings.serving_account))
    elif model is None and settings.scenarios:
        plan = request.getfixturevalue("kfs_scenario").arrange_namespace(
            kfs_cluster.core, str(kfs_namespace), request.getfixturevalue("kfs_gcp"))
        model = plan.but(name=plan.name or "model")
    try:
        model = (model or ModelSpec()).resolved()
    except (KeyError, ValueError) as error:
        pytest.fail(f"pytest-kfs: cannot deploy: {error.args[0]}", pytrace=False)
    if settings.preflight != "off":
        prediction = request.getfixturevalue("kfs_preflight")(kfs_namespace, model)
        request.node.user_properties.append(("kfs_preflight", prediction.describe()))
        if prediction.outcome == "fails" and settings.preflight == "on":
            pytest.fail(f"pytest-kfs preflight: {kfs_namespace}/{model.name} "
                        f"{prediction.describe()} (not deployed; --kfs-preflight-report "
                        "deploys anyway)", pytrace=False)
    try:
        handle = kfs_deploy(model, credentials=credentials)
    except DeployError as error:
        pytest.fail(f"pytest-kfs: cannot deploy: {error}", pytrace=False)
    handle.on_change = _progress(request.config, str(kfs_namespace), handle.name)
    handle.recorder = _recorder(request.node)
    handle.require_loaded(timeout)
    return handle
