"""Hostile input at every door (issue 36, items 2, 3, 5, 6): each is one line naming the input,
the field and what was expected, never a traceback; the bounds are sizes (bytes read, nodes
composed), not times."""

from __future__ import annotations

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
            "model 1: service_account is a int; expected a string",
        ),
        ("models: [{name: [a], storage_uri: 'gs://bkt/p'}]", "name is a list; expected a string"),
        ("models: [{sample: {a: 1}}]", "sample is a dict; expected a string"),
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
