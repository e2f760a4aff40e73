"""Every real case in tests/corpus/ gets its expected top finding and verdict from the offline
diagnosis (what a user would get from `python -m pytest_kfs diagnose` on the same text).
tests/corpus/own/ holds cases from this project's own real clusters (kind), each verbatim."""

import pytest

from pytest_kfs.diagnosis.codes import Code

from .corpus import CORPUS, cases

CASES = cases()
OWN = cases(CORPUS / "own")


def test_the_corpus_is_real_and_broad():
    assert len(CASES) >= 40
    assert all(case.source.startswith("https://") for case in CASES)
    codes = {case.expected_code for case in CASES}
    assert codes <= {code.value for code in Code}
    # Not only Google's failures: storage of other kinds, pods, runtimes, webhooks, states.
    assert {
        "S3_ACCESS_DENIED",
        "STORAGE_UNREACHABLE",
        "MODEL_PATH_MISSING",
        "QUOTA_EXCEEDED",
        "IMAGE_PULL_FAILED",
        "WEBHOOK_UNAVAILABLE",
        "MODEL_LOAD_FAILED",
        "NEEDS_EVIDENCE",
    } <= codes


@pytest.mark.parametrize("case", CASES + OWN, ids=[case.name for case in CASES + OWN])
def test_case(case):
    result = case.diagnose()
    top = result.findings[0]
    assert (str(top.code), result.verdict) == (case.expected_code, case.expected_verdict), (
        f"{case.source}\n{top.cause}\n{top.evidence}"
    )
    # An answer always says what to do, and never claims "not Loaded" next to Active Loaded.
    assert top.fix
    if "Active Loaded" in result.statement:
        assert "not Loaded" not in result.statement + top.cause
