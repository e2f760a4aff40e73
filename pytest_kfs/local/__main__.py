"""`python -m pytest_kfs.local build|where|up`: build or show the embedded cluster's binaries,
or run it as a live cluster until Ctrl-C."""

import sys

if sys.argv[1:2] == ["up"]:
    from pytest_kfs.local.up import main
else:
    from pytest_kfs.local.assets import main

raise SystemExit(main(sys.argv[2:] if sys.argv[1:2] == ["up"] else sys.argv[1:]))
