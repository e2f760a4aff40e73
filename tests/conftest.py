"""Test-suite set-up shared by unit, plugin and integration tests."""

import os
from pathlib import Path

# pytester moves HOME into a temp dir; inner runs (and this process during such tests) must
# still find the built binaries, the venvs and the trained sample model.
os.environ.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))
