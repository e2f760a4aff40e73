"""Deploy InferenceServices into a test namespace and hand back handles to watch them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes.client.rest import ApiException

from pytest_kfs.diagnosis.evidence import Evidence, collect
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.errors import DeployError, InferenceFailed, InputRefused, KfsError
from pytest_kfs.gcp.keyfile import key_problem
from pytest_kfs.inference import (
    InferenceResult,
    Route,
    Sender,
    infer_v2,
    predict_v1,
    route,
    send_direct,
    send_through_api_server,
    send_with_host,
    v2_ready,
)
from pytest_kfs.kserve import api
from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kserve.status import ModelState
from pytest_kfs.kube import namespaces
from pytest_kfs.kube.cluster import Cluster, create_unless_exists
from pytest_kfs.kube.kserve_config import read_kserve_config
from pytest_kfs.reports.terminal import format_block
from pytest_kfs.untrusted import load_yaml, read_limited, shown, text_of
from pytest_kfs.wait import TimelineEntry, WaitResult, wait_for_model


class ModelNotLoaded(KfsError, AssertionError):
    """The model did not become Loaded; the message is the answer (the likeliest cause and its
    fix), then the timeline and the findings."""

    def __init__(self, block: str, result: WaitResult, findings: list[Finding]) -> None:
        super().__init__(block)
        self.result = result
        self.findings = findings


def service_account_key(credentials: dict[str, Any] | str) -> dict[str, Any]:
    """A Google service-account key (dict or its JSON text); DeployError naming what is wrong,
    never echoing the key."""
    __tracebackhide__ = True  # its locals hold key material: never shown (-l)
    if isinstance(credentials, str):
        try:
            credentials = json.loads(credentials)
        except json.JSONDecodeError as error:
            raise DeployError(
                f"credentials= is not valid JSON (line {error.lineno}, column "
                f"{error.colno}); pass the key file's content or a dict"
            ) from None
    problem = key_problem(credentials)
    if problem:
        raise DeployError(
            f"credentials= is not a service-account key: {problem}; pass a key "
            "file's content (gcloud iam service-accounts keys create)"
        )
    assert isinstance(credentials, dict)
    return credentials


# An InferenceService manifest is a few kilobytes; a megabyte is no manifest.
MANIFEST_LIMIT = 1024 * 1024


def load_manifest(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """An InferenceService from a dict, a YAML string or a YAML file; DeployError otherwise.
    YAML is read bounded: a file up to MANIFEST_LIMIT, aliases refused, depth capped."""
    if isinstance(source, dict):
        document = source
    else:
        where = "spec"
        try:
            if isinstance(source, Path) or (
                "\n" not in str(source) and str(source).endswith((".yaml", ".yml"))
            ):
                where = str(source)
                text = text_of(read_limited(Path(source), MANIFEST_LIMIT, where), where)
            else:
                text = str(source)
                if len(text) > MANIFEST_LIMIT:
                    raise DeployError(
                        f"spec is {len(text)} characters; expected at most {MANIFEST_LIMIT}"
                    )
            documents = [doc for doc in load_yaml(text, where) if doc]
        except InputRefused as error:
            raise DeployError(str(error)) from None
        except OSError as error:
            raise DeployError(f"cannot read {where}: {error.strerror or error}") from None
        except yaml.YAMLError as error:
            raise DeployError(f"not valid YAML: {shown(str(error).splitlines()[0], 300)}") from None
        if len(documents) != 1:
            raise DeployError(f"expected one InferenceService document, got {len(documents)}")
        document = documents[0]
    if not isinstance(document, dict) or document.get("kind") != "InferenceService":
        kind = document.get("kind") if isinstance(document, dict) else type(document).__name__
        raise DeployError(f"expected kind InferenceService, got {shown(repr(kind), 100)}")
    if not str(document.get("apiVersion", "")).startswith(f"{api.GROUP}/"):
        raise DeployError(
            f"apiVersion must be {api.API_VERSION}, got "
            f"{shown(repr(document.get('apiVersion')), 100)}"
        )
    spec = document.get("spec")
    if not (isinstance(spec, dict) and spec.get("predictor")):
        raise DeployError("the InferenceService has no spec.predictor")
    try:
        plain: dict[str, Any] = json.loads(json.dumps(document))
    except (TypeError, ValueError) as error:  # a YAML date, a non-string key, a set
        raise DeployError(f"the InferenceService is not plain JSON data: {error}") from None
    return plain


@dataclass
class ModelHandle:
    """A deployed InferenceService: wait for it, read its status, diagnose it, delete it."""

    cluster: Cluster
    namespace: str
    name: str
    manifest: dict[str, Any]
    timeout: float
    on_change: Callable[[TimelineEntry], None] | None = None
    recorder: Callable[[ModelHandle, WaitResult, list[Finding]], None] | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    last_result: WaitResult | None = None
    route_taken: Route | None = None  # how the last request went (ingress, API proxy, direct)

    @property
    def status(self) -> ModelState:
        """The InferenceService's status now."""
        return ModelState.from_isvc(
            self.cluster.custom.get_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.PLURAL, self.name
            )
        )

    def wait(self, timeout: float | None = None) -> WaitResult:
        """Watch until a verdict or the deadline; never raises for a model that fails."""
        result = wait_for_model(
            self.cluster, self.namespace, self.name, timeout or self.timeout, self.on_change
        )
        self.timeline.extend(result.timeline)
        self.last_result = result
        return result

    def require_loaded(self, timeout: float | None = None) -> WaitResult:
        """wait_loaded() for tests: a model that does not load fails the test with its block,
        the plugin's own errors shown as their message (no traceback, the answer first in the
        short summary and in JUnit's message=)."""
        __tracebackhide__ = True
        return self.wait_loaded(timeout)

    def wait_loaded(self, timeout: float | None = None) -> WaitResult:
        """Wait for Loaded; raise ModelNotLoaded with the timeline and findings otherwise.

        The deadline covers the diagnosis too: its last tenth (at most 10 s) is kept for it."""
        total = timeout or self.timeout
        ends = time.monotonic() + total
        result = self.wait(total - min(10.0, total / 10))
        if result.loaded:
            if self.recorder:
                self.recorder(self, result, [])
            return result
        findings = self.diagnose(result.isvc, deadline=ends)
        if self.recorder:
            self.recorder(self, result, findings)
        block = format_block(self.namespace, self.name, result, findings, timeout or self.timeout)
        raise ModelNotLoaded(block, result, findings)

    def diagnose(
        self, isvc_obj: dict[str, Any] | None = None, deadline: float | None = None
    ) -> list[Finding]:
        """Collect the evidence now and explain the model's state, most likely cause first
        (by `deadline`, time.monotonic(), what is not read yet stays unread)."""
        try:
            evidence = collect(self.cluster, self.namespace, self.name, isvc_obj, deadline)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # The API server went away: explain from what the wait saw.
            seen = self.last_result
            evidence = Evidence(
                isvc=isvc_obj or {"metadata": {"name": self.name, "namespace": self.namespace}},
                pods=list(seen.pods) if seen else [],
                gaps=[
                    f"the API server {self.cluster.address} could not be reached to collect "
                    f"evidence ({type(error).__name__})"
                ],
            )
        return diagnose(evidence)

    @property
    def url(self) -> str:
        """status.url: where the InferenceService answers."""
        obj = self.cluster.custom.get_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.PLURAL, self.name
        )
        url = (obj.get("status") or {}).get("url")
        if not url:
            raise InferenceFailed(
                f"InferenceService {self.namespace}/{self.name} has no status.url yet: is it Ready?"
            )
        return str(url)

    @property
    def protocol(self) -> str:
        """The protocol the predictor speaks (v1 unless the spec says v2)."""
        model = self.manifest["spec"]["predictor"].get("model") or {}
        return model.get("protocolVersion") or "v1"

    def route(self) -> tuple[str, Sender]:
        """(base URL, sender) for requests to the model: through the cluster's ingress with
        the URL's Host header when one is known, through the API server's service proxy when
        the URL is cluster-internal or does not resolve, else straight to status.url."""
        self.route_taken = way = route(
            self.url, self.namespace, self.name, self.cluster.server, self.cluster.ingress
        )
        if way.path == "ingress":
            return way.base, send_with_host(way.host)
        if way.path == "api-server proxy":
            return way.base, send_through_api_server(self.cluster.api_client)
        return way.base, send_direct

    def _sent(self, request: Callable[[str, Sender], InferenceResult]) -> InferenceResult:
        """Run a request over the route; a failure says which route it took."""
        base, send = self.route()
        try:
            return request(base, send)
        except InferenceFailed as error:
            way = self.route_taken
            assert way is not None  # route() just set it
            host = f" with Host: {way.host}" if way.path == "ingress" else ""
            raise InferenceFailed(f"{error} [sent via {way.path}{host}]") from None

    def predict(self, instances: list[Any], timeout: float = 30.0) -> InferenceResult:
        """Send rows to the model over its protocol (v1 :predict, or v2 /infer), over
        route(); `route_taken` then says which way it went."""
        if self.protocol == "v2":
            return self._sent(
                lambda base, send: infer_v2(base, self.name, instances, timeout, send)
            )
        return self._sent(lambda base, send: predict_v1(base, self.name, instances, timeout, send))

    def v2_ready(self, timeout: float = 5.0) -> bool:
        """GET /v2/health/ready over the model's route."""
        base, send = self.route()
        return v2_ready(base, timeout, send)

    def infer(self, instances: list[list[float]], timeout: float = 30.0) -> InferenceResult:
        """Open Inference Protocol (v2) /infer with one FP32 tensor."""
        return self._sent(lambda base, send: infer_v2(base, self.name, instances, timeout, send))

    def update(self, patch: dict[str, Any]) -> None:
        """Merge-patch the InferenceService (e.g. a new storageUri: a new revision)."""
        self.cluster.custom.patch_namespaced_custom_object(
            api.GROUP, api.VERSION, self.namespace, api.PLURAL, self.name, patch
        )

    def delete(self) -> None:
        """Delete the InferenceService (its pods go with it)."""
        try:
            self.cluster.custom.delete_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.PLURAL, self.name
            )
        except ApiException as error:
            if error.status != 404:
                raise


