"""The kind target end to end, through real pytest with the plugin: a run with
`--kfs-cluster=kind:NAME --kfs-kind-create` creates the cluster on podman and installs KServe; a
test deploys a plain Deployment and Service, gets the pod Running with a pod IP, reaches it by
its Service name from another pod (CoreDNS, kube-proxy); another has KServe's own manager, in a
real pod, admit an InferenceService through its webhooks and reconcile it into a predictor
Deployment; the cluster is gone after the run. A found cluster without KServe gets it with
`--kfs-kind-install`. Each way it cannot start is one line."""

import subprocess
import textwrap

import pytest

from tests.kind.conftest import PROBE_IMAGE, kind_clusters, kind_env

pytestmark = pytest.mark.kind

USAGE_ERROR = 4

# etcd serves HTTP (GET /version) and is preloaded in the node image: nothing is pulled.
INNER = textwrap.dedent(
    """
    import os
    import subprocess
    import time

    from kubernetes import client

    ETCD = "registry.k8s.io/etcd:3.6.5-0"


    def wait(what, check, seconds=120):
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found:
                return found
            assert time.monotonic() < deadline, f"{what} within {seconds} s"
            time.sleep(1)


    def test_a_service_is_reached_by_name_from_another_pod(kfs_cluster):
        core, apps = kfs_cluster.core, kfs_cluster.apps
        assert [n.metadata.name for n in core.list_node().items] == ["CLUSTER-control-plane"]
        labels = {"app": "web"}
        container = client.V1Container(
            name="etcd",
            image=ETCD,
            image_pull_policy="Never",
            command=["etcd", "--data-dir=/tmp/e", "--listen-client-urls=http://0.0.0.0:2379",
                     "--advertise-client-urls=http://web:2379"],
        )
        apps.create_namespaced_deployment("default", client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=1,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[container]),
                ),
            ),
        ))
        core.create_namespaced_service("default", client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                selector=labels, ports=[client.V1ServicePort(port=80, target_port=2379)]
            ),
        ))

        def running():
            pods = core.list_namespaced_pod("default", label_selector="app=web").items
            ok = [p for p in pods if p.status.phase == "Running" and p.status.pod_ip]
            return ok[0] if ok else None

        daemonsets = apps.list_namespaced_daemon_set("kube-system").items
        assert "kindnet" not in [d.metadata.name for d in daemonsets]  # disableDefaultCNI
        pod = wait("the web pod Running with a pod IP", running)
        assert pod.status.pod_ip.startswith("10.244.0.")
        print("web pod", pod.metadata.name, pod.status.pod_ip)

        subprocess.run(
            ["kind", "load", "image-archive", os.environ["KFS_PROBE_ARCHIVE"],
             "--name", "CLUSTER"], check=True,
        )
        core.create_namespaced_pod("default", client.V1Pod(
            metadata=client.V1ObjectMeta(name="probe"),
            spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
                name="probe", image="PROBE_IMAGE_NAME", image_pull_policy="Never",
                command=["/kfs-probe", "web", "/version"],
            )]),
        ))

        def finished():
            phase = core.read_namespaced_pod("probe", "default").status.phase
            return phase if phase in ("Succeeded", "Failed") else None

        phase = wait("the probe pod finished", finished, 90)
        log = core.read_namespaced_pod_log("probe", "default")
        print(log)
        cluster_ip = core.read_namespaced_service("web", "default").spec.cluster_ip
        assert phase == "Succeeded", log
        assert f"resolved web -> [{cluster_ip}]" in log
        assert "GET /version: 200" in log and "etcdserver" in log


    def test_kserve_admits_and_reconciles_a_model_on_the_node(kfs_cluster):
        core, apps, custom = kfs_cluster.core, kfs_cluster.apps, kfs_cluster.custom
        manager = apps.read_namespaced_deployment("kserve-controller-manager", "kserve")
        assert manager.status.available_replicas == 1
        image = manager.spec.template.spec.containers[0].image
        assert image.startswith("kserve/kserve-controller:v"), image
        custom.create_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", "default", "inferenceservices",
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "iris"},
                "spec": {"predictor": {"model": {
                    "modelFormat": {"name": "sklearn"},
                    "storageUri": "gs://kfs-samples/models/sklearn/1.0/model",
                }}},
            },
        )
        # The mutating webhook answered: the stored object carries KServe's defaults.
        stored = custom.get_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", "default", "inferenceservices", "iris"
        )
        annotations = stored["metadata"].get("annotations") or {}
        assert annotations.get("serving.kserve.io/deploymentMode") == "Standard", annotations

        def predictor():
            found = apps.list_namespaced_deployment(
                "default", label_selector="serving.kserve.io/inferenceservice=iris"
            ).items
            return found[0] if found else None

        deployment = wait("KServe's controller made the predictor Deployment", predictor)
        print("predictor", deployment.metadata.name)

        def initializer_started():
            pods = core.list_namespaced_pod(
                "default", label_selector="serving.kserve.io/inferenceservice=iris"
            ).items
            for pod in pods:
                # KServe's pod mutator (a webhook) injected the initializer at pod creation
                init = pod.spec.init_containers or []
                assert [c.name for c in init] == ["storage-initializer"], init
                assert init[0].image == "kserve/storage-initializer:v0.20.0", init[0].image
                for status in pod.status.init_container_statuses or ():
                    state = status.state
                    if state.running or state.terminated or status.restart_count:
                        return pod.metadata.name
                    if state.waiting and "Image" in (state.waiting.reason or ""):
                        raise AssertionError(f"the initializer's image: {state.waiting}")
            return None

        # KServe's own storage-initializer image, built here, runs in the real pod: its first
        # log line is the entrypoint's (no Google is reachable from pods yet: it fails after).
        pod = wait("the storage-initializer started", initializer_started, 180)

        def logged():
            try:
                log = core.read_namespaced_pod_log(pod, "default", container="storage-initializer")
            except client.ApiException:
                return None
            return log if "Initializing, args" in log else None

        print(wait("the initializer's first log line", logged, 120))
    """
)


