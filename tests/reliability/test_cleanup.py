"""Nothing left behind: after a pass, a failure, Ctrl-C during a wait and an xdist worker
killed with SIGKILL; stale namespaces of earlier runs are swept after a TTL, and a namespace
without pytest-kfs's label is never touched. The inner runs use the session's embedded
cluster through its kubeconfig context, so what they leave can be seen afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
from kubernetes.client.rest import ApiException

from pytest_kfs.kube import namespaces

from ..integration.helpers import eventually


def standing(kfs_cluster, run_id: str) -> list[str]:
    """The run's namespaces that are not on their way out."""
    items = kfs_cluster.core.list_namespace(
        label_selector=f"{namespaces.RUN_ID_LABEL}={run_id}"
    ).items
    return [ns.metadata.name for ns in items if ns.metadata.deletion_timestamp is None]


def test_nothing_left_after_a_pass_and_a_failure(pytester, inner, kfs_cluster, run_id):
    pytester.makepyfile("""
        def test_passes(kfs_deploy):
            kfs_deploy("sklearn-iris")

        def test_fails(kfs_deploy):
            kfs_deploy("sklearn-iris")
            assert False, "on purpose"
    """)
    result = inner()
    result.assert_outcomes(passed=1, failed=1)
    assert standing(kfs_cluster, run_id) == []


def test_kept_on_failure_is_marked_and_listed(pytester, inner, kfs_cluster, run_id):
    pytester.makepyfile("""
        def test_fails(kfs_namespace):
            assert False, "on purpose"
    """)
    result = inner("--kfs-keep=on-failure")
    result.assert_outcomes(failed=1)
    kept = standing(kfs_cluster, run_id)
    assert len(kept) == 1
    result.stdout.fnmatch_lines([f"pytest-kfs: kept for inspection (--kfs-keep): {kept[0]}; *"])
    annotations = kfs_cluster.core.read_namespace(kept[0]).metadata.annotations
    assert annotations[namespaces.KEPT_ANNOTATION] == "failed"
    kfs_cluster.core.delete_namespace(kept[0])


@pytest.fixture
def silent_server():
    """A URL that accepts connections and never answers: a download there hangs, so the wait
    goes on. (A refused connection would not do: KServe reports the crashed initializer as
    FailedToLoad within a second, and the wait ends.)"""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/model.joblib"


def test_ctrl_c_during_a_wait_leaves_nothing(pytester, inner, kfs_cluster, run_id, silent_server):
    pytester.makepyfile(f"""
        def test_waits(kfs_deploy):
            kfs_deploy(storage_uri="{silent_server}",
                       model_format="sklearn").wait_loaded(timeout=120)
    """)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-v", *inner.args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "KFS_RUN_ID": run_id, "PYTHONUNBUFFERED": "1"},
    )
    output = []
    for line in process.stdout:
        output.append(line)
        if "storage-initializer=running" in line:  # mid-wait: the download has started
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=60)
    text = "".join(output) + rest
    assert process.returncode == 2, text  # interrupted
    assert "KeyboardInterrupt" in text
    assert standing(kfs_cluster, run_id) == [], text


def test_a_killed_xdist_worker_leaves_nothing(pytester, inner, kfs_cluster, run_id):
    pytester.makepyfile("""
        import os, signal

        def test_killed(kfs_namespace):
            os.kill(os.getpid(), signal.SIGKILL)

        def test_fine(kfs_namespace):
            pass
    """)
    result = inner("-p", "xdist", "-n", "2")
    result.stdout.fnmatch_lines(["*worker*crashed*"])
    assert standing(kfs_cluster, run_id) == []


@pytest.fixture
def planted(kfs_cluster):
    """Namespaces as other runs and other people left them."""
    tag = uuid.uuid4().hex[:6]
    old = str(int(time.time()) - 3 * 3600)
    plan = {
        f"stale-{tag}": (
            {namespaces.MANAGED_BY: namespaces.MANAGER, namespaces.RUN_ID_LABEL: "oldrun"},
            {namespaces.CREATED_ANNOTATION: old},
        ),
        f"fresh-{tag}": (
            {namespaces.MANAGED_BY: namespaces.MANAGER, namespaces.RUN_ID_LABEL: "otherrun"},
            {},
        ),
        f"kept-{tag}": (
            {namespaces.MANAGED_BY: namespaces.MANAGER, namespaces.RUN_ID_LABEL: "oldrun"},
            {namespaces.CREATED_ANNOTATION: old, namespaces.KEPT_ANNOTATION: "x"},
        ),
        f"users-{tag}": ({"team": "ml"}, {namespaces.CREATED_ANNOTATION: old}),
    }
    for name, (labels, notes) in plan.items():
        kfs_cluster.core.create_namespace(
            {
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {namespaces.CREATED_ANNOTATION: str(int(time.time())), **notes},
                }
            }
        )
    versions = {
        name: kfs_cluster.core.read_namespace(name).metadata.resource_version for name in plan
    }
    yield tag, versions
    for name in plan:
        with contextlib.suppress(ApiException):
            kfs_cluster.core.delete_namespace(name)


def _gone_or_going(kfs_cluster, name: str) -> bool:
    try:
        return kfs_cluster.core.read_namespace(name).metadata.deletion_timestamp is not None
    except ApiException as error:
        return error.status == 404


