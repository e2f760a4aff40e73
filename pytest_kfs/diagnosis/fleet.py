"""Read once, check many: the running InferenceServices of a nightly run, and the evidence
about them, read with one LIST per kind for the whole run.

A nightly over a thousand models must not cost a thousand times a handful of requests. The
snapshot lists each kind once — cluster-wide, or per selected namespace when RBAC is
namespaced — and serves every model's evidence and preflight from memory. Only what is
specific to a stuck model is read per model: its containers' logs. Where a LIST is refused,
the snapshot falls back to reading the objects it needs one by one (each once), and says so.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes.client.rest import ApiException

from pytest_kfs.diagnosis.evidence import (
    Evidence,
    credential_secret_names,
    events_about,
    gcs_key_file,
    missing_secret,
    newest_first,
    read_logs,
    serving_account_name,
)
from pytest_kfs.diagnosis.preflight import (
    GKE_NODE_LABEL,
    GoogleAccess,
    GoogleChecks,
    Prediction,
    predict_in,
)
from pytest_kfs.errors import FleetUnreadable
from pytest_kfs.gcp.identity import (
    ServingIdentity,
    identity_of_account,
    service_account_summary,
    summarize_secret,
)
from pytest_kfs.kserve import api
from pytest_kfs.kserve.api import ISVC_LABEL
from pytest_kfs.kserve.selection import ExistingSelection
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.kube.kserve_config import read_kserve_config
from pytest_kfs.once import Once

# One page per LIST: a thousand pods fit; ten thousand take a few pages (still per kind).
PAGE = 5000
# Secrets that never hold KServe credentials, and can be large (Helm keeps releases there).
_SECRET_FIELDS = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token"
_TRANSIENT = {429, 500, 502, 503, 504}
_ATTEMPTS = 4
# What reading the cluster may raise: refusals, and no answer at all.
READ_ERRORS: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError, OSError)
# Google's APIs are asked by this many threads at most, for at most this many models ahead.
GOOGLE_CONCURRENCY = 8
READ_AHEAD = 4 * GOOGLE_CONCURRENCY

Key = tuple[str, str]  # (namespace, name)


@dataclass
class _Kind:
    """One kind's objects by namespace, and whether it was read."""

    by_namespace: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    listed: bool = False
    gap: str = ""  # why it was not listed
    complete: bool = True  # False: listed with a filter, so a name not found is read by name

    def of(self, namespace: str) -> list[dict[str, Any]]:
        return self.by_namespace.get(namespace, [])


