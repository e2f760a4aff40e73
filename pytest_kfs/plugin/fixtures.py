"""The fixtures of pytest-kfs: thin, each asks an object that does the work (the namespace pool,
the deployer, the serving side, the fleet) and hands it to the test."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kfs.errors import DeployError, KfsError
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.plugin.policy import choose_model, identity_source, marker_of
from pytest_kfs.plugin.reporting import record_snapshot, recorder
from pytest_kfs.plugin.settings import said
from pytest_kfs.plugin.stash import FLEET, INSTANCE, REPORTS, RUN_CLUSTER, RUN_ID, SETTINGS

# The Kubernetes and Google clients take most of a second to import: a run without a cluster
# (the plugin merely installed) must not pay for them, so they are imported where used.
if TYPE_CHECKING:
    from pytest_kfs.deploy import Deployer, ModelHandle
    from pytest_kfs.diagnosis.fleet import Fleet
    from pytest_kfs.diagnosis.preflight import GoogleAccess, Prediction
    from pytest_kfs.existing import ExistingModel
    from pytest_kfs.gcp.cloud_admin import CloudAdmin
    from pytest_kfs.kube.cluster import Cluster
    from pytest_kfs.kube.namespace_pool import Namespace, NamespacePool
    from pytest_kfs.serving import Serving
    from pytest_kfs.targets.base import RehearsalScenario
    from pytest_kfs.wait import TimelineEntry

_ONE_SCENARIO = (
    "pytest-kfs: kfs_model and kfs_scenario deploy one scenario, and --kfs-scenario "
    "names {}: give one, or run the suites, which check each"
)
_NO_CLUSTER = (
    "no cluster configured for pytest-kfs: pass --kfs-cluster=local (embedded), "
    "--kfs-cluster=<kubeconfig context>, --kfs-cluster=kind[:name] or --kfs-cluster=in-cluster"
)


def _failed(node: pytest.Item) -> bool:
    return any(report.failed for report in node.stash.get(REPORTS, {}).values())


@pytest.fixture(scope="session")
def kfs_cluster(pytestconfig: pytest.Config) -> Cluster:
    """The connected cluster of this run (API clients, context, server version, KServe)."""
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    if run is None:
        pytest.skip(_NO_CLUSTER)
    return run.cluster


@pytest.fixture(scope="session")
def kfs_gcp(pytestconfig: pytest.Config) -> CloudAdmin:
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
def kfs_google(pytestconfig: pytest.Config, kfs_gcs_endpoint: str | None) -> GoogleAccess:
    """The operator's view of Google (credentials and endpoints) that preflight, the fleet and
    the bucket-policy checks use: on the embedded cluster an operator account of its local
    GCP; elsewhere Application Default Credentials (none: checks that need them skip)."""
    from pytest_kfs.diagnosis.preflight import GoogleAccess, operator_access

    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    cloud = run.cloud if run is not None else None
    if cloud is None or kfs_gcs_endpoint is None or os.environ.get("KFS_GCS_ENDPOINT"):
        return operator_access(kfs_gcs_endpoint)
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        cloud.operator_key(), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    return GoogleAccess(
        credentials, kfs_gcs_endpoint, kfs_gcs_endpoint, kfs_gcs_endpoint, project="kfs-demo"
    )


@pytest.fixture(scope="session")
def kfs_fleet(pytestconfig: pytest.Config, kfs_google: GoogleAccess) -> Iterator[Fleet]:
    """The InferenceServices --kfs-existing selects, read once for the whole run (a `Fleet`):
    `models`, `evidence(namespace, name, with_logs)` and `prediction(namespace, name)`.
    Google is asked once per (principal, bucket, prefix), a few requests at a time."""
    from pytest_kfs.diagnosis.preflight import GoogleChecks

    fleet = pytestconfig.stash.get(FLEET, None)
    if fleet is None:
        pytest.skip("no --kfs-existing given")
    fleet.use_google(kfs_google, GoogleChecks())
    yield fleet
    fleet.close()


@pytest.fixture
def kfs_existing(
    request: pytest.FixtureRequest, kfs_fleet: Fleet, kfs_existing_model: tuple[str, str] | None
) -> ExistingModel:
    """One InferenceService --kfs-existing selected (a test runs per model): `.check()` gives
    its verdict and diagnosis from the run's snapshot (recorded for the reports),
    `.prediction()` whether its identity can read its bucket."""
    from pytest_kfs.existing import ExistingModel

    if kfs_existing_model is None:
        pytest.skip("no --kfs-existing given, or it selects no InferenceService")
    kfs_fleet.ask(*kfs_existing_model)  # Google answers while the status is read

    def record(*observed: Any) -> None:
        record_snapshot(request.node, *observed)

    return ExistingModel(kfs_fleet, *kfs_existing_model, recorder=record)


@pytest.fixture
def kfs_preflight(
    kfs_cluster: Cluster, kfs_google: GoogleAccess
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
        return predict(kfs_cluster, str(namespace), resolved, kfs_google)

    return check


@pytest.fixture(scope="session")
def kfs_scenario(pytestconfig: pytest.Config) -> RehearsalScenario:
    """The rehearsal scenario of this run (--kfs-scenario), or skip when none is set."""
    settings = pytestconfig.stash[SETTINGS]
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if not settings.scenarios or rehearsal is None:
        pytest.skip("no --kfs-scenario given")
    if len(settings.scenarios) > 1:
        pytest.fail(_ONE_SCENARIO.format(len(settings.scenarios)), pytrace=False)
    return rehearsal.scenario(settings.scenarios[0])


@pytest.fixture(scope="session")
def kfs_namespace_pool(
    pytestconfig: pytest.Config, kfs_cluster: Cluster
) -> Iterator[NamespacePool]:
    """The run's test namespaces (this process's): `open(test_id)` and `close(ns, failed)`."""
    from pytest_kfs.kube.namespace_pool import NamespacePool

    settings = pytestconfig.stash[SETTINGS]
    pool = NamespacePool(
        kfs_cluster,
        pytestconfig.stash[RUN_ID],
        pytestconfig.stash[INSTANCE],
        settings.keep,
        settings.namespace,
    )
    yield pool
    pool.stop()


def _open(pool: NamespacePool, test_id: str) -> Namespace:
    try:
        return pool.open(test_id)
    except KfsError as error:
        pytest.fail(said(error), pytrace=False)


@pytest.fixture(scope="module")
def _kfs_module_namespace(
    request: pytest.FixtureRequest, kfs_namespace_pool: NamespacePool
) -> Iterator[Namespace]:
    namespace = _open(kfs_namespace_pool, request.node.nodeid)
    yield namespace
    items = getattr(request.node, "items", ())
    kfs_namespace_pool.close(namespace, any(_failed(item) for item in items))


@pytest.fixture
def kfs_namespace(
    request: pytest.FixtureRequest, kfs_namespace_pool: NamespacePool
) -> Iterator[Namespace]:
    """A fresh namespace for this test, labelled with the run id and deleted afterwards.

    `@pytest.mark.kfs(namespace="module")` shares one per module; `--kfs-keep=on-failure`
    keeps it when the test fails; `--kfs-namespace` uses yours (never created or deleted).
    """
    if request.config.stash[SETTINGS].existing is not None:
        pytest.skip("--kfs-existing is read-only: this test deploys")
    if marker_of(request.node)[1].get("namespace") == "module":
        yield request.getfixturevalue("_kfs_module_namespace")
        return
    namespace = _open(kfs_namespace_pool, request.node.nodeid)
    yield namespace
    kfs_namespace_pool.close(namespace, _failed(request.node))


@pytest.fixture
def kfs_property(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    """`kfs_property(name, value)`: a test property `kfs_<name>` for JUnit (shown with
    junit_family=xunit1; xunit2, pytest's default, allows none, so it is left out there)."""

    def record(name: str, value: object) -> None:
        request.node.user_properties.append((f"kfs_{name}", value))

    return record


def _progress(
    config: pytest.Config, namespace: str, name: str
) -> Callable[[TimelineEntry], None] | None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < 1:
        return None
    capture = config.pluginmanager.get_plugin("capturemanager")
    from pytest_kfs.untrusted import capped, printable

    def show(entry: TimelineEntry) -> None:
        # Live progress belongs on the terminal even while the test's output is captured.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(
                printable(
                    f"    kfs {namespace}/{name} +{entry.at:.2f}s "
                    f"{entry.source}: {capped(entry.text, 300)}"
                )
            )

    return show


