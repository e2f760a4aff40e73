"""Run the benchmarks and write bench/results.json and bench/RESULTS.md.

python bench/run.py            # everything (about 15 minutes on 2 CPUs)
python bench/run.py --quick    # fewer trials and sizes (about 5 minutes)
python bench/run.py --only healthy,api
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Run as a script: the bench modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import embedded as embedded_bench
import fleet as fleet_bench
import overhead as overhead_bench
import scale as scale_bench
import verdict
from common import machine
from diagnosis import accuracy
from results import markdown

from pytest_kfs.local.assets import build_kubectl

SECTIONS = (
    "healthy",
    "broken",
    "api",
    "scale",
    "overhead",
    "embedded",
    "diagnosis",
    "fleet",
)  # fleet also measures 100 concurrent waits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and sizes")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--no-sdk",
        action="store_true",
        help="leave the KServe SDK out (it needs `make setup`'s model venv)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    options = parser.parse_args()
    wanted = [s.strip() for s in options.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    build_kubectl()  # once; cached next to kube-apiserver
    sdk = not options.no_sdk
    previous = options.out / "results.json"
    # --only re-measures some sections and keeps the others' last figures.
    results: dict = json.loads(previous.read_text()) if previous.exists() else {}
    results["quick"] = options.quick
    if "healthy" in wanted:
        print("healthy: time from the Loaded status write to each tool returning", flush=True)
        results["healthy"] = verdict.healthy(trials=3 if options.quick else 8, sdk=sdk)
    if "broken" in wanted:
        print("broken: time from the first initializer failure to an answer", flush=True)
        results["broken"] = verdict.broken(peer_timeout=30 if options.quick else 60, sdk=sdk)
    if "api" in wanted:
        print("api: requests per wait while a model stays pending", flush=True)
        results["api"] = verdict.api_cost(hold=30 if options.quick else 120, sdk=sdk)
    if "scale" in wanted:
        print("scale: N models with -n 1 and -n 2", flush=True)
        sizes = [1, 8] if options.quick else [1, 8, 32]
        results["scale"] = scale_bench.scale(sizes, [1, 2])
    if "overhead" in wanted:
        print("overhead: start-up and per-test cost", flush=True)
        results["overhead"] = overhead_bench.overhead(repeat=2 if options.quick else 3)
    if "embedded" in wanted:
        print("embedded: start-up and memory with KServe's own manager, per release", flush=True)
        results["embedded"] = embedded_bench.embedded(trials=1 if options.quick else 3)
    if "diagnosis" in wanted:
        print("diagnosis: right top finding on the corpus of public cases", flush=True)
        results["diagnosis"] = accuracy()
    if "fleet" in wanted:
        print(
            "fleet: --kfs-existing=all over a written fleet, and the script users run", flush=True
        )
        sizes = [1000] if options.quick else [1000, 10000]
        results["fleet"] = fleet_bench.fleet(sizes, [1, 2])
        results["waits"] = fleet_bench.concurrent_waits(100)
    results["machine"] = machine()
    # Which run measured each section (--only keeps the others' figures, and says so).
    measured = [*wanted, *(["waits"] if "fleet" in wanted else [])]
    results["taken"] = {
        **results.get("taken", {}),
        **{section: results["machine"]["date"] for section in measured},
    }
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "results.json").write_text(json.dumps(results, indent=2))
    (options.out / "RESULTS.md").write_text(markdown(results))
    print(f"wrote {options.out / 'results.json'} and {options.out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