def test_a_created_cluster_serves_a_service_by_name_and_is_gone_after_the_run(
    pytester, probe_archive, monkeypatch
):
    name = "kfs-t"
    assert name not in kind_clusters(), f"kind cluster {name} exists before the test"
    monkeypatch.setenv("KFS_PROBE_ARCHIVE", str(probe_archive))
    monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "podman")  # for the inner `kind load`
    pytester.makepyfile(INNER.replace("CLUSTER", name).replace("PROBE_IMAGE_NAME", PROBE_IMAGE))
    try:
        result = pytester.runpytest_subprocess(
            f"--kfs-cluster=kind:{name}",
            "--kfs-kind-create",
            "-p",
            "no:cacheprovider",
            "-s",
            timeout=900,
        )
        output = result.stdout.str() + result.stderr.str()
        result.assert_outcomes(passed=2)
        assert f"installing KServe v0.20.0 into kind cluster '{name}'" in output, output
        assert name not in kind_clusters(), "the run did not delete the cluster it created"
    finally:
        if name in kind_clusters():
            subprocess.run(["kind", "delete", "cluster", "--name", name], env=kind_env())


KEPT_INNER = textwrap.dedent(
    """
    def test_connects(kfs_cluster):
        names = [n.metadata.name for n in kfs_cluster.core.list_node().items]
        assert names == ["CLUSTER-control-plane"]
    """
)


def test_a_kept_cluster_outlives_its_run_and_a_found_one_is_used_never_deleted(pytester):
    name = "kfs-kept"
    assert name not in kind_clusters(), f"kind cluster {name} exists before the test"
    pytester.makepyfile(KEPT_INNER.replace("CLUSTER", name))
    args = (f"--kfs-cluster=kind:{name}", "--kfs-kind-create", "-p", "no:cacheprovider")
    try:
        kept = pytester.runpytest_subprocess(*args, "--kfs-keep=always", timeout=600)
        kept.assert_outcomes(passed=1)
        assert f"kept kind cluster '{name}' (--kfs-keep)" in kept.stderr.str()
        assert name in kind_clusters()
        # It exists now, with the KServe the first run installed: used as it is, and kept.
        found = pytester.runpytest_subprocess(*args, timeout=300)
        found.assert_outcomes(passed=1)
        assert "installing KServe" not in found.stdout.str() + found.stderr.str()
        assert name in kind_clusters(), "the run deleted a cluster it did not create"
    finally:
        if name in kind_clusters():
            subprocess.run(["kind", "delete", "cluster", "--name", name], env=kind_env())


