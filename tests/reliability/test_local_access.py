"""The embedded cluster on a shared machine: loopback is open to every local user, so etcd
and the kubelet answer only clients with a certificate of this run's CA, whose files (like
everything of the run) are in a 0700 directory that another uid cannot read."""

from __future__ import annotations

import os
import shutil
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from pytest_kfs.local.node.kubelet import NODE_NAME


def _context(plane, with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(plane.pki.ca_cert))
    if with_certificate:
        context.load_cert_chain(str(plane.pki.admin_cert), str(plane.pki.admin_key))
    return context


def _get(url: str, context: ssl.SSLContext) -> int | str:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        return type(getattr(error, "reason", error)).__name__


def test_etcd_answers_only_this_runs_certificates(own_cluster):
    plane = own_cluster.plane
    assert plane.etcd_url.startswith("https://")
    assert _get(f"{plane.etcd_url}/health", _context(plane, True)) == 200
    refused = _get(f"{plane.etcd_url}/v3/kv/range", _context(plane, False))
    assert refused != 200, "etcd answered a client without a certificate"


def test_the_kubelet_answers_only_the_api_server(own_cluster):
    node = own_cluster.kubelet.core.read_node(NODE_NAME)
    port = node.status.daemon_endpoints.kubelet_endpoint.port
    url = f"https://127.0.0.1:{port}/containerLogs/kube-system/none/none"
    assert _get(url, _context(own_cluster.plane, True)) == 404  # answers, nothing there
    assert _get(url, _context(own_cluster.plane, False)) not in (200, 404)


def test_the_run_directory_is_its_users_alone(own_cluster):
    workdir = own_cluster.plane.workdir
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o700
    for key in (own_cluster.plane.pki.ca_key, own_cluster.plane.pki.admin_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="changing uid needs root")
def test_another_uid_can_read_no_key_and_reach_no_etcd(own_cluster):
    # As `nobody`: the CA key cannot be read, and etcd without a certificate says no.
    probe = f"""
import ssl, sys, urllib.request
try:
    open({str(own_cluster.plane.pki.ca_key)!r}).read()
    sys.exit("read the CA key")
except PermissionError:
    pass
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
try:
    urllib.request.urlopen({own_cluster.plane.etcd_url + "/v3/kv/range"!r}, timeout=5,
                           context=context)
    sys.exit("etcd answered")
except Exception:
    pass
"""
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable  # nobody's reach
    done = subprocess.run(
        [python, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
