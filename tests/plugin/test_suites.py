"""The conformance suites through real pytest against the embedded cluster, per scenario.

Each run also proves no secret leaks: the inner run records every private key and token its
embedded cluster handed out, and none of them may appear in any output, report or log."""

import json
import re
import textwrap
from pathlib import Path

import pytest

SUITES = str(Path(__file__).resolve().parents[2] / "suites")

BUCKET = [
    "test_the_serving_identity_has_google_credentials",
    "test_the_key_secret_is_usable",
    "test_the_serving_identity_can_list_the_model_prefix",
    "test_the_serving_identity_can_read_the_model",
    "test_an_in_cluster_probe_lists_then_reads_as_the_initializer",
]
IAM = [
    "test_the_bucket_policy_grants_the_serving_principal_read",
    "test_the_serving_principal_holds_no_broader_role_than_needed",
]
TRANSITIONS = [
    "test_a_fresh_deploy_passes_the_documented_states_to_loaded",
    "test_an_update_keeps_the_active_model_loaded_until_the_new_one_is",
    "test_an_update_to_an_unreadable_path_blocks_but_keeps_serving",
    "test_deletion_removes_the_predictor_pods",
]

INFERENCE = "test_the_model_answers_its_sample_correctly"
LIST, READ, PROBE = BUCKET[2], BUCKET[3], BUCKET[4]
NOT_LOADING = {*TRANSITIONS, INFERENCE}
GRANT = "--role=roles/storage.objectViewer"

# scenario -> (tests expected to fail, phrases the output must contain): every scenario of the
# embedded catalogue, each failure with its diagnosis (`CODE: ` leads each failure's answer).
EXPECTED = {
    "healthy": (set(), []),
    "workload-identity": (set(), []),
    "scale-to-zero": (set(), []),
    "gcs-permission-denied": (
        {LIST, PROBE, IAM[0], *NOT_LOADING},
        [
            "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com cannot list "
            "gs://kfs-demo-models/models/sklearn/1.0/model",
            "GCS_LIST_DENIED: ",
            GRANT,
        ],
    ),
    "object-read-denied": (
        {READ, PROBE, IAM[0], *NOT_LOADING},
        ["GCS_GET_DENIED: ", "storage.objects.get access to the Google Cloud Storage object"],
    ),
    "wrong-path": ({READ, PROBE, *TRANSITIONS}, ["GCS_PATH_EMPTY: "]),
    "bucket-missing": (
        {LIST, PROBE, *IAM, *TRANSITIONS},
        ["GCS_BUCKET_MISSING: ", "bucket gs://kfs-no-such-bucket does not exist"],
    ),
    "anonymous-fallback": (
        {BUCKET[0], PROBE, *NOT_LOADING},
        ["has no key secret with gcloud-application-credentials.json", "GCS_ANONYMOUS_FALLBACK: "],
    ),
    "bad-key": (
        {BUCKET[1], PROBE, *NOT_LOADING},
        ["GCS_KEY_INVALID: ", "invalid_grant: Invalid JWT Signature"],
    ),
    "broken-workload-identity": (
        {PROBE, *NOT_LOADING},
        ["WORKLOAD_IDENTITY_BINDING_MISSING: ", "roles/iam.workloadIdentityUser"],
    ),
    "runtime-missing": ({*NOT_LOADING}, ["RUNTIME_MISSING: "]),
    "corrupt-model": ({*TRANSITIONS}, ["MODEL_LOAD_FAILED: "]),
}


# What differs on the seed-era release: KServe v0.13.1 watches Deployments, not pods, so a
# rollout whose new pod fails never reaches its status within the suite's window (it stays
# Active Loaded / Target Loaded or Loading until the Deployment's progress deadline).
UNRECORDED_ROLLOUT = TRANSITIONS[2]
EXPECTED_BY_RELEASE = {
    "v0.20.0": EXPECTED,
    "v0.13.1": {
        scenario: (failing | ({UNRECORDED_ROLLOUT} if not failing else set()), phrases)
        for scenario, (failing, phrases) in EXPECTED.items()
    },
}


