"""`python -m pytest_kfs.local build|where`: build or show the embedded cluster's binaries."""

import sys

from pytest_kfs.local.assets import main

raise SystemExit(main(sys.argv[1:]))
