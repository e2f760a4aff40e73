"""Arbitrary text as any --kfs-* option's value (command line, ini or environment) raises only
the project's own one-line errors, never anything else (issue 36 item 7)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kfs.errors import KfsError
from pytest_kfs.plugin.options import OPTIONS
from pytest_kfs.plugin.settings import (
    ENV_VARS,
    parse_existing,
    parse_ingress,
    parse_keep,
    parse_model,
    parse_namespace,
    parse_run_id,
    parse_selector,
    parse_serving_account,
    parse_serving_key,
    parse_storage_uri,
    parse_sweep_ttl,
    parse_timeout,
    read_models_file,
    resolve,
)
from pytest_kfs.untrusted import printable

VALUED = sorted(option.name for option in OPTIONS if not option.flag)
# Text an option's parser may meet: anything, and text near what the parsers look for.
_NEAR = st.lists(
    st.sampled_from(
        [
            *"=!()-,/:.@_ \t\n0123456789abcdefgikmnsuxz",
            "in",
            "notin",
            "gs://",
            "s3://",
            "kind:",
            "https://",
            "~",
            "\x00",
            "é",
            "\u202e",
            "-1",
            "1e999",
            "nan",
            "inf",
        ]
    ),
    max_size=30,
).map("".join)
TEXT = st.text(max_size=120) | _NEAR
PARSERS = (
    parse_existing,
    parse_ingress,
    parse_keep,
    parse_namespace,
    parse_run_id,
    parse_selector,
    parse_serving_account,
    parse_serving_key,
    parse_storage_uri,
    parse_sweep_ttl,
    parse_timeout,
    read_models_file,
    lambda text: parse_model(text, "sklearn", None),
    lambda text: parse_model("gs://b/m", text, None),
    lambda text: parse_model("gs://b/m", "sklearn", text),
)


def _one_line_or_none(call, one_line=True):
    try:
        call()
    except KfsError as error:
        message = str(error)
        assert message and "Traceback" not in message
        if one_line:  # as resolve() gives it: control characters escaped
            assert printable(message) == message and "\n" not in message, repr(message)


@pytest.mark.parametrize("parse", PARSERS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_each_parser_raises_only_its_one_line_error(parse, text):
    _one_line_or_none(lambda: parse(text), one_line=False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(VALUED), text=TEXT, where=st.sampled_from(["cli", "ini", "env"]))
def test_any_option_value_from_any_source_raises_only_the_projects_errors(name, text, where):
    cli = {name: text} if where == "cli" else {}
    ini = {name: text} if where == "ini" else {}
    env = {ENV_VARS[name]: text} if where == "env" and name in ENV_VARS else {}
    _one_line_or_none(lambda: resolve(cli, ini, env))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.dictionaries(st.sampled_from(VALUED), TEXT, max_size=4),
)
def test_several_options_together_raise_only_the_projects_errors(values):
    _one_line_or_none(lambda: resolve(values, {}, {}))
