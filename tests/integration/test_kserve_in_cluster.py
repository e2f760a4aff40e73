"""A KServe release as a real cluster installs it (kind): the release's own config/default, with
only the documented changes, accepted by a real kube-apiserver (server-side dry run)."""

import base64

import pytest
import yaml
from cryptography import x509

from pytest_kfs.kube import apply
from pytest_kfs.local.assets import kserve_manifests, manifests_current
from pytest_kfs.local.kserve import in_cluster
from pytest_kfs.local.kserve.manifests import NAMESPACE
from pytest_kfs.local.kserve.releases import RELEASES, release
from pytest_kfs.local.pki import service_certificate


@pytest.fixture(params=sorted(RELEASES))
def built(request):
    wanted = release(request.param)
    if not manifests_current(wanted):
        pytest.skip(f"KServe {wanted.version} is not built (python -m pytest_kfs.local build)")
    return wanted, kserve_manifests(wanted)


@pytest.fixture(scope="module")
def certificate():
    return service_certificate(in_cluster.WEBHOOK_DNS_NAMES)


def _original(folder, path):
    return [doc for doc in yaml.safe_load_all((folder / path).read_text()) if doc]


def test_the_manager_runs_the_releases_image_without_the_metrics_proxy(built):
    wanted, folder = built
    objects = in_cluster.manager(folder, wanted)
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (original,) = [
        o for o in _original(folder, "config/manager/manager.yaml") if o["kind"] == "Deployment"
    ]
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["manager"]
    container = pod["containers"][0]
    assert container["image"] == f"kserve/kserve-controller:{wanted.version}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    # everything else as the release wrote it: args, probes, security, the certificate mount
    kept = original["spec"]["template"]["spec"]["containers"][0]
    for field in ("args", "command", "ports", "volumeMounts", "securityContext", "env"):
        assert container.get(field) == kept.get(field), field
    assert pod["serviceAccountName"] == in_cluster.MANAGER
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == in_cluster.WEBHOOK_SECRET
    assert all(o["metadata"]["namespace"] == NAMESPACE for o in objects)


def test_rbac_binds_the_managers_account_in_the_releases_namespace(built):
    _, folder = built
    objects = {o["kind"]: o for o in in_cluster.rbac(folder)}
    assert set(objects) == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    }
    for binding in ("ClusterRoleBinding", "RoleBinding"):
        (subject,) = objects[binding]["subjects"]
        assert subject == {
            "kind": "ServiceAccount",
            "name": in_cluster.MANAGER,
            "namespace": NAMESPACE,
        }
    assert "namespace" not in objects["ClusterRole"]["metadata"]
    assert objects["Role"]["metadata"]["namespace"] == NAMESPACE


def test_webhooks_call_the_service_and_trust_the_certificate_it_serves(built, certificate):
    _, folder = built
    configurations = in_cluster.webhook_configurations(folder, certificate.ca_cert)
    originals = _original(folder, "config/webhook/manifests.yaml")
    assert [c["metadata"]["name"] for c in configurations] == [
        o["metadata"]["name"] for o in originals
    ]
    ca = x509.load_pem_x509_certificate(certificate.ca_cert)
    served = x509.load_pem_x509_certificate(certificate.cert)
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    service = in_cluster.webhook_service(folder)
    dns = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert dns in names.get_values_for_type(x509.DNSName)
    for mine, original in zip(configurations, originals, strict=True):
        for hook, kept in zip(mine["webhooks"], original["webhooks"], strict=True):
            config = hook["clientConfig"]
            assert config["service"] == {
                "name": service["metadata"]["name"],
                "namespace": NAMESPACE,
                "path": kept["clientConfig"]["service"]["path"],
            }
            assert base64.b64decode(config["caBundle"]) == certificate.ca_cert
            assert hook["rules"] == kept["rules"]
            assert hook.get("failurePolicy") == kept.get("failurePolicy")


def test_the_webhook_secret_has_cert_managers_keys(certificate):
    secret = in_cluster.webhook_secret(certificate)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {
        "name": in_cluster.WEBHOOK_SECRET,
        "namespace": NAMESPACE,
        "labels": in_cluster.LABELS,
    }
    decoded = {key: base64.b64decode(value) for key, value in secret["data"].items()}
    assert decoded == {
        "tls.crt": certificate.cert,
        "tls.key": certificate.key,
        "ca.crt": certificate.ca_cert,
    }


def test_a_real_api_server_accepts_every_object(built, certificate, kfs_cluster):
    """Server-side apply, dry run, against the embedded cluster's kube-apiserver: the schemas
    (Deployment, RBAC, webhooks, Secret, Service) are checked for real, nothing is stored."""
    wanted, folder = built
    # The embedded cluster has webhooks of these names already (called by URL, set by another
    # field manager): the same configurations are checked under names of their own.
    webhooks = in_cluster.webhook_configurations(folder, certificate.ca_cert)
    for configuration in webhooks:
        configuration["metadata"]["name"] += ".kfs-dry-run"
    objects = [
        in_cluster.namespace(),
        *in_cluster.rbac(folder),
        in_cluster.webhook_secret(certificate),
        in_cluster.webhook_service(folder),
        *in_cluster.manager(folder, wanted),
        *webhooks,
    ]
    apply.apply(kfs_cluster.api_client, objects, dry_run=True)
    accounts = kfs_cluster.core.list_namespaced_service_account(NAMESPACE).items
    assert in_cluster.MANAGER not in {account.metadata.name for account in accounts}
