"""The API server's error lines are found in linear work (issue 36 item 3): the patterns run
only near their literals, and match exactly what the whole-text patterns matched."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_kfs.__main__ import main
from pytest_kfs.diagnosis import kube_semantics
from pytest_kfs.diagnosis.kube_semantics import _FIELD_ERROR, _FORBIDDEN, _INVALID

# The patterns as they were, searched over the whole text.
WHOLE_FORBIDDEN = re.compile(
    r'(?P<object>[\w.-]{1,253}(?: "[^"]{1,253}")?) is forbidden: User "(?P<user>[^"]{1,253})" '
    r'cannot (?P<verb>[\w-]{1,32}) resource "(?P<resource>[\w./-]{1,253})"'
    r'(?: in API group "(?P<group>[\w.-]{0,253})")?'
    r'(?: in the namespace "(?P<namespace>[\w.-]{1,253})"|(?P<cluster> at the cluster scope))?'
)
WHOLE_INVALID = re.compile(
    r'(?P<kind>[\w.-]{1,253}) "(?P<name>[^"]{1,253})" is invalid: (?P<why>.+)'
)
WHOLE_FIELD_ERROR = re.compile(
    r"(?P<field>[\w.\[\]/-]{1,200}): (?P<type>Invalid value|Required value|Unsupported value|"
    r"Forbidden|Duplicate value|Too long|Too many|Not found)"
)

PIECES = st.sampled_from(
    [
        "pods",
        ' "m"',
        " is forbidden: User ",
        '"system:serviceaccount:ns:sa"',
        " cannot ",
        "create",
        ' resource "',
        'inferenceservices"',
        ' in API group "serving.kserve.io"',
        ' in the namespace "ns"',
        " at the cluster scope",
        'InferenceService "m"',
        '" is invalid: ',
        "spec.predictor: ",
        "Invalid value",
        "Required value",
        "Forbidden",
        "Too many",
        ": ",
        '"',
        " ",
        "\n",
        "a" * 250,
        "x.y-z",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=30).map("".join)


def _spans(matches):
    return [(m.span(), m.groupdict()) for m in matches]


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_the_anchored_patterns_match_what_the_whole_text_patterns_matched(text):
    assert _spans(_FORBIDDEN.finditer(text)) == _spans(WHOLE_FORBIDDEN.finditer(text))
    assert _spans(_FIELD_ERROR.finditer(text)) == _spans(WHOLE_FIELD_ERROR.finditer(text))
    whole = WHOLE_INVALID.search(text)
    anchored = _INVALID.search(text)
    assert (anchored.start() if anchored else None) == (whole.start() if whole else None)
    if whole and anchored:
        assert (anchored["kind"], anchored["name"]) == (whole["kind"], whole["name"])
        assert text[anchored.end() :].split("\n", 1)[0] == whole["why"]


def test_a_long_line_without_a_literal_costs_no_regex_search(tmp_path, capsys):
    big = tmp_path / "printed.txt"
    big.write_text("a" * (4 * 1024 * 1024 - 16) + "\n")
    before = kube_semantics.SCANNED.chars, kube_semantics.SCANNED.searches
    main(["diagnose", "--kubectl", str(big)])
    capsys.readouterr()
    assert (kube_semantics.SCANNED.chars, kube_semantics.SCANNED.searches) == before


def test_a_line_full_of_literals_is_scanned_at_most_once():
    line = ('x "y" is invalid: ' + "a" * 40 + " spec: Invalid value ") * 20000
    for anchored in (_INVALID, _FIELD_ERROR, _FORBIDDEN):
        before = kube_semantics.SCANNED.chars
        list(anchored.finditer(line))
        assert kube_semantics.SCANNED.chars - before <= len(line)
    # A few literals: a few windows of bounded size.
    sparse = "a" * 1_000_000 + ' pods "m" is invalid: spec.x: Required value' + "a" * 1_000_000
    before = kube_semantics.SCANNED.chars
    assert _INVALID.search(sparse) and list(_FIELD_ERROR.finditer(sparse))
    assert kube_semantics.SCANNED.chars - before <= 2 * (_INVALID.before + _INVALID.after) + 2 * (
        _FIELD_ERROR.before + _FIELD_ERROR.after
    )