@pytest.fixture
def kfs_deploy(
    request: pytest.FixtureRequest, kfs_cluster: Cluster, kfs_namespace: Namespace
) -> Iterator[Deployer]:
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
    deployer = Deployer(
        kfs_cluster,
        str(kfs_namespace),
        settings.timeout_seconds,
        labels={
            namespaces.MANAGED_BY: namespaces.MANAGER,
            namespaces.RUN_ID_LABEL: request.config.stash[RUN_ID],
        },
        shared=settings.namespace is not None,
    )
    deployer.on_change = _progress(request.config, str(kfs_namespace), "model")
    deployer.recorder = recorder(request.node)
    yield deployer
    failed = _failed(request.node)
    if deployer.shared and not (
        settings.keep == "always" or (settings.keep == "on-failure" and failed)
    ):
        left = deployer.delete_created()
        if left:
            warnings.warn(
                pytest.PytestWarning(
                    f"pytest-kfs: could not delete from {kfs_namespace}: {', '.join(left)}"
                ),
                stacklevel=1,
            )


@pytest.fixture
def kfs_model(
    request: pytest.FixtureRequest,
    kfs_cluster: Cluster,
    kfs_namespace: Namespace,
    kfs_deploy: Deployer,
) -> ModelHandle:
    """The configured model, deployed and Loaded; the test fails with the diagnosis if not.

    From `@pytest.mark.kfs(...)`, else --kfs-storage-uri/--kfs-model-format/
    --kfs-service-account, else the --kfs-scenario plan, else the sklearn-iris sample.
    """
    settings = request.config.stash[SETTINGS]
    choice = choose_model(*marker_of(request.node), settings)
    model, credentials = choice.model, None
    if choice.identity == "key":
        assert settings.serving_key is not None
        credentials = settings.serving_key.read_text()
    elif choice.identity == "copy":
        assert settings.serving_account is not None
        model = (model or ModelSpec()).but(
            service_account=kfs_deploy.copy_service_account(*settings.serving_account)
        )
    elif choice.identity == "scenario":
        plan = request.getfixturevalue("kfs_scenario").arrange_namespace(
            kfs_cluster.core, str(kfs_namespace), request.getfixturevalue("kfs_gcp")
        )
        model = plan.but(name=plan.name or "model")
    try:
        model = (model or ModelSpec()).resolved()
    except (KeyError, ValueError) as error:
        pytest.fail(f"pytest-kfs: cannot deploy: {error.args[0]}", pytrace=False)
    if settings.preflight != "off":
        prediction = request.getfixturevalue("kfs_preflight")(kfs_namespace, model)
        request.node.user_properties.append(("kfs_preflight", prediction.describe()))
        if prediction.outcome == "fails" and settings.preflight == "on":
            pytest.fail(
                f"pytest-kfs preflight: {kfs_namespace}/{model.name} "
                f"{prediction.describe()} (not deployed; --kfs-preflight-report "
                "deploys anyway)",
                pytrace=False,
            )
    try:
        handle = kfs_deploy(model, credentials=credentials)
    except DeployError as error:
        pytest.fail(said(error, "cannot deploy: "), pytrace=False)
    handle.on_change = _progress(request.config, str(kfs_namespace), handle.name)
    handle.recorder = recorder(request.node)
    handle.require_loaded(choice.timeout)
    return handle