# A plugin for the inner run (test code, loaded with -p): at its end, write down every secret
# the embedded cluster knows (keys and tokens from the local GCP, the admin client key, secrets
# still stored) and copy every log of the cluster (API server, audit, controller, the pods').
LEAK_RECORDER = textwrap.dedent("""\
    import base64, json, pathlib, shutil

    from pytest_kfs.plugin.stash import RUN_CLUSTER


    def pytest_sessionfinish(session):
        run = session.config.stash.get(RUN_CLUSTER, None)
        if run is None or run.embedded is None:
            return
        embedded = run.embedded
        values = embedded.world.secret_values() + [embedded.gcp.admin_token,
                                                   embedded.plane.pki.admin_key.read_text()]
        for secret in run.cluster.core.list_secret_for_all_namespaces().items:
            values += [base64.b64decode(v).decode(errors="replace")
                       for v in (secret.data or {}).values()]
        logs = pathlib.Path("cluster-logs")
        for index, log in enumerate(embedded.plane.workdir.rglob("*.log")):
            shutil.copy(log, logs.mkdir(exist_ok=True) or logs / f"{index}-{log.name}")
        pathlib.Path("known-secrets.json").write_text(json.dumps(values))
""")


def _needles(values: list[str]) -> set[str]:
    """What would prove a leak: each base64 line of a PEM body, each token whole."""
    needles = set()
    for value in values:
        if "PRIVATE KEY-----" in value:
            needles |= {
                line
                for line in re.split(r"\\n|\n", value)
                if len(line) >= 40 and "-----" not in line
            }
        elif len(value) >= 16:
            needles.add(value)
    return needles


def _assert_no_leak(pytester, output: str) -> None:
    values = json.loads((pytester.path / "known-secrets.json").read_text())
    needles = _needles(values)
    assert len(needles) > 10, "the inner run handed out no keys or tokens: nothing was scanned"
    places = {"output": output}
    for path in [*pytester.path.glob("out.*"), *(pytester.path / "cluster-logs").iterdir()]:
        places[path.name] = path.read_text(errors="replace")
    assert len(places) > 5, sorted(places)
    leaks = [
        (where, needle[:12] + "...")
        for where, text in places.items()
        for needle in needles
        if needle in text
    ]
    assert leaks == [], f"secret material found in: {leaks}"


def _scenario_of(param: str) -> str | None:
    """The scenario a test's parameters name (`bad-key`, `bad-key-v1`, `v1-bad-key`); the
    longest name wins: "broken-workload-identity" also holds "workload-identity"."""
    found = [s for s in EXPECTED if f"-{s}-" in f"-{param}-"]
    return max(found, key=len) if found else None


_SECTION = re.compile(r"^_{3,} (?:ERROR at \w+ of )?(\S+) _{3,}$", re.M)


def _sections_by_scenario(output: str) -> dict[str | None, str]:
    """The failure sections of each scenario's tests, joined."""
    parts = _SECTION.split(output)
    sections: dict[str | None, str] = {}
    for test_id, body in zip(parts[1::2], parts[2::2], strict=True):
        scenario = _scenario_of(test_id.partition("[")[2].rstrip("]"))
        sections[scenario] = sections.get(scenario, "") + body
    return sections


def _failed_by_scenario(output: str) -> dict[str | None, set[str]]:
    """Failed and errored tests per scenario, read from their ids (`test[<scenario>-v1]`)."""
    failed: dict[str | None, set[str]] = {}
    for line in output.splitlines():
        if not line.startswith(("FAILED ", "ERROR ")):
            continue
        test_id = line.split(" ")[1]
        name, _, param = test_id.rpartition("::")[2].partition("[")
        failed.setdefault(_scenario_of(param.rstrip("]")), set()).add(name)
    return failed


# One release's run also goes through two xdist workers sharing the embedded cluster: they
# must give exactly the results one process gives (and the older release's slow rollouts
# finish sooner).
WORKERS = {"v0.20.0": (), "v0.13.1": ("-n", "2", "-p", "xdist")}


