"""Run with the KServe SDK's Python: wait the way KServe's own docs and e2e tests do.

Usage: sdk_waiter.py KUBECONFIG NAMESPACE NAME POLL_SECONDS|watch TIMEOUT
Prints `WAITING <monotonic>` once set up, then `DONE <monotonic> ok|timeout`.
"""

import sys
import time

from kserve import KServeClient
from kubernetes import config

kubeconfig, namespace, name, mode, timeout = sys.argv[1:6]
config.load_kube_config(config_file=kubeconfig)
sdk = KServeClient(config_file=kubeconfig)
print(f"WAITING {time.monotonic()}", flush=True)
try:
    if mode == "watch":
        sdk.wait_isvc_ready(
            name, namespace=namespace, watch=True, timeout_seconds=int(float(timeout))
        )
        # watch=True returns at its timeout without an error: tell the two apart.
        if not sdk.is_isvc_ready(name, namespace=namespace):
            print(f"DONE {time.monotonic()} returned-silently-not-ready", flush=True)
            sys.exit(0)
    else:
        sdk.wait_isvc_ready(
            name, namespace=namespace, polling_interval=float(mode), timeout_seconds=float(timeout)
        )
    outcome = "ok"
except RuntimeError:
    outcome = "timeout"
print(f"DONE {time.monotonic()} {outcome}", flush=True)
