"""Test-suite set-up shared by unit, plugin and integration tests."""

import os
from pathlib import Path

import kubernetes.client.api
import kubernetes.client.models

# pytester moves HOME into a temp dir; inner runs (and this process during such tests) must
# still find the built binaries, the venvs and the trained sample model.
os.environ.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))

# pytester restores sys.modules after each test that uses it, and the kubernetes client imports
# its models lazily: a model first imported inside such a test would be dropped afterwards and
# imported again as a new class, which the client's pydantic validators then reject ("Input
# should be ... an instance of V1Namespace"). Imported here, before any snapshot, they stay.
for _package in (kubernetes.client.models, kubernetes.client.api):
    for _name in _package.__all__:
        getattr(_package, _name)


# The slowest tests start first (longest first: the classic schedule for parallel workers).
# `make test` runs `-n 2 --dist loadgroup --no-loadscope-reorder`: xdist hands out work in
# collection order, so a long test collected late (the suites' runs come after every
# integration test) runs alone at the end while the other worker idles. Seconds from a CI
# run's --durations. A module listed moves whole, in its order: its module-scoped fixture
# (a cluster, a wheel) is made once, and its xdist_group stays one unit of work.
SLOWEST_FIRST = {
    "tests/plugin/test_suites.py::test_suites_fail_exactly_the_right_tests_in_every_scenario"
    "[v0.13.1]": 440,
    "tests/plugin/test_suites.py::test_suites_fail_exactly_the_right_tests_in_every_scenario"
    "[v0.20.0]": 305,
    "tests/integration/test_local_up.py": 122,  # two tests of 60 s, and more
    "tests/plugin/test_packaging.py": 66,
    "tests/plugin/test_suites.py::test_a_models_file_with_kserves_sample_runs_on_the_embedded_"
    "cluster": 54,
    "tests/plugin/test_suites.py::test_a_models_file_is_arranged_in_the_local_cloud_or_said_"
    "why_not": 48,
    "tests/plugin/test_model_fixtures.py::test_scale_to_zero_scenario_passes": 41,
    "tests/integration/test_run_lifecycle.py::test_xdist_workers_share_one_control_plane": 34,
}


def pytest_collection_modifyitems(items):
    """Put the slowest tests first (a stable sort: everything else keeps its order)."""

    def expected(item):
        module = item.nodeid.split("::")[0]
        return max(SLOWEST_FIRST.get(item.nodeid, 0), SLOWEST_FIRST.get(module, 0))

    items.sort(key=lambda item: -expected(item))
