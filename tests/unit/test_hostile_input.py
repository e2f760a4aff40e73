"""Hostile input at every door (issue 36, items 2, 3, 5, 6): each is one line naming the input,
the field and what was expected, never a traceback; the bounds are sizes (bytes read, nodes
composed), not times."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_kfs.errors import InputRefused, SettingsError
from pytest_kfs.untrusted import (
    DEPTH_LIMIT,
    Meter,
    json_depth,
    load_json,
    load_yaml,
    read_limited,
    text_of,
)

DEEP_JSON = "[" * 100_000 + "]" * 100_000
# Billion laughs: nine levels of ten aliases each, 10**9 strings once expanded.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + level)}: &{chr(98 + level)} [{','.join([f'*{chr(97 + level)}'] * 10)}]\n"
    for level in range(8)
)


def one_line(message: str) -> bool:
    return "\n" not in message and "Traceback" not in message


# --- the shared bounded readers ------------------------------------------------------------


def test_dev_zero_is_refused_without_reading_a_byte():
    meter = Meter()
    with pytest.raises(InputRefused, match="special file") as error:
        read_limited(Path("/dev/zero"), 1024, "diagnose /dev/zero", meter)
    assert meter.bytes_read == 0 and one_line(str(error.value))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody writes: a blocking open would hang here
    with pytest.raises(InputRefused, match="special file"):
        read_limited(fifo, 1024, "pipe")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InputRefused, match="is a directory; expected a regular file"):
        read_limited(tmp_path, 1024, "dir")


def test_a_file_over_the_limit_is_refused_after_limit_plus_one_bytes(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * 10_000_000)
    meter = Meter()
    with pytest.raises(InputRefused, match="is larger than 1 MiB; expected at most that"):
        read_limited(big, 1024 * 1024, "big", meter)
    assert meter.bytes_read == 1024 * 1024 + 1
    assert read_limited(big, 10_000_000, "big") == b"x" * 10_000_000


@pytest.mark.parametrize("data", [b"\xff\xfe\x00", b"a: 1\x00", b"\x89PNG\r\n\x1a\n"])
def test_binary_bytes_are_refused(data):
    with pytest.raises(InputRefused, match="expected a text file"):
        text_of(data, "f")


def test_json_depth_is_counted_outside_strings_without_recursion():
    assert json_depth(DEEP_JSON) == 100_000
    assert json_depth('{"a": "[[[[\\"[[[", "b": [1, {"c": []}]}') == 4
    with pytest.raises(InputRefused, match=f"nested deeper than {DEPTH_LIMIT} levels"):
        load_json(DEEP_JSON, "f")
    assert load_json('{"a": [1]}', "f") == {"a": [1]}


def test_an_alias_bomb_is_refused_at_its_first_alias():
    meter = Meter()
    with pytest.raises(InputRefused, match=r"line 2: a YAML alias \(\*a\); expected plain YAML"):
        load_yaml(ALIAS_BOMB, "models.yaml", meter=meter)
    assert meter.nodes < 20  # refused before expanding anything


@pytest.mark.parametrize(
    "text",
    [
        DEEP_JSON,
        "- " * 5000 + "x",
        "a:\n" + "".join(" " * level + f"k{level}:\n" for level in range(1, 300)),
    ],
)
def test_deep_yaml_is_refused_after_depth_limit_nodes(text):
    meter = Meter()
    with pytest.raises(InputRefused, match="nested deeper than"):
        load_yaml(text, "f", meter=meter)
    assert meter.nodes <= 2 * DEPTH_LIMIT + 2  # a key and a value per level


# --- the models file and the serving key (configure time) ---------------------------------


def _models(tmp_path: Path, content: bytes | str, name: str = "models.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    from pytest_kfs.plugin.settings import read_models_file

    with pytest.raises(SettingsError) as error:
        read_models_file(str(path))
    message = str(error.value)
    assert one_line(message) and message.startswith(f"--kfs-models={path}")
    return message


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x00\x01\x02binary\xff", "is not UTF-8; expected a text file"),
        (b"models: \x00", "is NUL (binary data); expected a text file"),
        (ALIAS_BOMB + "models: []\n", "a YAML alias (*a); expected plain YAML without aliases"),
        (DEEP_JSON, "nested deeper than 100 levels"),
        (
            "models: [{storage_uri: [gs://a/b], model_format: sklearn}]",
            "model 1: storage_uri is a list; expected a string",
        ),
        (
            "models: [{storage_uri: 'gs://bkt/p', model_format: sklearn, service_account: 7}]",
            "model 1: service_account is a number; expected a string",
        ),
        ("models: [{name: [a], storage_uri: 'gs://bkt/p'}]", "name is a list; expected a string"),
        ("models: [{sample: {a: 1}}]", "sample is a mapping; expected a string"),
        ("models: [{1: a}]", "unknown key(s) 1"),
        ("a: 1\n---\nb: 2\n", "holds 2 YAML documents; expected one"),
    ],
)
def test_a_hostile_models_file_is_one_settings_line(tmp_path, content, said):
    assert said in _models(tmp_path, content)


def test_a_deep_toml_models_file_is_refused(tmp_path):
    assert "nested deeper than" in _models(tmp_path, "a = " + DEEP_JSON, "models.toml")


def test_a_huge_models_file_is_refused_by_size(tmp_path):
    said = _models(tmp_path, "#" * (2 * 1024 * 1024))
    assert "is larger than 1 MiB; expected at most that" in said


def test_dev_zero_as_models_file_or_key_is_refused():
    from pytest_kfs.plugin.settings import parse_serving_key, read_models_file

    with pytest.raises(SettingsError, match=r"^--kfs-models=/dev/zero: is a special file"):
        read_models_file("/dev/zero")
    with pytest.raises(SettingsError, match=r"^--kfs-serving-key=/dev/zero: is a special file"):
        parse_serving_key("/dev/zero")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper than 100 levels"),
        (b"\xff\xfe{}", "is not UTF-8"),
        (b"{" * 70_000, "is larger than 65536 bytes"),
    ],
)
def test_a_hostile_key_file_is_one_settings_line(tmp_path, content, said):
    from pytest_kfs.plugin.settings import parse_serving_key

    key = tmp_path / "key.json"
    key.write_bytes(content)
    with pytest.raises(SettingsError) as error:
        parse_serving_key(str(key))
    assert str(error.value).startswith(f"--kfs-serving-key={key}: ") and said in str(error.value)
    assert one_line(str(error.value))


# --- merge's reports and outputs -----------------------------------------------------------


def _record(**fields: object) -> dict[str, object]:
    return {
        "test": "t::a",
        "namespace": "ns",
        "name": "m",
        "verdict": "loaded",
        "loaded": True,
        "seconds": 1.0,
        "findings": [],
        "timeline": [{"at": 0.5, "source": "isvc", "text": "Loaded", "target": "Loaded"}],
        **fields,
    }


def _report(tmp_path: Path, name: str = "r.json", **fields: object) -> Path:
    document = {
        "schema": "pytest-kfs/report",
        "version": 1,
        "run_id": "n",
        "cluster": {"context": "eu"},
        "models": [_record()],
        **fields,
    }
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _merge_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    from pytest_kfs.__main__ import main

    assert main(["merge", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pytest-kfs merge: ") and one_line(error.rstrip("\n"))
    return error


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"cluster": "eu"}, "cluster is a string; expected a mapping"),
        ({"cluster": {"context": ["eu"]}}, "cluster.context is a list; expected a string"),
        ({"models": [_record(name=["m"])]}, "model 1.name is a list; expected a string"),
        ({"models": [_record(loaded="yes")]}, "model 1.loaded is a string; expected true or false"),
        ({"models": [_record(findings={})]}, "model 1.findings is a mapping; expected a list"),
        ({"models": [_record(seconds="1")]}, "model 1.seconds is a string; expected a number"),
        (
            {"models": [_record(findings=[{"code": 1, "cause": "", "evidence": [], "fix": ""}])]},
            "model 1.findings[0].code is a number; expected a string",
        ),
        (
            {
                "models": [
                    _record(findings=[{"code": "X", "cause": "", "evidence": [{}], "fix": ""}])
                ]
            },
            "model 1.findings[0].evidence holds a non-string; expected strings",
        ),
        (
            {"models": [_record(timeline=[7])]},
            "model 1.timeline[0] is a number; expected a mapping",
        ),
        (
            {"models": [_record(timeline=[{"at": "0", "source": "pod", "text": ""}])]},
            "model 1.timeline[0].at is a string; expected a number",
        ),
    ],
)
def test_a_report_of_the_wrong_types_is_one_line(tmp_path, capsys, fields, said):
    report = _report(tmp_path, **fields)
    out = tmp_path / "all.json"
    error = _merge_error(capsys, str(report), "--out", str(out), "--html", str(tmp_path / "p.html"))
    assert error.startswith(f"pytest-kfs merge: {report}: ") and said in error
    assert not out.exists()


def test_a_well_typed_report_merges(tmp_path, capsys):
    from pytest_kfs.__main__ import main

    report = _report(tmp_path)
    assert main(["merge", str(report), "--out", str(tmp_path / "all.json")]) == 0
    assert json.loads((tmp_path / "all.json").read_text())["models"][0]["cluster"] == "eu"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (DEEP_JSON.encode(), "nested deeper than 100 levels"),
        (b"\x00\xff\xfe", "expected a text file"),
    ],
)
def test_a_deep_or_binary_report_is_one_line(tmp_path, capsys, content, said):
    report = tmp_path / "r.json"
    report.write_bytes(content)
    error = _merge_error(capsys, str(report), "--out", str(tmp_path / "all.json"))
    assert error.startswith(f"pytest-kfs merge: {report}: ") and said in error


def test_dev_zero_as_a_report_is_refused(tmp_path, capsys):
    error = _merge_error(capsys, "/dev/zero", "--out", str(tmp_path / "all.json"))
    assert "/dev/zero: is a special file" in error


@pytest.mark.parametrize("option", ["--out", "--html", "--markdown"])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path, capsys, option):
    first, second = _report(tmp_path, "a.json"), _report(tmp_path, "b.json")
    before = second.read_bytes()
    outputs = {"--out": str(tmp_path / "all.json"), option: str(tmp_path / "." / "b.json")}
    argv = [str(first), str(second)] + [part for pair in outputs.items() for part in pair]
    error = _merge_error(capsys, *argv)
    assert f"is the input report {second}; it would be overwritten" in error
    assert second.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_an_input_hard_linked_as_the_output_is_refused(tmp_path, capsys):
    report = _report(tmp_path)
    os.link(report, tmp_path / "link.json")
    error = _merge_error(capsys, str(report), "--out", str(tmp_path / "link.json"))
    assert "is the input report" in error


def test_two_outputs_naming_one_file_are_refused(tmp_path, capsys):
    report = _report(tmp_path)
    page = str(tmp_path / "same")
    error = _merge_error(capsys, str(report), "--out", page, "--html", page)
    assert "--html" in error and "is also --out" in error
    assert not (tmp_path / "same").exists()


def test_a_missing_html_folder_is_refused_before_out_is_written(tmp_path, capsys):
    report = _report(tmp_path)
    out = tmp_path / "all.json"
    missing = tmp_path / "no" / "page.html"
    error = _merge_error(capsys, str(report), "--out", str(out), "--html", str(missing))
    assert f"directory {tmp_path / 'no'} does not exist (--html)" in error
    assert not out.exists()


def test_outputs_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from pytest_kfs.reports import merge

    kept = tmp_path / "kept.json"
    kept.write_text("old")
    real = os.replace
    calls = []

    def failing(source, target):
        calls.append(target)
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(merge.os, "replace", failing)
    with pytest.raises(OSError):
        merge.write_all([(kept, "new"), (tmp_path / "b.md", "b")])
    monkeypatch.setattr(merge.os, "replace", real)
    assert kept.read_text() == "old" and calls == [kept]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]  # no temporary left
    merge.write_all([(kept, "new"), (tmp_path / "b.md", "b")])
    assert kept.read_text() == "new" and (tmp_path / "b.md").read_text() == "b"


# --- what `diagnose` reads -----------------------------------------------------------------


def _diagnose_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    from pytest_kfs.__main__ import main

    assert main(["diagnose", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pytest-kfs diagnose: ") and one_line(error.rstrip("\n"))
    return error


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (DEEP_JSON, "nested deeper than 100 levels"),
        (ALIAS_BOMB, "a YAML alias (*a); expected plain YAML without aliases"),
        ("kind: InferenceService\nmetadata: [1]\n", "metadata is a list; expected a mapping"),
        (
            "kind: Pod\nmetadata: {name: p}\nstatus: {containerStatuses: [{state: 7}]}\n",
            "status.containerStatuses[0].state is a number; expected a mapping",
        ),
        (
            "kind: InferenceService\nstatus: {conditions: [{type: Ready, message: [x]}]}\n",
            "status.conditions[0].message is a list; expected a string",
        ),
    ],
)
def test_hostile_pasted_files_are_one_line(tmp_path, capsys, content, said):
    pasted = tmp_path / "isvc.yaml"
    pasted.write_text(content)
    error = _diagnose_error(capsys, str(pasted))
    assert error.startswith(f"pytest-kfs diagnose: {pasted}: ") and said in error


@pytest.mark.parametrize("option", ["", "--kubectl=", "--log=kserve-container="])
@pytest.mark.parametrize("special", ["/dev/zero", "folder"])
def test_dev_zero_and_folders_are_refused_by_diagnose(tmp_path, capsys, option, special):
    target = str(tmp_path) if special == "folder" else special
    assert "expected a regular file" in _diagnose_error(capsys, f"{option}{target}")


def test_an_oversized_pasted_file_is_refused_after_limit_plus_one_bytes(tmp_path, capsys):
    from pytest_kfs.diagnosis.pasted import PASTED_LIMIT

    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * (PASTED_LIMIT * 3))
    meter = Meter()
    with pytest.raises(InputRefused):
        read_limited(big, PASTED_LIMIT, "big", meter)
    assert meter.bytes_read == PASTED_LIMIT + 1
    assert "is larger than 4 MiB" in _diagnose_error(capsys, str(big))


def test_a_status_with_a_string_last_failure_info_is_diagnosed(tmp_path, capsys):
    from pytest_kfs.__main__ import main

    pasted = tmp_path / "isvc.yaml"
    pasted.write_text(
        "kind: InferenceService\nmetadata: {name: m, namespace: n}\nspec: {}\n"
        "status: {modelStatus: {lastFailureInfo: broken, transitionStatus: BlockedByFailedLoad}}\n"
    )
    assert main(["diagnose", str(pasted)]) == 1  # diagnosed, not crashed
    assert "verdict: failed" in capsys.readouterr().out


def test_a_long_log_is_read_from_its_end(tmp_path):
    from pytest_kfs.__main__ import gather
    from pytest_kfs.diagnosis.pasted import TEXT_TAIL

    log = tmp_path / "pod.kserve-container.log"
    log.write_text("x" * 3_000_000 + "\nOSError: the last line\n")
    kept = gather([log], []).logs["pod/kserve-container"]
    assert len(kept) <= TEXT_TAIL + 100 and kept.endswith("OSError: the last line\n")
    assert kept.startswith("… (3000001 earlier characters left out)")


# --- property: nothing pasted raises anything but the project's own errors -----------------

hypothesis = pytest.importorskip("hypothesis")
strategies = pytest.importorskip("hypothesis.strategies")

_YAMLISH = strategies.text(
    alphabet=strategies.sampled_from([*"{}[]:-&*!|>'\"#, \n\tabkindstu01", "\x00", "é"]),
    max_size=300,
)
_VALUES = strategies.recursive(
    strategies.none()
    | strategies.booleans()
    | strategies.integers()
    | strategies.text(max_size=20),
    lambda inner: (
        strategies.lists(inner, max_size=4)
        | strategies.dictionaries(
            strategies.sampled_from(
                [
                    "kind",
                    "metadata",
                    "spec",
                    "status",
                    "modelStatus",
                    "lastFailureInfo",
                    "conditions",
                    "items",
                    "name",
                    "message",
                    "reason",
                    "type",
                    "containerStatuses",
                    "state",
                    "predictor",
                    "annotations",
                    "involvedObject",
                    "waiting",
                    "terminated",
                    "components",
                    "copies",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


def _diagnose_text(text: str) -> None:
    from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted, read_text
    from pytest_kfs.errors import KfsError

    pasted = Pasted()
    try:
        read_text(text, pasted, "pasted")
        diagnose_pasted(pasted)
    except KfsError as error:
        assert one_line(str(error)), str(error)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(strategies.text(max_size=400) | _YAMLISH)
def test_arbitrary_text_raises_only_the_projects_errors(text):
    _diagnose_text(text)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(strategies.binary(max_size=400))
def test_arbitrary_bytes_raise_only_the_projects_errors(tmp_path_factory, data):
    from pytest_kfs.__main__ import gather
    from pytest_kfs.diagnosis.pasted import diagnose_pasted
    from pytest_kfs.errors import KfsError

    path = tmp_path_factory.mktemp("bytes") / "pasted.yaml"
    path.write_bytes(data)
    try:
        diagnose_pasted(gather([path], []))
    except KfsError as error:
        assert one_line(str(error))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    strategies.dictionaries(
        strategies.sampled_from(["kind", "metadata", "spec", "status", "items"]),
        _VALUES,
        max_size=4,
    )
)
def test_arbitrary_structures_raise_only_the_projects_errors(obj):
    import yaml

    _diagnose_text(yaml.safe_dump(obj))
    if isinstance(obj.get("status"), dict):
        _diagnose_text(yaml.safe_dump({"kind": "InferenceService", "status": obj["status"]}))


# --- --kfs-existing-selector, parsed when the run is configured ----------------------------


@pytest.mark.parametrize(
    ("selector", "said"),
    [
        ("a in (", "a '(' is not closed"),
        ("a)", "unbalanced or nested parentheses at character 2"),
        ("a in ((b))", "unbalanced or nested parentheses"),
        ("a,,b", "an empty requirement"),
        ("a=b=c", "'a=b=c' is not key=value"),
        ("a in ()", "lists no value"),
        ("Bad_/x", "'Bad_/x' is not a label key"),
        ("team=-bad", "'-bad' is not a label value"),
        ("a\nb", "is not key=value"),
    ],
)
def test_a_bad_selector_is_the_options_one_line_at_configure_time(selector, said):
    from pytest_kfs.plugin.settings import resolve

    with pytest.raises(SettingsError) as error:
        resolve({"cluster": "local", "existing": "all", "existing_selector": selector}, {}, {})
    message = str(error.value)
    assert message.startswith("--kfs-existing-selector=") and said in message
    assert one_line(message)


@pytest.mark.parametrize(
    "selector",
    ["team=search", "tier in (gold),!canary", "app.kubernetes.io/name==x, env!=prod", "x", "a="],
)
def test_a_label_selector_is_accepted(selector):
    from pytest_kfs.plugin.settings import parse_selector

    assert parse_selector(selector) == selector
