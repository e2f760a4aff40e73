"""API faults during a wait, made for real: a restarted kube-apiserver, and a proxy that drops
watches, expires them (410), throttles (429 + Retry-After), fails (500/503) and slows down.
The verdict must stay right, and no wait may outlive its deadline."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from pytest_kfs.deploy import Deployer, ModelHandle, ModelNotLoaded
from pytest_kfs.kserve.status import Verdict
from pytest_kfs.local.scenarios import scenario, seed_samples

pytestmark = pytest.mark.xdist_group("own-cluster")


@pytest.fixture
def namespace(direct_cluster, own_gcp):
    seed_samples(own_gcp)
    name = f"fault-{uuid.uuid4().hex[:8]}"
    direct_cluster.core.create_namespace({"metadata": {"name": name}})
    yield name
    direct_cluster.core.delete_namespace(name)


def deploy_scenario(direct_cluster, gcp, namespace: str, name: str = "healthy") -> None:
    plan = scenario(name).arrange_namespace(direct_cluster.core, namespace, gcp)
    Deployer(direct_cluster, namespace, 60)(
        name="model",
        storage_uri=plan.storage_uri,
        model_format=plan.model_format,
        service_account=plan.service_account,
    )


@pytest.fixture
def healthy(direct_cluster, own_gcp, namespace) -> str:
    """A healthy model deployed (it takes a few seconds to load); its namespace."""
    deploy_scenario(direct_cluster, own_gcp, namespace)
    return namespace


def handle(cluster, namespace: str) -> ModelHandle:
    return ModelHandle(cluster, namespace, "model", {"spec": {"predictor": {}}}, 60)


def not_loaded(model: ModelHandle) -> list[str]:
    """[] once the model is Loaded within 60 s, else the block a failing test shows (the
    findings and the timeline); for waits in a thread, where pytest.fail cannot reach."""
    try:
        model.wait_loaded(60)
    except ModelNotLoaded as failure:
        return [str(failure)]
    return []


def during(seconds: float, action) -> threading.Thread:
    """Run `action` repeatedly for `seconds` in the background."""

    def loop():
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            action()
            time.sleep(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_apiserver_restarted_mid_wait(own_cluster, direct_cluster, healthy):
    namespace = healthy
    failures: list[str] = []
    waiter = threading.Thread(
        target=lambda: failures.extend(not_loaded(handle(direct_cluster, namespace)))
    )
    waiter.start()
    time.sleep(0.5)
    own_cluster.plane.restart_apiserver(down_seconds=1.0)
    waiter.join(90)
    assert not waiter.is_alive(), "the wait outlived its 60 s deadline"
    if failures:
        pytest.fail(failures[0], pytrace=False)


def test_watches_dropped_again_and_again(api_proxy, proxied_cluster, healthy):
    namespace = healthy
    dropper = during(4.0, api_proxy.drop_streams)
    handle(proxied_cluster, namespace).require_loaded(60)
    dropper.join()
    watches = [r for r in api_proxy.recorded if r.watch]
    assert len(watches) > 3  # each drop was followed by a resumed watch


def test_watch_expired_410_relists(api_proxy, proxied_cluster, healthy):
    namespace = healthy
    api_proxy.expire_watches(times=6)
    handle(proxied_cluster, namespace).require_loaded(60)
    lists = [r for r in api_proxy.recorded if not r.watch and r.method == "GET"]
    assert len(lists) >= 6  # three first lists, then a relist after each 410


def test_throttled_429_honours_retry_after(api_proxy, proxied_cluster, healthy):
    namespace = healthy
    api_proxy.fail(429, times=9, retry_after=1)
    handle(proxied_cluster, namespace).require_loaded(60)
    throttled = [r.at for r in api_proxy.recorded if r.status == 429]
    assert len(throttled) == 9
    after = [r.at for r in api_proxy.recorded if r.status != 429 and r.at > throttled[0]]
    # A client that honours Retry-After: 1 comes back no sooner than about a second later.
    assert after and min(after) - throttled[0] >= 0.9


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_bursts(api_proxy, proxied_cluster, status, healthy):
    namespace = healthy
    api_proxy.fail(status, times=12)
    handle(proxied_cluster, namespace).require_loaded(60)
    assert sum(1 for r in api_proxy.recorded if r.status == status) == 12


def test_slow_answers(api_proxy, proxied_cluster, healthy):
    namespace = healthy
    api_proxy.slow(0.8)
    handle(proxied_cluster, namespace).require_loaded(60)


def test_failure_is_still_diagnosed_through_faults(
    api_proxy, proxied_cluster, direct_cluster, own_gcp, namespace
):
    deploy_scenario(direct_cluster, own_gcp, namespace, "gcs-permission-denied")
    api_proxy.fail(503, times=8)
    api_proxy.expire_watches(times=2)
    model = handle(proxied_cluster, namespace)
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded()
    assert failure.value.result.verdict is Verdict.FAILED
    assert failure.value.findings[0].code == "GCS_LIST_DENIED"


@pytest.mark.parametrize("fault", ["503 forever", "down"])
def test_no_wait_outlives_its_deadline(api_proxy, proxied_cluster, fault, healthy):
    namespace = healthy
    if fault == "down":
        api_proxy.go_down()
    else:
        api_proxy.fail(503)
    model = handle(proxied_cluster, namespace)
    started = time.monotonic()
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=3)
    took = time.monotonic() - started
    assert failure.value.result.timed_out
    assert took < 3 + 5, f"the wait and its diagnosis took {took:.1f}s past a 3s deadline"
    text = str(failure.value)
    assert "API trouble, retrying" in text
    assert "CLUSTER_API_UNAVAILABLE" in text  # unknown, never a verdict on the model
