"""Connect to a cluster (kubeconfig context or in-cluster) and check KServe is there."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader

from pytest_kfs.errors import ClusterError
from pytest_kfs.kserve import api
from pytest_kfs.untrusted import redacted

IN_CLUSTER_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_CONNECT_TIMEOUT = 5.0


def create_unless_exists(create: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Call a create; an object of that name already there (409) is fine. True if created."""
    __tracebackhide__ = True  # its locals hold key material: never shown (-l)
    try:
        create(*args, **kwargs)
    except ApiException as error:
        if error.status != 409:
            raise
        return False
    return True


@dataclass
class Cluster:
    """A connected cluster: API clients, where it is, and whether KServe is installed."""

    api_client: client.ApiClient
    context: str
    server: str
    server_version: str
    kserve_installed: bool
    kubeconfig: Path | None = None
    # Where the cluster's ingress gateway listens (requests carry the model's Host header).
    ingress: str | None = None
    # What KServe runs there, when known (e.g. "KServe v0.20.0, Standard mode").
    kserve_description: str | None = None

    @cached_property
    def core(self) -> client.CoreV1Api:
        """Core API (namespaces, pods, events, secrets, service accounts)."""
        return client.CoreV1Api(self.api_client)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        """Apps API (the predictor Deployments of KServe's Standard mode)."""
        return client.AppsV1Api(self.api_client)

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        """Custom objects API (InferenceServices and runtimes)."""
        return client.CustomObjectsApi(self.api_client)

    @cached_property
    def apiextensions(self) -> client.ApiextensionsV1Api:
        """CustomResourceDefinitions."""
        return client.ApiextensionsV1Api(self.api_client)

    @cached_property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        """Roles and bindings."""
        return client.RbacAuthorizationV1Api(self.api_client)

    @property
    def address(self) -> str:
        """The server's URL as messages show it: without a user or password in it."""
        return redacted(self.server)

    def describe(self) -> str:
        """One line for the terminal header."""
        kserve = self.kserve_description or (
            "KServe CRDs installed" if self.kserve_installed else "no KServe CRDs"
        )
        return f"{self.context} ({self.address}, Kubernetes {self.server_version}, {kserve})"


def _unreachable(server: str, error: BaseException) -> ClusterError:
    server = redacted(server)
    reason = error
    while reason.__cause__ or getattr(reason, "reason", None):
        nested = reason.__cause__ or reason.reason  # type: ignore[attr-defined]
        if not isinstance(nested, BaseException) or nested is reason:
            break
        reason = nested
    text = str(reason).split("\n")[0]
    if isinstance(reason, ApiException):  # status 0: the client wrapped a transport error
        text = " ".join(str(reason.reason).split())
    text = redacted(text)  # a transport error may quote the URL, password and all
    if isinstance(reason, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return ClusterError(
            f"TLS handshake with the API server {server} failed ({text}); the kubeconfig's "
            "certificate-authority does not match the server"
        )
    return ClusterError(
        f"cannot reach the API server {server}: {text}; check that the cluster is running and "
        "that this machine can reach it"
    )


def _probe(api_client: client.ApiClient, context: str) -> Cluster:
    server = api_client.configuration.host
    address = redacted(server)
    try:
        version = client.VersionApi(api_client).get_code(_request_timeout=_CONNECT_TIMEOUT)
    except ApiException as error:
        if not error.status:
            raise _unreachable(server, error) from None
        if error.status in (401, 403):
            raise ClusterError(
                f"the API server {address} rejected the credentials of context '{context}' "
                f"(HTTP {error.status} {error.reason}); refresh them, e.g. with the cloud "
                "provider's get-credentials command"
            ) from None
        raise ClusterError(
            f"the API server {address} answered HTTP {error.status} {error.reason} to /version"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _unreachable(server, error) from None
    return Cluster(
        api_client=api_client,
        context=context,
        server=server,
        server_version=version.git_version,
        kserve_installed=kserve_installed(api_client),
    )


def kserve_installed(api_client: client.ApiClient) -> bool:
    """Whether the cluster serves InferenceService (discovery; needs no special RBAC)."""
    try:
        resources = client.CustomObjectsApi(api_client).get_api_resources(
            api.GROUP, api.VERSION, _request_timeout=_CONNECT_TIMEOUT
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return any(resource.kind == "InferenceService" for resource in resources.resources)


def _no_retries(configuration: client.Configuration) -> client.Configuration:
    # A start-up check must fail in seconds, not after urllib3's silent retries.
    configuration.retries = False
    return configuration


def connect_context(context: str, kubeconfig: Path | None = None) -> Cluster:
    """Connect with a kubeconfig context; ClusterError if it is missing or unreachable."""
    where = str(kubeconfig) if kubeconfig else "the default kubeconfig (KUBECONFIG, ~/.kube/config)"
    if kubeconfig is not None and not kubeconfig.is_file():
        raise ClusterError(f"kubeconfig {kubeconfig} does not exist or is not a file")
    try:
        contexts, _ = config.list_kube_config_contexts(
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as error:
        detail = redacted(" ".join(str(error).split()))
        raise ClusterError(f"cannot read {where}: {detail}") from None
    names = sorted(entry["name"] for entry in contexts or [])
    if context not in names:
        available = ", ".join(names) if names else "none"
        raise ClusterError(
            f"kubeconfig context '{context}' not found in {where} (available: {available}); "
            "pass --kfs-cluster=<one of them>, or --kfs-kubeconfig=<file>"
        )
    configuration = _no_retries(client.Configuration())
    try:
        config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as error:
        detail = redacted(" ".join(str(error).split()))
        raise ClusterError(
            f"kubeconfig context '{context}' in {where} is unusable: {detail}"
        ) from None
    cluster = _probe(client.ApiClient(configuration), context)
    cluster.kubeconfig = kubeconfig
    return cluster


def connect_in_cluster(
    service_account_dir: Path = IN_CLUSTER_SA_DIR, environ: dict[str, str] | None = None
) -> Cluster:
    """Connect as the pod's service account (the nightly CronJob case)."""
    import os

    environ = dict(os.environ if environ is None else environ)
    if not environ.get("KUBERNETES_SERVICE_HOST"):
        raise ClusterError(
            "--kfs-cluster=in-cluster needs to run inside a pod: KUBERNETES_SERVICE_HOST is not "
            "set; use a kubeconfig context when running outside the cluster"
        )
    configuration = _no_retries(client.Configuration())
    try:
        InClusterConfigLoader(
            token_filename=str(service_account_dir / "token"),
            cert_filename=str(service_account_dir / "ca.crt"),
            environ=environ,
        ).load_and_set(configuration)
    except ConfigException as error:
        raise ClusterError(
            f"in-cluster config is incomplete: {redacted(str(error))}; is "
            "automountServiceAccountToken off for this pod?"
        ) from None
    return _probe(client.ApiClient(configuration), "in-cluster")
