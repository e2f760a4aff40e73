"""`python -m pytest_kfs merge`: bad input is one line and exit 2, never a traceback."""

import json

import pytest

from pytest_kfs.__main__ import main


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "not JSON"),
        ('{"schema": "junit"}', "not a pytest-kfs report (schema pytest-kfs/report)"),
        (
            '{"schema": "pytest-kfs/report", "version": 9, "models": []}',
            "report version 9; this pytest-kfs reads version 1",
        ),
        ('{"schema": "pytest-kfs/report", "version": 1}', "no list of models"),
        (
            '{"schema": "pytest-kfs/report", "version": 1, "models": [7]}',
            "model 1 is not a model record (lacks all)",
        ),
        (
            '{"schema": "pytest-kfs/report", "version": 1, "models": [{"name": "m"}]}',
            "model 1 is not a model record (lacks findings, loaded, namespace, test, timeline, "
            "verdict)",
        ),
    ],
)
def test_a_file_that_is_not_a_report_is_named(tmp_path, capsys, content, said):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["merge", str(bad), "--out", str(tmp_path / "all.json")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"pytest-kfs merge: {bad}: ") and said in error
    assert not (tmp_path / "all.json").exists()


def test_a_missing_report_or_output_directory_is_named(tmp_path, capsys):
    assert main(["merge", str(tmp_path / "nope.json"), "--out", str(tmp_path / "a.json")]) == 2
    assert "nope.json: No such file or directory" in capsys.readouterr().err
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps(
            {
                "schema": "pytest-kfs/report",
                "version": 1,
                "run_id": "n",
                "cluster": {"context": "eu"},
                "models": [],
            }
        )
    )
    assert main(["merge", str(report), "--out", str(tmp_path / "no" / "a.json")]) == 2
    assert f"directory {tmp_path / 'no'} does not exist" in capsys.readouterr().err
