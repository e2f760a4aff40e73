"""`python -m pytest_kfs.local up`: the embedded cluster as a plain live cluster, until Ctrl-C.

It prints what a live run needs (a kubeconfig context, the local Google Cloud's endpoint, the
ingress gateway, a serving key for a scenario's Google service account, the operator's own
Google credentials) as `NAME=value` lines,
then the command that runs the suites against it through `--kfs-cluster=<context>` only: the
way users run against their own clusters, rehearsed here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_kfs.kserve.spec import SPEC_KEYS
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.kserve.releases import DEFAULT_VERSION, RELEASES, UnknownRelease, release
from pytest_kfs.local.scenarios import SCENARIOS, operator_key, scenario


def _release(version: str) -> str:
    """--kserve: checked before anything starts."""
    try:
        release(version)
    except UnknownRelease as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return version


def _scenario(name: str) -> str:
    """--scenario: known, and one with a key file (what `up` hands out), checked up front so a
    typo does not wait for the cluster to start."""
    try:
        chosen = scenario(name)
    except KeyError as error:
        raise argparse.ArgumentTypeError(str(error).strip("'\"")) from None
    if not chosen.key_secret:
        raise argparse.ArgumentTypeError(
            f"scenario {name} serves without a key file; `up` "
            f"rehearses the key-file ones: {', '.join(_keyed())}"
        )
    return name


def _keyed() -> list[str]:
    return [name for name, each in SCENARIOS.items() if each.key_secret]


def parser() -> argparse.ArgumentParser:
    """`up`'s command line."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_kfs.local up",
        description="Run the embedded cluster as a live cluster until Ctrl-C; print its "
        "connection lines (NAME=value) and the pytest command that uses them.",
    )
    parser.add_argument(
        "--kserve",
        type=_release,
        default="",
        metavar="VERSION",
        help=f"KServe release to run: {', '.join(RELEASES)} (default {DEFAULT_VERSION})",
    )
    parser.add_argument(
        "--scenario",
        type=_scenario,
        default="healthy",
        metavar="NAME",
        help=f"Google Cloud world to arrange (default healthy): {', '.join(_keyed())}",
    )
    return parser


def _serving_key(embedded: Any, name: str) -> dict[str, Any]:
    """A key of the scenario's Google service account, arranged as the scenario says."""
    chosen = scenario(name)
    if not chosen.key_secret:
        keyed = ", ".join(n for n, s in SCENARIOS.items() if s.key_secret)
        raise ValueError(
            f"scenario {name} serves without a key file; `up` rehearses the key-file ones: {keyed}"
        )
    gcp = GcpAdmin(embedded.gcp)
    chosen.arrange_world(gcp)
    key = gcp.create_key(chosen.gsa)
    if chosen.disabled_key:
        gcp.disable_key(chosen.gsa, key["private_key_id"])
    return dict(key)


def _write_models(path: Path, name: str) -> Path:
    """The scenario's model as a --kfs-models file (a copy of the sklearn-iris sample in the
    team's private bucket, so the suites check its answer too)."""
    plan = scenario(name).plan
    # The serving identity comes from KFS_SERVING_KEY (an account made in each test namespace),
    # not from the scenario's own service account.
    entry = {
        key: value
        for key, value in dataclasses.asdict(plan.but(name="model")).items()
        if value is not None and key in SPEC_KEYS and key != "service_account"
    }
    path.write_text(json.dumps({"models": [entry]}))  # JSON is YAML
    return path


def _write_key(path: Path, key: dict[str, Any]) -> Path:
    path.write_text(json.dumps(key))
    path.chmod(0o600)
    return path


def main(argv: list[str]) -> int:
    """Start, print the connection lines, wait for SIGINT/SIGTERM, stop."""
    options: dict[str, str] = vars(parser().parse_args(argv))  # usage errors exit 2
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        embedded = start_embedded(kserve_version=options["kserve"] or None)
    except UnknownRelease as error:
        print(error, file=sys.stderr)
        return 2
    with embedded:
        try:
            key = _serving_key(embedded, options["scenario"])
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        key_file = _write_key(embedded.plane.workdir / "serving-key.json", key)
        operator_file = _write_key(
            embedded.plane.workdir / "operator-key.json", operator_key(GcpAdmin(embedded.local_gcp))
        )
        assert embedded.gcp is not None and embedded.ingress is not None
        models_file = _write_models(embedded.plane.workdir / "models.yaml", options["scenario"])
        lines = {
            "KFS_CONTEXT": embedded.context,
            "KFS_KUBECONFIG": str(embedded.kubeconfig),
            "KFS_GCS_ENDPOINT": embedded.gcp.endpoint,
            "KFS_INGRESS": embedded.ingress.address,
            "KFS_SERVING_KEY": str(key_file),
            "KFS_MODELS": str(models_file),
            "GOOGLE_APPLICATION_CREDENTIALS": str(operator_file),
        }
        print(
            f"# embedded cluster up: {embedded.describe_kserve()}; scenario "
            f"{options['scenario']}: {scenario(options['scenario']).summary}"
        )
        for name, value in lines.items():
            print(f"{name}={value}")
        print("# run the suites against it as a live cluster (Ctrl-C here stops it):")
        print(
            f"#   KFS_GCS_ENDPOINT={embedded.gcp.endpoint} GOOGLE_APPLICATION_CREDENTIALS="
            f"{operator_file} pytest --kfs-cluster="
            f"{embedded.context} --kfs-kubeconfig={embedded.kubeconfig} "
            f"--kfs-serving-key={key_file} --kfs-models={models_file} "
            f"--kfs-ingress={embedded.ingress.address} --pyargs pytest_kfs.suites",
            flush=True,
        )
        stopped.wait()
    return 0
