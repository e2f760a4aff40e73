"""Test-suite set-up shared by unit, plugin and integration tests."""

import os

from pytest_kfs.local.assets import cache_dir

# pytester moves HOME into a temp dir; inner runs must still find the built binaries.
os.environ.setdefault("KFS_ASSETS", str(cache_dir()))
