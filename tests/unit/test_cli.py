"""Every command line answers --help with its commands and options, each with a line of help,
and a bad argument is a usage error: exit 2, argparse's usage and one error line, no
traceback. Nothing here builds or starts a cluster: each bad argument fails in parsing."""

import re
import subprocess
import sys

import pytest

from pytest_kfs.local import __main__ as local_cli
from pytest_kfs.local import assets, up


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=60)


def _helped(text: str, name: str) -> bool:
    """`name` is listed with help: text after it on its line, or on the next, indented."""
    lines = text.splitlines()
    for at, line in enumerate(lines):
        found = re.match(rf"^\s+{re.escape(name)}(?:\s\S+)?(\s{{2,}}\S.*)?$", line)
        if found:
            following = lines[at + 1] if at + 1 < len(lines) else ""
            return bool(found.group(1)) or bool(re.match(r"^\s{8,}\S", following))
    return False


@pytest.mark.parametrize(
    ("command", "listed"),
    [
        (("pytest_kfs", "--help"), ["diagnose", "merge"]),
        (("pytest_kfs", "-h"), ["diagnose", "merge"]),
        (("pytest_kfs", "diagnose", "--help"), ["PATH", "--log", "--kubectl", "--json"]),
        (("pytest_kfs", "merge", "-h"), ["REPORT", "--out", "--html", "--markdown"]),
        (("pytest_kfs.local", "--help"), ["build", "where", "up"]),
        (("pytest_kfs.local", "-h"), ["build", "where", "up"]),
        (("pytest_kfs.local", "build", "--help"), ["--kserve"]),
        (("pytest_kfs.local", "where", "-h"), ["--kserve"]),
        (("pytest_kfs.local", "up", "--help"), ["--kserve", "--scenario"]),
        (("pytest_kfs.local", "up", "-h"), ["--kserve", "--scenario"]),
    ],
    ids=" ".join,
)
def test_help_lists_each_command_and_option_with_its_help(command, listed):
    result = _run(*command)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {' '.join(command[:-1])}")
    assert not result.stderr
    for name in listed:
        assert _helped(result.stdout, name), f"{name} has no help line:\n{result.stdout}"


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("pytest_kfs",), "the following arguments are required: COMMAND"),
        (("pytest_kfs", "bogus"), "invalid choice: 'bogus'"),
        (("pytest_kfs", "diagnose", "--bogus"), "unrecognized arguments: --bogus"),
        (("pytest_kfs", "merge", "r.json"), "the following arguments are required: --out"),
        (("pytest_kfs.local", "--bogus"), "unrecognized arguments: --bogus"),
        (("pytest_kfs.local", "nope"), "invalid choice: 'nope'"),
        (("pytest_kfs.local", "build", "--nope"), "unrecognized arguments: --nope"),
        (("pytest_kfs.local", "build", "--kserve=v9.9.9"), "KServe v9.9.9 cannot run"),
        (("pytest_kfs.local", "where", "--kserve=v0.13.1,v9"), "KServe v9 cannot run"),
        (("pytest_kfs.local", "up", "--help=x"), "ignored explicit argument 'x'"),
        (("pytest_kfs.local", "up", "extra"), "unrecognized arguments: extra"),
        (("pytest_kfs.local", "up", "--kserve=v9"), "KServe v9 cannot run"),
        (("pytest_kfs.local", "up", "--scenario=nope"), "unknown scenario 'nope'; known: healthy"),
        (
            ("pytest_kfs.local", "up", "--scenario=workload-identity"),
            "scenario workload-identity serves without a key file",
        ),
    ],
    ids=" ".join,
)
def test_a_bad_argument_is_a_usage_error_without_a_traceback(command, said):
    result = _run(*command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: python -m pytest_kfs")
    errors = [line for line in lines if ": error: " in line]
    assert errors == [lines[-1]] and said in errors[0], result.stderr


@pytest.mark.parametrize(
    ("argv", "passed"),
    [
        ([], ["where"]),
        (["where"], ["where"]),
        (["where", "--kserve", "0.13.1"], ["where", "--kserve=0.13.1"]),
        (["build"], ["build"]),
        (["build", "--kserve=all"], ["build", "--kserve=all"]),
        (["build", "--kserve=v0.20.0,v0.13.1"], ["build", "--kserve=v0.20.0,v0.13.1"]),
    ],
)
def test_build_and_where_keep_their_options(monkeypatch, argv, passed):
    seen: list[list[str]] = []
    monkeypatch.setattr(assets, "main", lambda given: seen.append(given) or 0)
    assert local_cli.main(argv) == 0 and seen == [passed]


def test_up_gets_its_own_arguments(monkeypatch):
    seen: list[list[str]] = []
    monkeypatch.setattr(up, "main", lambda given: seen.append(given) or 0)
    assert local_cli.main(["up", "--scenario=bad-key", "--kserve", "v0.13.1"]) == 0
    assert seen == [["--scenario=bad-key", "--kserve", "v0.13.1"]]
    assert vars(up.parser().parse_args(seen[0])) == {"scenario": "bad-key", "kserve": "v0.13.1"}
    assert vars(up.parser().parse_args([])) == {"scenario": "healthy", "kserve": ""}