@dataclass
class Deployer:
    """The `kfs_deploy` factory: one namespace, many models."""

    cluster: Cluster
    namespace: str
    timeout: float
    on_change: Callable[[TimelineEntry], None] | None = None
    recorder: Callable[[ModelHandle, WaitResult, list[Finding]], None] | None = None
    # Labels on everything it creates (who made it, which run).
    labels: dict[str, str] = field(default_factory=dict)
    # A namespace that is not the run's own (--kfs-namespace): objects already there are never
    # changed, and what the run created is recorded so that exactly that is deleted.
    shared: bool = False
    created: list[tuple[str, str]] = field(default_factory=list)
    _ingress: dict[str, str] | None = field(default=None, repr=False)

    def __call__(
        self,
        sample: str | ModelSpec | None = None,
        *,
        name: str | None = None,
        spec: str | Path | dict[str, Any] | None = None,
        storage_uri: str | None = None,
        model_format: str | None = None,
        service_account: str | None = None,
        credentials: dict[str, Any] | str | None = None,
        runtime: str | None = None,
        protocol: str | None = None,
        min_replicas: int | None = None,
        annotations: dict[str, str] | None = None,
    ) -> ModelHandle:
        """Deploy a `ModelSpec`, a sample by name (with `storage_uri`: from your copy of its
        model), a spec (dict, YAML text or file) or a storage URI."""
        __tracebackhide__ = True  # its locals hold key material: never shown (-l)
        fields = (name, storage_uri, model_format, service_account, runtime, protocol, min_replicas)
        if isinstance(sample, ModelSpec):
            if spec is not None or any(value is not None for value in fields):
                raise DeployError("pass a ModelSpec or its fields as keywords, not both")
            model = sample
        else:
            model = ModelSpec(
                name or "",
                storage_uri or "",
                model_format or "",
                service_account,
                runtime,
                protocol,
                min_replicas,
                sample,
            )
        if spec is not None and (model.sample or model.storage_uri):
            raise DeployError("pass either spec= or a sample/storage_uri, not both")
        if credentials is not None:
            model = model.but(
                service_account=self.key_service_account(
                    model.name or model.sample or "model",
                    model.service_account,
                    service_account_key(credentials),
                )
            )
        manifest = self._manifest(model, spec, annotations)
        _check_host_name(manifest["metadata"]["name"], self.namespace, self._ingress_config())
        metadata = manifest["metadata"]
        metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
        try:
            self.cluster.custom.create_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.PLURAL, manifest
            )
        except ApiException as error:
            detail = _api_message(error)
            raise DeployError(
                f"the API server refused InferenceService "
                f"{self.namespace}/{manifest['metadata']['name']}: {detail}"
            ) from None
        self.created.append(("InferenceService", metadata["name"]))
        return ModelHandle(
            self.cluster,
            self.namespace,
            manifest["metadata"]["name"],
            manifest,
            self.timeout,
            self.on_change,
            self.recorder,
        )

    def _manifest(
        self,
        model: ModelSpec,
        spec: str | Path | dict[str, Any] | None,
        annotations: dict[str, str] | None,
    ) -> dict[str, Any]:
        if spec is not None:
            manifest = load_manifest(spec)
            manifest["metadata"] = {**manifest.get("metadata", {}), "namespace": self.namespace}
            if model.name:
                manifest["metadata"]["name"] = model.name
            if model.service_account:
                manifest["spec"]["predictor"]["serviceAccountName"] = model.service_account
            return manifest
        try:
            return model.resolved().manifest(annotations)
        except KeyError as error:
            raise DeployError(error.args[0]) from None
        except ValueError as error:
            raise DeployError(str(error)) from None

    def _ingress_config(self) -> dict[str, str]:
        """KServe's `ingress` settings of the cluster, read once ({} when not readable)."""
        if self._ingress is None:
            self._ingress = read_kserve_config(self.cluster).get("ingress") or {}
        return self._ingress

    def copy_service_account(self, namespace: str, name: str) -> str:
        """Copy service account `namespace/name` into this namespace with its annotations
        (Workload Identity's) and the secrets it lists, as they are; returns its name."""
        try:
            source = self.cluster.core.read_namespaced_service_account(name, namespace)
        except ApiException as error:
            raise DeployError(
                f"--kfs-serving-account={namespace}/{name}: cannot read it "
                f"(HTTP {error.status} {error.reason})"
            ) from None
        secrets = [ref.name for ref in source.secrets or []]
        for secret_name in secrets:
            try:
                secret = self.cluster.core.read_namespaced_secret(secret_name, namespace)
            except ApiException as error:
                raise DeployError(
                    f"--kfs-serving-account={namespace}/{name}: its secret "
                    f"{secret_name} cannot be read (HTTP {error.status} "
                    f"{error.reason})"
                ) from None
            self._create(
                "Secret",
                {
                    "metadata": {
                        "name": secret_name,
                        "annotations": secret.metadata.annotations or {},
                    },
                    "type": secret.type,
                    "data": secret.data or {},
                },
            )
        self._create(
            "ServiceAccount",
            {
                "metadata": {"name": name, "annotations": source.metadata.annotations or {}},
                "secrets": [{"name": secret_name} for secret_name in secrets],
            },
        )
        return name

    def key_service_account(self, base: str, account: str | None, key: dict[str, Any]) -> str:
        """A key secret (KServe's file name) attached to a service account, as KServe docs do."""
        __tracebackhide__ = True  # its locals hold key material: never shown (-l)
        account = account or f"{base}-sa"
        secret = f"{account}-gcs-key"
        encoded = base64.b64encode(json.dumps(key).encode()).decode()
        if not self._create(
            "Secret",
            {"metadata": {"name": secret}, "type": "Opaque", "data": {GCS_KEY_FILE: encoded}},
        ):
            # A second credentials= for the same account means the new key, not the old one.
            self.cluster.core.patch_namespaced_secret(
                secret, self.namespace, {"data": {GCS_KEY_FILE: encoded}}
            )
        if not self._create(
            "ServiceAccount", {"metadata": {"name": account}, "secrets": [{"name": secret}]}
        ):
            self.cluster.core.patch_namespaced_service_account(
                account, self.namespace, {"secrets": [{"name": secret}]}
            )
        return account

    def _create(self, kind: str, body: dict[str, Any]) -> bool:
        """Create a Secret or ServiceAccount with the run's labels; True if created. One of
        that name already there is used as it is in the run's own namespace; in a shared one
        it must be this run's, or nothing is touched (DeployError)."""
        __tracebackhide__ = True  # its locals hold key material: never shown (-l)
        body["metadata"]["labels"] = {**(body["metadata"].get("labels") or {}), **self.labels}
        name = body["metadata"]["name"]
        create = (
            self.cluster.core.create_namespaced_secret
            if kind == "Secret"
            else self.cluster.core.create_namespaced_service_account
        )
        if create_unless_exists(create, self.namespace, body):
            self.created.append((kind, name))
            return True
        if self.shared and (kind, name) not in self.created:
            raise DeployError(
                f"{kind} {name} already exists in namespace {self.namespace} "
                "and was not created by this test: it was left untouched; pass "
                "another name (service_account=...)"
            )
        return False

    def delete_created(self, timeout: float = 60.0) -> list[str]:
        """Delete what this deployer created, InferenceServices first (waiting until they are
        gone, so a next test may reuse the name); returns what could not be deleted."""
        left = []
        for kind, name in sorted(self.created, key=lambda item: item[0] != "InferenceService"):
            try:
                namespaces.delete_object(self.cluster, self.namespace, kind, name)
            except ApiException as error:
                left.append(f"{kind} {name} (HTTP {error.status})")
        deadline = time.monotonic() + timeout
        for kind, name in self.created:
            while kind == "InferenceService" and time.monotonic() < deadline:
                try:
                    self.cluster.custom.get_namespaced_custom_object(
                        api.GROUP, api.VERSION, self.namespace, api.PLURAL, name
                    )
                except ApiException as error:
                    if error.status == 404:
                        break
                time.sleep(0.2)
        self.created.clear()
        return left


def _check_host_name(name: str, namespace: str, ingress: dict[str, str]) -> None:
    """KServe's domainTemplate puts the model and namespace into host names; a label over 63
    characters makes its controller refuse the model ("invalid domain name") after it was
    created: say so before creating it."""
    problem = isvc.host_name_problem(
        name,
        namespace,
        ingress.get("domainTemplate") or api.DEFAULT_DOMAIN_TEMPLATE,
        ingress.get("ingressDomain") or api.DEFAULT_INGRESS_DOMAIN,
    )
    if problem:
        raise DeployError(
            f"model name {name!r} is too long for namespace {namespace}: "
            f"{problem}; use a shorter name"
        )


def _api_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body).get("message", error.reason))
    except (TypeError, ValueError):
        return str(error.reason)
