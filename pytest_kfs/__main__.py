"""`python -m pytest_kfs diagnose PATH... [--log CONTAINER=FILE] [--kubectl FILE] [--json]`:
diagnose what was pasted from a cluster (InferenceService, pods and events as YAML, describe
tables, logs) with no cluster at hand.

`python -m pytest_kfs merge REPORT.json... --out MERGED.json [--html PAGE] [--markdown FILE]`:
the reports of one run per cluster as one, each model with its cluster."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pytest_kfs.diagnosis.pasted import (
    PASTED_LIMIT,
    TEXT_TAIL,
    Diagnosis,
    Pasted,
    diagnose_pasted,
    read_text,
)
from pytest_kfs.errors import InputRefused, UnreadableInput
from pytest_kfs.reports.terminal import format_findings
from pytest_kfs.untrusted import printable, read_limited, tail

_USAGE = "python -m pytest_kfs diagnose PATH... [--log CONTAINER=FILE] [--kubectl FILE] [--json]"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_kfs",
        description="pytest-kfs without a cluster: diagnose what was pasted from one, or merge "
        "the reports of runs against several.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )
    diagnose = commands.add_parser(
        "diagnose",
        help="diagnose pasted evidence (no cluster needed)",
        description="Files: `kubectl get inferenceservice NAME -o yaml`, `kubectl get "
        "pods,events -o yaml` (a List), `kubectl describe` output with an Events "
        "table, and logs named POD.CONTAINER.log. Any subset: what is not given "
        "is unknown, not empty.",
    )
    diagnose.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        type=Path,
        help="kubectl YAML or describe output, or a POD.CONTAINER.log",
    )
    diagnose.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="CONTAINER=FILE",
        help="a container's log (storage-initializer, kserve-container)",
    )
    diagnose.add_argument(
        "--kubectl",
        type=Path,
        metavar="FILE",
        help="what kubectl or an SDK printed (e.g. a refusal on create)",
    )
    diagnose.add_argument("--json", action="store_true", help="print JSON")
    merge = commands.add_parser(
        "merge",
        help="merge --kfs-report files of several runs (one per cluster)",
        description="Prints the merged summary; exits 1 when a model is not loaded.",
    )
    merge.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT",
        type=Path,
        help="a JSON report written by --kfs-report",
    )
    merge.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="MERGED.json",
        help="where the merged JSON report goes",
    )
    merge.add_argument("--html", type=Path, metavar="PAGE", help="also an HTML report")
    merge.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)",
    )
    for command in (diagnose, merge):  # a bad argument is told with its command's usage
        command.set_defaults(command_parser=command)
    return parser


def _merge(args: argparse.Namespace) -> int:
    from pytest_kfs.errors import UnreadableReport
    from pytest_kfs.reports.html import render as render_html
    from pytest_kfs.reports.merge import merge, output_problem, read_report, write_all
    from pytest_kfs.reports.terminal import markdown_summary, summary_rows

    named = [("--out", args.out), ("--html", args.html), ("--markdown", args.markdown)]
    problem = output_problem(args.reports, [(option, path) for option, path in named if path])
    if problem:  # before anything is read or written
        print(f"pytest-kfs merge: {printable(problem)}", file=sys.stderr)
        return 2
    try:
        merged = merge([read_report(path) for path in args.reports])
    except UnreadableReport as error:
        print(f"pytest-kfs merge: {printable(str(error))}", file=sys.stderr)
        return 2
    records = merged["models"]
    outputs: list[tuple[Path, Callable[[], str]]] = [
        (args.out, lambda: json.dumps(merged, indent=2))
    ]
    if args.html:
        outputs.append(
            (
                args.html,
                lambda: render_html(
                    records,
                    cluster=", ".join(merged["cluster"]["contexts"]),
                    run_id=merged["run_id"],
                ),
            )
        )
    if args.markdown:
        outputs.append((args.markdown, lambda: markdown_summary(records)))
    try:  # all rendered first, then written beside and renamed: all of them or none
        write_all([(path, text()) for path, text in outputs])
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"pytest-kfs merge: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    print("\n".join(summary_rows(records)))
    return 0 if all(record["loaded"] for record in records) else 1


def _read(path: Path) -> str:
    """A pasted file: a regular file of at most PASTED_LIMIT bytes (a log's stray bytes are
    replaced, not refused)."""
    try:
        data = read_limited(path, PASTED_LIMIT, str(path))
    except OSError as error:
        raise UnreadableInput(f"{path}: {error.strerror or error}") from None
    except InputRefused as error:
        raise UnreadableInput(str(error)) from None
    return data.decode("utf-8", errors="replace")


def gather(paths: list[Path], logs: list[str], kubectl: Path | None = None) -> Pasted:
    """Sort the given files into a Pasted; UnreadableInput names the first bad one."""
    pasted = Pasted(texts={"kubectl": tail(_read(kubectl), TEXT_TAIL)} if kubectl else {})
    for option in logs:
        container, sep, file = option.partition("=")
        if not sep or not container or not file:
            raise UnreadableInput(f"--log {option}: expected CONTAINER=FILE")
        pasted.logs[container] = tail(_read(Path(file)), TEXT_TAIL)
    for path in paths:
        if path.suffix == ".log":
            pod, _, container = path.stem.rpartition(".")
            if not pod or not container:
                raise UnreadableInput(
                    f"{path}: name a log POD.CONTAINER.log, or pass --log CONTAINER=FILE"
                )
            pasted.logs[f"{pod}/{container}"] = tail(_read(path), TEXT_TAIL)
        else:
            read_text(_read(path), pasted, str(path))
    return pasted


def render(result: Diagnosis) -> str:
    """The answer first (cause, fix), then the verdict, the findings and what is unknown."""
    lines = []
    if result.findings:
        top = result.findings[0]
        lines += [f"{top.code}: {top.cause}" + (f" — fix: {top.fix}" if top.fix else ""), ""]
    lines += [f"verdict: {result.verdict} — {result.statement}", "", "Findings:"]
    lines += format_findings(result.findings)
    if result.unknown:
        lines += ["", f"Not given, so unknown: {', '.join(result.unknown)}"]
    return "\n".join(printable(line) for line in lines)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the model (every model) serves, 1 when not or unknown, 2 for bad input."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        args.command_parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "merge":
        return _merge(args)
    if not args.paths and not args.log and not args.kubectl:
        print(f"pytest-kfs diagnose: nothing given; usage: {_USAGE}", file=sys.stderr)
        return 2
    try:
        result = diagnose_pasted(gather(args.paths, args.log, args.kubectl))
    except UnreadableInput as error:
        print(f"pytest-kfs diagnose: {printable(str(error))}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2) if args.json else render(result))
    return 0 if result.verdict in ("loaded", "scaled-to-zero") else 1


if __name__ == "__main__":
    raise SystemExit(main())
