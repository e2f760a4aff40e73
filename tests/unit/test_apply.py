"""Server-side apply's REST paths, as kubectl computes them for each kind an install uses."""

import pytest

from pytest_kfs.kube.apply import path_of


@pytest.mark.parametrize(
    ("manifest", "path"),
    [
        (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kserve"}},
            "/api/v1/namespaces/kserve",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "kserve-controller-manager", "namespace": "kserve"},
            },
            "/apis/apps/v1/namespaces/kserve/deployments/kserve-controller-manager",
        ),
        (
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "inferenceservice.serving.kserve.io"},
            },
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/"
            "inferenceservice.serving.kserve.io",
        ),
        (
            {
                "apiVersion": "serving.kserve.io/v1alpha1",
                "kind": "ClusterServingRuntime",
                "metadata": {"name": "kserve-sklearnserver"},
            },
            "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/kserve-sklearnserver",
        ),
    ],
)
def test_paths_follow_group_version_scope_and_plural(manifest, path):
    assert path_of(manifest) == path


def test_a_kind_not_listed_is_refused_by_name():
    with pytest.raises(ValueError, match="cannot apply a Gateway"):
        path_of({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway"})
