"""`python -m pytest_kfs.kindnode [engine|image]`: set up the container engine kind runs on, or
build the kind node image from source. Without a command: `engine`."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_kfs.kindnode",
        description="The kind node: the container engine and a node image built from source.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.add_parser(
        "engine",
        help="set up the container engine the kind target runs on (root; only what is missing)",
        description="Install podman, runc and debootstrap from Debian, write the podman settings "
        "this host needs into a drop-in of pytest-kfs's own, make /lib/modules; only what is "
        "missing. Not root: says in one line what is needed.",
    )
    commands.add_parser(
        "image",
        help="build a kind node image from source into podman, once (root)",
        description="Build the kind node image from Debian and the pinned Kubernetes, cached "
        "by version; for where kindest/node cannot be pulled.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on success, 1 when set-up or the build fails, 2 for a usage error."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "image":
        from pytest_kfs.kindnode import build

        return build.main()
    from pytest_kfs.kindnode import engine

    return engine.main()


if __name__ == "__main__":
    raise SystemExit(main())