@pytest.fixture
def kfs_serving(
    request: pytest.FixtureRequest,
    kfs_cluster: Cluster,
    kfs_namespace: Namespace,
    kfs_model_config: ModelSpec,
    kfs_google: GoogleAccess,
) -> Serving:
    """The configured model's namespace arranged, and its serving identity resolved: who KServe
    would read the bucket as, with the checks to make as that identity (a `Serving`)."""
    from pytest_kfs.gcp.identity import read_identity
    from pytest_kfs.serving import Serving

    config = kfs_model_config
    account = config.service_account or "default"
    settings = request.config.stash[SETTINGS]
    run = request.config.stash.get(RUN_CLUSTER, None)
    cloud = run.cloud if run is not None else None
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if config.scenario and rehearsal is not None:
        rehearsal.scenario(config.scenario).arrange_namespace(
            kfs_cluster.core, str(kfs_namespace), request.getfixturevalue("kfs_gcp")
        )
    elif config.is_gcs and cloud is not None and rehearsal is not None:
        # A local cloud (the embedded cluster's): the model must exist there.
        missing = rehearsal.arrange_model(cloud, config.storage_uri, config.sample)
        if missing:
            pytest.fail(missing, pytrace=False)
    source = identity_source(config, settings)
    if source == "key":
        # --kfs-serving-key: the fresh namespace gets a service account with the key as
        # KServe's key secret, and the model is served as it.
        assert settings.serving_key is not None
        account = request.getfixturevalue("kfs_deploy").key_service_account(
            config.name, None, json.loads(settings.serving_key.read_text())
        )
    elif source == "copy":
        # --kfs-serving-account: that account, its secrets and annotations, copied here.
        assert settings.serving_account is not None
        account = request.getfixturevalue("kfs_deploy").copy_service_account(
            *settings.serving_account
        )
    found = read_identity(kfs_cluster, str(kfs_namespace), account)
    if found is None:
        pytest.fail(f"service account {account} does not exist in {kfs_namespace}", pytrace=False)
    identity, secret_data = found
    return Serving(
        config, str(kfs_namespace), account, identity, secret_data, kfs_cluster, kfs_google
    )