@dataclass(repr=False)
class Fleet:
    """The selected InferenceServices and everything their checks read, from one read."""

    cluster: Cluster
    selection: ExistingSelection
    models: dict[Key, dict[str, Any]] = field(default_factory=dict)
    pods: _Kind = field(default_factory=_Kind)
    events: _Kind = field(default_factory=_Kind)
    accounts: _Kind = field(default_factory=_Kind)
    secrets: _Kind = field(default_factory=lambda: _Kind(complete=False))
    runtimes: _Kind = field(default_factory=_Kind)
    cluster_runtimes: list[dict[str, Any]] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    _fetched: Once[dict[str, Any] | None] = field(default_factory=Once)
    _gke: Once[bool | None] = field(default_factory=Once)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None
    _predictions: dict[Key, Future[Prediction]] = field(default_factory=dict)
    _google: tuple[GoogleAccess, GoogleChecks] | None = None
    # The models in key order, and each one's place in it (both made once, by read()).
    _keys: list[Key] = field(default_factory=list)
    _order: dict[Key, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        # A traceback shows fixtures by repr: never the whole fleet (that made each failure
        # cost O(models), and a 10,000-model nightly quadratic).
        return (
            f"Fleet({self.cluster.context}, {self.selection.describe()}, {len(self.models)} models)"
        )

    # -- reading ----------------------------------------------------------------------------

    def _page(self, url: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        """One page of a LIST, as plain data (the client's model objects cost more than the
        request for thousands of items); retried briefly when the API server did not answer."""
        api = self.cluster.api_client
        for attempt in range(_ATTEMPTS):
            try:
                request = api.param_serialize(
                    "GET",
                    url,
                    query_params=params,
                    header_params={"Accept": "application/json"},
                    auth_settings=["BearerToken"],
                )
                response = api.call_api(*request, _request_timeout=60)
                data = response.read()
            except (urllib3.exceptions.HTTPError, OSError):
                if attempt + 1 == _ATTEMPTS:
                    raise
                time.sleep(0.5 * 2**attempt)
                continue
            if response.status in _TRANSIENT and attempt + 1 < _ATTEMPTS:
                time.sleep(0.5 * 2**attempt)
                continue
            if not 200 <= response.status < 300:
                raise ApiException.from_response(
                    http_resp=response, body=data.decode("utf-8", "replace"), data=None
                )
            return dict(json.loads(data))
        raise AssertionError("unreachable")

    def _list(
        self, path: str, namespace: str | None, **query: str
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of one LIST (`path` is under /api/v1 or /apis/...), one at a time: a
        cluster's secrets or events are never all held at once."""
        token = ""
        group_path, _, resource = path.rpartition("/")
        url = f"{group_path}/namespaces/{namespace}/{resource}" if namespace else path
        while True:
            params = [("limit", str(PAGE)), *query.items()] + (
                [("continue", token)] if token else []
            )
            body = self._page(url, params)
            yield list(body.get("items") or [])
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def _read_kind(
        self,
        kind: _Kind,
        what: str,
        path: str,
        namespaces: Iterable[str],
        keep: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda item: item,
        **query: str,
    ) -> None:
        """List the kind cluster-wide, or in each selected namespace (a namespaced Role is
        enough then). Refused or unanswered, it stays unlisted (a gap), and what a check needs
        of it is read object by object, each once."""
        scopes: list[str | None] = list(namespaces) if self.selection.namespaces else [None]
        wanted = {namespace for namespace, _ in self.models}
        try:
            for scope in scopes:
                for page in self._list(path, scope, **query):
                    for item in page:
                        namespace = item["metadata"].get("namespace", "")
                        kept = keep(item) if namespace in wanted else None
                        if kept is not None:
                            kind.by_namespace.setdefault(namespace, []).append(kept)
        except READ_ERRORS as error:
            kind.by_namespace.clear()  # a half-read kind is not evidence
            kind.gap = f"{what}: {_why(error)}"
            self.gaps.append(kind.gap)
            return
        kind.listed = True

    def read(self) -> Fleet:
        """Read every kind once (the InferenceServices first: they say which namespaces
        matter)."""
        selection = self.selection
        if selection.name:
            namespace = selection.namespaces[0]
            try:
                obj = self.cluster.custom.get_namespaced_custom_object(
                    api.GROUP, api.VERSION, namespace, api.PLURAL, selection.name
                )
                self.models[(namespace, selection.name)] = obj
            except ApiException as error:
                if error.status != 404:
                    raise FleetUnreadable(self._unreadable(error)) from None
            except READ_ERRORS as error:
                raise FleetUnreadable(self._unreadable(error)) from None
        else:
            path = f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}"
            query = {"labelSelector": selection.selector} if selection.selector else {}
            try:
                for scope in selection.namespaces or (None,):
                    for page in self._list(path, scope, **query):
                        for obj in page:
                            meta = obj["metadata"]
                            self.models[(meta["namespace"], meta["name"])] = obj
            except READ_ERRORS as error:
                raise FleetUnreadable(self._unreadable(error)) from None
        self._keys = sorted(self.models)
        self._order = {key: index for index, key in enumerate(self._keys)}
        namespaces = sorted({namespace for namespace, _ in self.models})
        if not self.models:
            return self
        self._read_kind(self.pods, "pods", "/api/v1/pods", namespaces, labelSelector=ISVC_LABEL)
        self._read_kind(self.events, "events", "/api/v1/events", namespaces)
        self._read_kind(self.accounts, "service accounts", "/api/v1/serviceaccounts", namespaces)
        needed = self._secret_names()
        self._read_kind(
            self.secrets,
            "secrets",
            "/api/v1/secrets",
            namespaces,
            keep=lambda item: _only_needed(item, needed),
            fieldSelector=_SECRET_FIELDS,
        )
        self._read_kind(
            self.runtimes,
            "serving runtimes",
            "/apis/serving.kserve.io/v1alpha1/servingruntimes",
            namespaces,
        )
        try:
            self.cluster_runtimes = [
                item
                for page in self._list(
                    "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes", None
                )
                for item in page
            ]
        except READ_ERRORS as error:
            self.gaps.append(f"cluster serving runtimes: {_why(error)}")
        self.config = read_kserve_config(self.cluster, self.gaps)
        return self

    def _unreadable(self, error: BaseException) -> str:
        return (
            f"--kfs-existing cannot read the InferenceServices of "
            f"{self.selection.describe()} on context '{self.cluster.context}': "
            f"{_why(error)}"
        )

    def _secret_names(self) -> set[Key]:
        """(namespace, name) of every secret a selected model may take credentials from."""
        names: set[Key] = set()
        for (namespace, _), obj in self.models.items():
            evidence = Evidence(isvc=obj)
            with contextlib.suppress(*READ_ERRORS):  # unreadable: its secrets are read later
                evidence.service_account = self._account(namespace, serving_account_name(obj))
            names.update((namespace, name) for name in credential_secret_names(evidence))
        return names

    def _fetch(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object by name, once even when predictions ask for it at the same time (None:
        it does not exist); an error reading it raises, and the next asker reads again."""
        read = {
            "serviceaccount": self.cluster.core.read_namespaced_service_account,
            "secret": self.cluster.core.read_namespaced_secret,
        }[kind]

        def fetch() -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = self.cluster.api_client.sanitize_for_serialization(
                    read(name, namespace, _request_timeout=30)
                )
            except ApiException as error:
                if error.status != 404:
                    raise
                return None
            return found

        return self._fetched.get((kind, namespace, name), fetch)

    def _named(
        self, kind: _Kind, fetch_kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        """An object of a kind by name: from the snapshot, else read by name (a kind not
        listed, or listed with a filter that may have left it out). Raises READ_ERRORS."""
        if kind.listed:
            found = next(
                (item for item in kind.of(namespace) if item["metadata"]["name"] == name), None
            )
            if found is not None or kind.complete:
                return found
        return self._fetch(fetch_kind, namespace, name)

    def _account(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self._named(self.accounts, "serviceaccount", namespace, name)
        return service_account_summary(found) if found is not None else None

    # -- serving checks -----------------------------------------------------------------------

    def keys(self) -> list[Key]:
        """The selected InferenceServices, sorted."""
        return self._keys

    def evidence(self, namespace: str, name: str, with_logs: bool) -> Evidence:
        """What `collect` would read for this model, from the snapshot; logs (read now, the
        only per-model requests) when `with_logs`."""
        obj = self.models[(namespace, name)]
        evidence = Evidence(isvc=obj, config=self.config, gaps=list(self.gaps))
        evidence.unread = {
            kind
            for kind, listed in (
                ("pods", self.pods.listed),
                ("events", self.events.listed),
                ("runtimes", self.runtimes.listed),
            )
            if not listed
        }
        pods = [
            pod
            for pod in self.pods.of(namespace)
            if (pod["metadata"].get("labels") or {}).get(ISVC_LABEL) == name
        ]
        evidence.pods = newest_first(pods)
        evidence.events = events_about(self.events.of(namespace), name, evidence.pods)
        evidence.service_account_name = serving_account_name(obj)
        try:
            evidence.service_account = self._account(namespace, evidence.service_account_name)
        except READ_ERRORS as error:
            evidence.unread.add("service account")
            evidence.gaps.append(f"service account {evidence.service_account_name}: {_why(error)}")
        for secret in credential_secret_names(evidence):
            try:
                found = self._named(self.secrets, "secret", namespace, secret)
            except READ_ERRORS as error:
                evidence.gaps.append(f"secret {secret}: {_why(error)}")
                continue
            if found is None:
                missing_secret(evidence, secret)
            else:
                evidence.secrets[secret] = summarize_secret(
                    secret, found.get("data"), gcs_key_file(self.config)
                )
        evidence.runtimes = sorted(
            r["metadata"]["name"]
            for r in self.runtimes.of(namespace) + (self.cluster_runtimes or [])
        )
        if with_logs and self.pods.listed:
            read_logs(self.cluster, namespace, evidence)
        else:
            evidence.unread.add("logs")
        return evidence

    # -- preflight's view ------------------------------------------------------------------

    def runtimes_of(self, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """ClusterView.runtimes from the snapshot."""
        if not self.runtimes.listed or self.cluster_runtimes is None:
            raise ApiException(status=403, reason="serving runtimes could not be listed")
        return (
            {r["metadata"]["name"]: r["spec"] for r in self.runtimes.of(namespace)},
            {r["metadata"]["name"]: r["spec"] for r in self.cluster_runtimes},
        )

    def identity_of(
        self, namespace: str, account: str
    ) -> tuple[ServingIdentity, dict[str, str] | None] | None:
        """ClusterView.identity from the snapshot."""
        summary = self._account(namespace, account)
        if summary is None:
            return None
        data: dict[str, dict[str, str]] = {}
        for name in summary["secrets"]:
            try:
                found = self._named(self.secrets, "secret", namespace, name)
            except READ_ERRORS:
                continue  # as a live read does: an unreadable secret is not KServe's choice
            if found is not None:
                data[name] = found.get("data") or {}
        return identity_of_account(summary, data)

    def gke(self) -> bool | None:
        """ClusterView.on_gke: nodes listed once (None: they cannot be)."""

        def listed() -> bool | None:
            try:
                return any(
                    GKE_NODE_LABEL in (node["metadata"].get("labels") or {})
                    for page in self._list("/api/v1/nodes", None)
                    for node in page
                )
            except READ_ERRORS:
                return None

        return self._gke.get("nodes", listed)

    def use_google(self, access: GoogleAccess, checks: GoogleChecks) -> None:
        """Ask Google with `access` from now on, GOOGLE_CONCURRENCY requests at a time; one
        `checks` for the run, so each (principal, bucket, prefix) is asked once."""
        self._google = (access, checks)
        self._pool = ThreadPoolExecutor(GOOGLE_CONCURRENCY, thread_name_prefix="kfs-fleet")

    def ask(self, namespace: str, name: str) -> None:
        """Start the model's preflight in the background (a GCS model; once), and the next
        READ_AHEAD models' too: tests come in key order, so Google answers before they ask
        (under xdist a worker runs a stretch of models it cannot know in advance)."""
        with self._lock:
            if self._pool is None or self._google is None:
                return
            start = self._order[(namespace, name)]
            for key in self._keys[start : start + 1 + READ_AHEAD]:
                if key in self._predictions:
                    continue
                config = ModelSpec.from_isvc(self.models[key])
                if config.is_gcs:
                    self._predictions[key] = self._pool.submit(
                        _predict, _FleetView(self), key[0], config, *self._google
                    )

    def prediction(self, namespace: str, name: str) -> Prediction | None:
        """The model's preflight (None: not a GCS model)."""
        self.ask(namespace, name)
        future = self._predictions.get((namespace, name))
        return future.result() if future is not None else None

    def close(self) -> None:
        """Stop asking Google (a run interrupted does not wait for the rest)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _FleetView:
    """The fleet snapshot as preflight's ClusterView."""

    fleet: Fleet

    def runtimes(self, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.fleet.runtimes_of(namespace)

    def identity(
        self, namespace: str, account: str
    ) -> tuple[ServingIdentity, dict[str, str] | None] | None:
        return self.fleet.identity_of(namespace, account)

    def on_gke(self) -> bool | None:
        return self.fleet.gke()


def _predict(
    view: _FleetView, namespace: str, config: ModelSpec, access: GoogleAccess, checks: GoogleChecks
) -> Prediction:
    """predict_in, with whatever went wrong as an unknown answer (never a traceback)."""
    try:
        return predict_in(view, namespace, config, access, checks)
    except Exception as error:  # an API or network failure the checks did not expect
        return Prediction("unknown", reason=_unexpected(error))


def _unexpected(error: Exception) -> str:
    """An error nothing expected, with where it was raised (a report can point at the bug)."""
    if isinstance(error, ApiException):
        return _why(error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {str(error)[:200]}{where}"


def _why(error: BaseException) -> str:
    """An error in a few words: `HTTP 403 Forbidden`, or its type."""
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}"
    return f"no answer ({type(error).__name__})"


def _only_needed(secret: dict[str, Any], needed: set[Key]) -> dict[str, Any] | None:
    """A listed secret is kept only when a selected model may use it: the rest of the
    cluster's secrets are not held in memory (one needed after all is read by name)."""
    meta = secret["metadata"]
    if (meta.get("namespace", ""), meta["name"]) not in needed:
        return None
    return {
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
        "data": secret.get("data") or {},
    }


def read_fleet(cluster: Cluster, selection: ExistingSelection) -> Fleet:
    """The selected InferenceServices and their evidence, one LIST per kind."""
    return Fleet(cluster, selection).read()
