"""The run's own sections read right in a CI log at 80 columns (issue 28): one cause worded two
ways is one cause; the models table keeps model, verdict and finding on one line. The texts are
those of the seed run (`pytest --kfs-cluster=local --kfs-scenario=gcs-permission-denied
suites/`, 2026-12-07)."""

from __future__ import annotations

from pytest_kfs.reports.terminal import cause_key, cause_lines, summary_rows

FIX = (
    "gcloud storage buckets add-iam-policy-binding gs://kfs-demo-models "
    "--member=serviceAccount:gcs-permission-denied@kfs-demo.iam.gserviceaccount.com "
    "--role=roles/storage.objectViewer"
)
# The bucket check's words, and the failed model's, for one denial.
FROM_THE_BUCKET_CHECK = (
    "GCS_LIST_DENIED: gcs-permission-denied@kfs-demo.iam.gserviceaccount.com cannot list "
    "gs://kfs-demo-models/models/sklearn/1.0/model: it is denied storage.objects.list on the "
    f"bucket — fix: {FIX}"
)
FROM_THE_MODEL = (
    "GCS_LIST_DENIED: gcs-permission-denied@kfs-demo.iam.gserviceaccount.com cannot list "
    "gs://kfs-demo-models/models/sklearn/1.0/model: KServe's storage-initializer lists the "
    f"prefix first and is denied storage.objects.list on the bucket — fix: {FIX}"
)
FROM_THE_IAM_CHECK = (
    "GCS_PERMISSION_DENIED: no binding on gs://kfs-demo-models gives "
    "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com storage.objects.list, "
    f"storage.objects.get (project-level grants are not inspected here) — fix: {FIX}"
)


def test_one_cause_worded_two_ways_is_one_cause():
    assert cause_key(FROM_THE_BUCKET_CHECK) == cause_key(FROM_THE_MODEL)
    # Another code with the same grant is another finding: it stays apart.
    assert cause_key(FROM_THE_IAM_CHECK) != cause_key(FROM_THE_MODEL)
    # A line not in the answer's shape is its own key.
    assert cause_key("pytest-kfs: cannot deploy: no such file") == (
        "pytest-kfs: cannot deploy: no such file"
    )


def test_the_failed_checks_section_groups_by_cause_at_80_columns():
    said: dict[str, list[str]] = {}
    for answer, test in [
        (FROM_THE_BUCKET_CHECK, "suites/test_bucket_access.py::test_list"),
        (FROM_THE_MODEL, "suites/test_inference.py::test_v1"),
        (FROM_THE_MODEL, "suites/test_inference.py::test_v2"),
        (FROM_THE_IAM_CHECK, "suites/test_iam_roles.py::test_policy"),
    ]:
        said.setdefault(answer, []).append(test)
    lines = cause_lines(said, 80)
    assert [line for line in lines if line.startswith("  failed")] == [
        "  failed 3 tests:",
        "  failed 1 test:",
    ]
    assert lines[0].startswith("GCS_LIST_DENIED: ")
    assert " ".join(line.strip() for line in lines[:7]).startswith(FROM_THE_BUCKET_CHECK)
    # Only a word longer than the width (the --member=... argument) may run past it.
    assert all(len(line) <= 80 or " " not in line.strip() for line in lines)


RECORD = {
    "test": "suites/test_inference.py::test_v1",
    "namespace": "kfs-c00cd-test-the-model-answ-989acf",
    "name": "model",
    "verdict": "failed",
    "loaded": False,
    "seconds": 1.52,
    "state": "Active (none) / Target FailedToLoad / BlockedByFailedLoad, Ready=False",
    "findings": [
        {
            "code": "GCS_LIST_DENIED",
            "cause": "cannot list",
            "principal": "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com",
            "bucket": "kfs-demo-models",
            "fix": FIX,
        }
    ],
}


def test_a_model_row_keeps_its_finding_on_the_first_line_at_80_columns():
    rows = summary_rows([RECORD], 80)
    model = [row for row in rows if row.startswith("kfs-c00cd")]
    assert model == ["kfs-c00cd-test-the-model-answ-989acf/model  failed  finding: GCS_LIST_DENIED"]
    after = rows[rows.index(model[0]) + 1 :]
    assert " ".join(line.strip() for line in after) == (
        "1.52s  Active (none) / Target FailedToLoad / BlockedByFailedLoad, Ready=False"
    )
    assert all(len(row) <= 80 or " " not in row.strip() for row in rows)


def test_a_wide_terminal_keeps_one_row_per_model():
    rows = summary_rows([RECORD], 200)
    (row,) = [row for row in rows if row.startswith("kfs-c00cd")]
    assert row.endswith("BlockedByFailedLoad, Ready=False  finding: GCS_LIST_DENIED")