@pytest.mark.parametrize("release", sorted(EXPECTED_BY_RELEASE))
def test_suites_fail_exactly_the_right_tests_in_every_scenario(pytester, release, monkeypatch):
    # One run rehearses every scenario (--kfs-scenario=all): one model per scenario, each in
    # namespaces of its own, on one embedded cluster.
    pytester.makepyfile(leak_recorder=LEAK_RECORDER)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "out.summary.md"))
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        f"--kfs-kserve-version={release}",
        "--kfs-scenario=all",
        *WORKERS[release],
        SUITES,
        "-p",
        "no:cacheprovider",
        "-rfE",
        "--tb=short",
        "-v",
        "-p",
        "leak_recorder",
        "--kfs-report=out.json",
        "--kfs-html=out.html",
        "--junitxml=out.xml",
        timeout=1200,
    )
    output = result.stdout.str() + result.stderr.str()
    # The header and the reports name the KServe release and mode that ran.
    mode = "Standard" if release == "v0.20.0" else "RawDeployment"
    described = f"KServe {release} (its own manager), {mode} mode"
    assert described in output
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["cluster"]["kserve"] == described
    assert described in (pytester.path / "out.html").read_text()
    expected = EXPECTED_BY_RELEASE[release]
    failed = _failed_by_scenario(output)
    wrong = {
        scenario: {
            "unexpected failures": sorted(failed.get(scenario, set()) - failing),
            "expected but passed": sorted(failing - failed.get(scenario, set())),
        }
        for scenario, (failing, _) in expected.items()
        if failed.get(scenario, set()) != failing
    }
    assert None not in failed, f"failures outside any scenario: {failed[None]}"
    assert wrong == {}, f"{wrong}\n{output[-3000:]}"
    sections = _sections_by_scenario(output)
    missing = {
        scenario: [phrase for phrase in phrases if phrase not in sections.get(scenario, "")]
        for scenario, (_, phrases) in expected.items()
    }
    assert {scenario: gone for scenario, gone in missing.items() if gone} == {}
    _assert_no_leak(pytester, output)


def test_the_leak_scan_finds_a_planted_leak(pytester):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    tokens = [f"ya29.local-token-{n:04d}-abcdefgh" for n in range(12)]
    (pytester.path / "known-secrets.json").write_text(json.dumps([pem, *tokens]))
    logs = pytester.path / "cluster-logs"
    logs.mkdir()
    for name in ("a.log", "b.log", "c.log", "d.log"):
        (logs / name).write_text("nothing to see")
    (pytester.path / "out.json").write_text(json.dumps({"key": pem}))  # escaped newlines
    with pytest.raises(AssertionError, match=r"secret material found in: \[\('out.json'"):
        _assert_no_leak(pytester, "clean output")
    (pytester.path / "out.json").write_text("{}")
    with pytest.raises(AssertionError, match=r"\[\('output'"):
        _assert_no_leak(pytester, f"Authorization: Bearer {tokens[3]}")
    _assert_no_leak(pytester, "clean output")


def test_a_models_file_with_kserves_sample_runs_on_the_embedded_cluster(pytester):
    # No scenario and no serving identity: KServe's public sample loads anonymously, as in its
    # docs; the bucket checks say there is no key to check (a skip with the reason, not an error).
    (pytester.path / "models.yaml").write_text(
        "models:\n  - name: iris\n    storage_uri: gs://kfserving-examples/models/sklearn/1.0/"
        "model\n    model_format: sklearn\n"
    )
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        "--kfs-models=models.yaml",
        SUITES,
        "-p",
        "no:cacheprovider",
        "-rs",
        "-k",
        "fresh_deploy or answers_its_sample or has_google_credentials",
        timeout=400,
    )
    output = result.stdout.str()
    assert re.search(
        r"test_a_fresh_deploy_passes_the_documented_states_to_loaded\[iris\] "
        r"PASSED|passed",
        output,
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, output[-3000:]
    assert outcomes["passed"] == 3, output[-3000:]  # deploy, and the answer over v1 and v2
    assert "is public (anyone may list and read it" in output


def test_a_models_file_is_arranged_in_the_local_cloud_or_said_why_not(pytester):
    # A copy of the sample in a team's bucket is made in the local cloud; a model the embedded
    # cluster cannot have fails each check with the one line saying what to do instead.
    (pytester.path / "models.yaml").write_text(
        "models:\n"
        "  - {name: copy, storage_uri: gs://team-models/iris/v3, model_format: sklearn,"
        " sample: sklearn-iris}\n"
        "  - {name: fraud, storage_uri: gs://ml-prod/fraud/v7, model_format: xgboost}\n"
    )
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        "--kfs-models=models.yaml",
        SUITES,
        "-p",
        "no:cacheprovider",
        "-rfE",
        "-k",
        "fresh_deploy",
        timeout=400,
    )
    output = result.stdout.str()
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "gs://ml-prod/fraud/v7 is not in the embedded cluster's local Google Cloud, and "
        "pytest-kfs cannot make it" in output
    )
    assert "Traceback" not in output
