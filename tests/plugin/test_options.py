"""The plugin as users meet it: registered options, env and ini, kind.

The full bad-input matrix is tests/reliability/test_bad_input.py."""

import textwrap
from pathlib import Path

import pytest

USAGE_ERROR = 4


def _one_clear_line(result, expected: str) -> None:
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    assert expected in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_options_are_registered_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*pytest-kfs*",
            "*--kfs-cluster=TARGET*",
            "*--kfs-kubeconfig=PATH*",
            "*--kfs-kind-create*",
            "*--kfs-timeout=SECONDS*",
            "*kfs_cluster (string)*",
        ]
    )


def test_fixtures_are_documented(pytester):
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "kfs_cluster*session*",
            "*connected cluster of this run*",
            "kfs_gcp*session*",
            "*local GCP*",
            "kfs_namespace*",
            "*fresh namespace for this test*",
            "kfs_deploy*",
            "*Factory: deploy a ModelSpec, a sample*",
            "*.require_loaded()*",
            "*.predict(rows)*",
            "kfs_model*",
            "*configured model, deployed and Loaded*",
        ]
    )


def test_without_a_cluster_tests_skip_with_the_reason(pytester):
    pytester.makepyfile("def test_needs_cluster(kfs_cluster):\n    pass\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no cluster configured for pytest-kfs*--kfs-cluster=local*"])


def test_plugin_is_inert_without_a_cluster(pytester):
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--kfs-cluster=prod", "--kfs-kind-create"], "--kfs-kind-create only applies"),
        (["--kfs-kind-create"], "--kfs-kind-create needs --kfs-cluster"),
    ],
)
def test_bad_options_fail_with_one_line(pytester, args, expected):
    pytester.makepyfile("def test_x():\n    pass\n")
    _one_clear_line(pytester.runpytest(*args), expected)


def test_env_and_ini_are_read(pytester, monkeypatch):
    pytester.makeini("[pytest]\nkfs_timeout = -1\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    _one_clear_line(pytester.runpytest("--kfs-cluster=local"), "--kfs-timeout=-1")
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("KFS_CLUSTER", "kind:NO")
    _one_clear_line(pytester.runpytest(), "'NO' is not a valid kind cluster name")


def test_kind_without_the_kind_cli(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--kfs-cluster=kind:ci")
    _one_clear_line(result, "needs the `kind` CLI, which is not on PATH")


def test_kind_cli_without_a_container_engine(pytester, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", "docker")  # podman may answer here

    if shutil.which("kind") is None:
        pytest.skip("the kind CLI is not installed here (.ci/run installs it)")
    pytester.makepyfile(textwrap.dedent("def test_x():\n    pass\n"))
    result = pytester.runpytest("--kfs-cluster=kind:ci")
    _one_clear_line(result, "kind cannot talk to a container engine")


def test_an_unsupported_kserve_version_is_one_line_listing_the_supported(pytester):
    # v0.18.0 is not served by the Go module proxy: no build of it exists.
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--kfs-cluster=local", "--kfs-kserve-version=v0.18.0")
    _one_clear_line(
        result,
        "--kfs-kserve-version: KServe v0.18.0 cannot run in the embedded "
        "cluster; supported: v0.20.0, v0.13.1 (default v0.20.0)",
    )


def test_the_kserve_version_is_for_the_embedded_cluster_only(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--kfs-cluster=prod", "--kfs-kserve-version=0.13.1")
    _one_clear_line(
        result,
        "--kfs-kserve-version=0.13.1 picks the KServe release of the "
        "embedded cluster; kubeconfig context 'prod' runs the KServe "
        "installed there",
    )


def test_the_suites_without_a_cluster_are_a_usage_error_not_a_green_run(pytester):
    suites = str(Path(__file__).resolve().parents[2] / "suites")
    ini = pytester.makeini("[pytest]\n")  # not this repository's own ini (kfs_cluster=local)
    result = pytester.runpytest_subprocess("-c", str(ini), suites, "-p", "no:cacheprovider")
    _one_clear_line(result, "the conformance suites need a cluster: pass --kfs-cluster=")


def test_an_empty_cluster_value_is_an_error_not_the_ini_value(pytester):
    pytester.makeini("[pytest]\nkfs_cluster = local\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--kfs-cluster=")
    _one_clear_line(result, "--kfs-cluster is empty; use local, in-cluster, kind")


def test_preflight_takes_no_path_for_its_mode(pytester):
    checks = pytester.mkdir("checks")
    (checks / "test_x.py").write_text("def test_x():\n    pass\n")
    result = pytester.runpytest("--kfs-preflight", "checks")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--kfs-preflight-report", "checks")
    result.assert_outcomes(passed=1)


def test_a_bad_preflight_mode_in_the_environment_is_one_line(pytester, monkeypatch):
    monkeypatch.setenv("KFS_PREFLIGHT", "maybe")
    pytester.makepyfile("def test_x():\n    pass\n")
    _one_clear_line(pytester.runpytest(), "kfs_preflight='maybe' is not one of on, report, off")


def test_the_embedded_cluster_starts_only_when_a_test_needs_it(pytester):
    import json

    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("--kfs-cluster=local", "--kfs-report=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["kfs cluster: local, embedded, KServe v0.20.0 *; started when a collected test needs it"]
    )
    assert json.loads((pytester.path / "r.json").read_text())["cluster"] == {}  # never started
