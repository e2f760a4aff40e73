"""Shared set-up of the conformance suites: the model under test and its serving identity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_kfs.gcp.identity import ServingIdentity, read_identity
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.plugin.stash import RUN_CLUSTER, SETTINGS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Running the conformance suites with no cluster would skip every check: a green job that
    checked nothing. That is a usage error, naming the option."""
    if items and config.stash[SETTINGS].target is None:
        raise pytest.UsageError(
            "pytest-kfs: the conformance suites need a cluster: pass --kfs-cluster=<kubeconfig "
            "context> (or local, in-cluster, kind[:name]); nothing was checked")


@dataclass
class Serving:
    """A model configuration in its namespace, and who KServe would read its bucket as."""

    config: ModelSpec
    namespace: str
    service_account: str
    identity: ServingIdentity
    # Key material: in memory only, never in a repr, a report or a traceback.
    secret_data: dict[str, str] | None = field(repr=False)
    gcs_endpoint: str | None = None


@pytest.fixture
def kfs_serving(request: pytest.FixtureRequest, kfs_cluster: Cluster, kfs_namespace: Any,
                kfs_model_config: ModelSpec, kfs_gcs_endpoint: str | None) -> Serving:
    """The configured model's namespace arranged, and its serving identity resolved."""
    config = kfs_model_config
    account = config.service_account or "default"
    settings = request.config.stash[SETTINGS]
    serving_key = settings.serving_key
    run = request.config.stash.get(RUN_CLUSTER, None)
    cloud = run.cloud if run is not None else None
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if config.scenario and rehearsal is not None:
        rehearsal.scenario(config.scenario).arrange_namespace(
            kfs_cluster.core, str(kfs_namespace), request.getfixturevalue("kfs_gcp"))
    elif config.is_gcs and cloud is not None and rehearsal is not None:
        # A local cloud (the embedded cluster's): the model must exist there.
        missing = rehearsal.arrange_model(cloud, config.storage_uri, config.sample)
        if missing:
            pytest.fail(missing, pytrace=False)
    if config.scenario or config.service_account:
        pass  # the scenario's account, or the one the model names
    elif serving_key:
        # --kfs-serving-key: the fresh namespace gets a service account with the key as
        # KServe's key secret, and the model is served as it.
        account = request.getfixturevalue("kfs_deploy").key_service_account(
            config.name, None, json.loads(serving_key.read_text()))
    elif settings.serving_account:
        # --kfs-serving-account: that account, its secrets and annotations, copied here.
        account = request.getfixturevalue("kfs_deploy").copy_service_account(
            *settings.serving_account)
    found = read_identity(kfs_cluster, str(kfs_namespace), account)
    if found is None:
        pytest.fail(f"service account {account} does not exist in {kfs_namespace}",
                    pytrace=False)
    identity, secret_data = found
    return Serving(config, str(kfs_namespace), account, identity, secret_data,
                   kfs_gcs_endpoint)


def requires_gcs(serving: Serving) -> None:
    """Skip (with the reason) checks that only apply to gs:// models."""
    if not serving.config.is_gcs:
        pytest.skip(f"{serving.config.storage_uri} is not in Google Cloud Storage")


def key_file_of(serving: Serving) -> dict[str, str]:
    """The key secret's data, or skip when the identity is not a key file."""
    if serving.identity.source != "key-secret" or not serving.secret_data:
        pytest.skip(f"the serving identity is not a key file ({serving.identity.describe()})")
    if GCS_KEY_FILE not in serving.secret_data:
        pytest.skip("the key secret has no gcloud-application-credentials.json")
    return serving.secret_data
