"""`python -m pytest_kfs.local [build|where|up] ...`: build or show the embedded cluster's
binaries, or run it as a live cluster until Ctrl-C. Without a command: `where`."""

from __future__ import annotations

import argparse
import sys

from pytest_kfs.local import assets
from pytest_kfs.local.kserve.releases import DEFAULT_VERSION, RELEASES, UnknownRelease, release


def _releases(value: str) -> str:
    """--kserve of build and where: `all` or known versions, checked before anything runs."""
    if value != "all":
        try:
            for version in value.split(","):
                if version:
                    release(version)
        except UnknownRelease as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_kfs.local",
        description="The embedded cluster: build or show its binaries, or run it as a live "
        "cluster. Without a command: where.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    kserve = (
        f"KServe releases, comma-separated, or all (default {DEFAULT_VERSION}; "
        f"supported: {', '.join(RELEASES)})"
    )
    build = commands.add_parser(
        "build",
        help="build the binaries into the cache, once (needs Go and the Go module proxy)",
        description="Build kube-apiserver, kube-controller-manager and KServe's manager with "
        "its image stand-ins into the cache; what is built already is kept.",
    )
    build.add_argument("--kserve", type=_releases, metavar="VERSION[,VERSION]|all", help=kserve)
    where = commands.add_parser(
        "where",
        help="print the binaries the plugin would run",
        description="Print the paths of the binaries and venvs the embedded cluster runs; "
        "exits 1 naming what is missing and how to build it.",
    )
    where.add_argument("--kserve", type=_releases, metavar="VERSION[,VERSION]|all", help=kserve)
    # `up` parses its own options (pytest_kfs.local.up), so `build` and `where` never import
    # the cluster to read them.
    commands.add_parser(
        "up",
        add_help=False,
        help="run the embedded cluster as a live cluster until Ctrl-C (up --help for its options)",
    )
    for command in (build, where):  # a bad argument is told with its command's usage
        command.set_defaults(command_parser=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on success, 1 when a build or lookup fails, 2 for a usage error."""
    parser = _parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "up":
        from pytest_kfs.local import up

        return up.main(rest)
    if rest:
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(rest)}")
    kserve = getattr(args, "kserve", None)  # none without a command
    return assets.main(
        [args.command or "where", *([f"--kserve={kserve}"] if kserve is not None else [])]
    )


if __name__ == "__main__":
    raise SystemExit(main())