def test_a_found_cluster_without_kserve_says_how_and_gets_it_with_kind_install(pytester):
    from pytest_kfs.kindnode import base
    from pytest_kfs.kube.kind import NO_DEFAULT_CNI_CONFIG

    name = "kfs-bare"
    assert name not in kind_clusters(), f"kind cluster {name} exists before the test"
    config = pytester.path / "kind.yaml"
    config.write_text(NO_DEFAULT_CNI_CONFIG)
    pytester.makepyfile(KEPT_INNER.replace("CLUSTER", name))
    args = (f"--kfs-cluster=kind:{name}", "-p", "no:cacheprovider")
    try:
        subprocess.run(
            [
                "kind",
                "create",
                "cluster",
                "--name",
                name,
                "--image",
                base.IMAGE,
                "--config",
                str(config),
            ],
            env=kind_env(),
            check=True,
            capture_output=True,
            timeout=600,
        )
        bare = pytester.runpytest_subprocess(*args, timeout=300)
        line = _one_clear_line(bare, f"KServe is not installed on kind cluster '{name}'")
        assert "--kfs-kind-install" in line and "https://127.0.0.1:" in line, line
        installed = pytester.runpytest_subprocess(*args, "--kfs-kind-install", timeout=600)
        installed.assert_outcomes(passed=1)
        assert name in kind_clusters(), "the run deleted a cluster it did not create"
    finally:
        if name in kind_clusters():
            subprocess.run(["kind", "delete", "cluster", "--name", name], env=kind_env())


def _one_clear_line(result, expected):
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == USAGE_ERROR, output
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, output
    assert expected in errors[0], errors[0]
    assert "Traceback" not in output
    return errors[0]


def test_a_node_image_that_is_not_there_is_one_line(pytester):
    pytester.makepyfile("def test_x(kfs_cluster):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=kind:kfs-noimage",
        "--kfs-kind-create",
        "--kfs-kind-image=localhost/pytest-kfs/no-such-node:v0",
        "-p",
        "no:cacheprovider",
    )
    _one_clear_line(
        result, "the kind node image localhost/pytest-kfs/no-such-node:v0 is not in podman"
    )
    assert "kfs-noimage" not in kind_clusters()


def test_a_name_already_in_use_is_one_line_and_the_other_container_is_left(pytester):
    from pytest_kfs.kindnode import base

    holder = "kfs-busy-control-plane"  # the node container kind would make for kfs-busy
    subprocess.run(["podman", "rm", "-f", holder], capture_output=True)
    subprocess.run(["podman", "create", "--name", holder, base.IMAGE], check=True)
    try:
        pytester.makepyfile("def test_x(kfs_cluster):\n    pass\n")
        result = pytester.runpytest_subprocess(
            "--kfs-cluster=kind:kfs-busy",
            "--kfs-kind-create",
            "-p",
            "no:cacheprovider",
            timeout=300,
        )
        line = _one_clear_line(result, "`kind create cluster --name kfs-busy` failed")
        assert "already in use" in line or "already exist" in line, line
        assert subprocess.run(["podman", "container", "exists", holder]).returncode == 0
        assert "kfs-busy" not in kind_clusters()
    finally:
        subprocess.run(["podman", "rm", "-f", holder], capture_output=True)


def test_no_engine_answering_is_one_line(pytester, monkeypatch):
    monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "docker")  # its daemon does not run here
    pytester.makepyfile("def test_x(kfs_cluster):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=kind:kfs-noengine", "--kfs-kind-create", "-p", "no:cacheprovider"
    )
    _one_clear_line(result, "kind cannot talk to a container engine")