def test_stale_namespaces_are_swept_and_nothing_else(pytester, inner, kfs_cluster, planted):
    tag, versions = planted
    pytester.makepyfile("def test_x(kfs_cluster):\n    pass\n")
    result = inner("--kfs-sweep-ttl=2h")
    result.assert_outcomes(passed=1)
    eventually(lambda: _gone_or_going(kfs_cluster, f"stale-{tag}"), what="stale swept")
    for name in (f"fresh-{tag}", f"kept-{tag}", f"users-{tag}"):
        now = kfs_cluster.core.read_namespace(name).metadata
        assert now.deletion_timestamp is None, name
        assert now.resource_version == versions[name], f"{name} was changed"
    # Another run may have swept it first; if this one did, it says so.
    if "kfs sweep: deleted" in result.stdout.str():
        result.stdout.fnmatch_lines([f"kfs sweep: deleted * older than 120m: *stale-{tag}*"])


def test_sweep_off_and_young_namespaces_stay(pytester, inner, kfs_cluster):
    # 30 minutes old: no concurrent run on this cluster (TTL 1h or more) may take it either.
    name = f"aging-{uuid.uuid4().hex[:6]}"
    kfs_cluster.core.create_namespace(
        {
            "metadata": {
                "name": name,
                "labels": {
                    namespaces.MANAGED_BY: namespaces.MANAGER,
                    namespaces.RUN_ID_LABEL: "oldrun",
                },
                "annotations": {namespaces.CREATED_ANNOTATION: str(int(time.time()) - 1800)},
            }
        }
    )
    try:
        pytester.makepyfile("def test_x(kfs_cluster):\n    pass\n")
        inner("--kfs-sweep-ttl=off").assert_outcomes(passed=1)
        inner("--kfs-sweep-ttl=45m").assert_outcomes(passed=1)  # 30m old is not stale yet
        assert kfs_cluster.core.read_namespace(name).metadata.deletion_timestamp is None
        inner("--kfs-sweep-ttl=20m").assert_outcomes(passed=1)
        assert _gone_or_going(kfs_cluster, name)
    finally:
        with contextlib.suppress(ApiException):
            kfs_cluster.core.delete_namespace(name)


def test_a_namespace_without_our_label_is_never_taken(pytester, inner, kfs_cluster, run_id):
    module = pytester.makepyfile("def test_x(kfs_namespace):\n    pass\n")
    taken = namespaces.namespace_name(run_id, f"{module.name}::test_x")
    kfs_cluster.core.create_namespace({"metadata": {"name": taken, "labels": {"team": "ml"}}})
    before = kfs_cluster.core.read_namespace(taken).metadata.resource_version
    try:
        result = inner()
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [
                f"*pytest-kfs: namespace {taken} already exists and is "
                "not pytest-kfs's*left untouched*"
            ]
        )
        assert "Traceback" not in result.stdout.str()
        after = kfs_cluster.core.read_namespace(taken).metadata
        assert after.resource_version == before and after.deletion_timestamp is None
    finally:
        kfs_cluster.core.delete_namespace(taken)


def test_concurrent_runs_never_delete_each_others_namespaces(
    pytester, inner, kfs_cluster, run_id, monkeypatch
):
    # A long CI job (its namespace made to look 3 h old) holds a namespace while two other runs
    # start and end: one with the same KFS_RUN_ID (matrix jobs of one CI run), one with
    # another id sweeping with the default 1 h TTL.
    pytester.makepyfile(
        test_holds="""
        import time
        from pathlib import Path

        def test_holds(kfs_namespace, kfs_cluster):
            three_hours_ago = str(int(time.time()) - 3 * 3600)
            kfs_cluster.core.patch_namespace(str(kfs_namespace), {"metadata": {
                "annotations": {"pytest-kfs/created": three_hours_ago}}})
            Path("holding").write_text(str(kfs_namespace))
            deadline = time.time() + 150
            while not Path("release").exists() and time.time() < deadline:
                time.sleep(0.2)
            assert Path("release").exists(), "never released"
            ns = kfs_cluster.core.read_namespace(str(kfs_namespace))
            assert ns.metadata.deletion_timestamp is None, "deleted by another run"
    """,
        test_quick="def test_quick(kfs_namespace):\n    pass\n",
    )
    holder = subprocess.Popen(
        [sys.executable, "-m", "pytest", *inner.args, "test_holds.py"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "KFS_RUN_ID": run_id},
    )
    try:
        eventually(
            lambda: (pytester.path / "holding").exists(), timeout=120, what="the holder's namespace"
        )
        held = (pytester.path / "holding").read_text()
        inner("test_quick.py").assert_outcomes(passed=1)  # same KFS_RUN_ID
        inner("test_quick.py").assert_outcomes(passed=1)  # again: its last one still going
        monkeypatch.setenv("KFS_RUN_ID", f"{run_id}-b")
        other = pytester.runpytest_subprocess(
            *inner.args, "test_quick.py", "--kfs-sweep-ttl=1h", timeout=240
        )
        other.assert_outcomes(passed=1)
        assert held not in other.stdout.str(), "swept while in use"
        (pytester.path / "release").write_text("")
        output, _ = holder.communicate(timeout=120)
        assert holder.returncode == 0, output
        assert standing(kfs_cluster, run_id) == [] and standing(kfs_cluster, f"{run_id}-b") == []
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
