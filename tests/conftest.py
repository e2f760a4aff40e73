"""Test-suite set-up shared by unit, plugin and integration tests."""

import os
from pathlib import Path

import kubernetes.client.api
import kubernetes.client.models

# pytester moves HOME into a temp dir; inner runs (and this process during such tests) must
# still find the built binaries, the venvs and the trained sample model.
os.environ.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))

# pytester restores sys.modules after each test that uses it, and the kubernetes client imports
# its models lazily: a model first imported inside such a test would be dropped afterwards and
# imported again as a new class, which the client's pydantic validators then reject ("Input
# should be ... an instance of V1Namespace"). Imported here, before any snapshot, they stay.
for _package in (kubernetes.client.models, kubernetes.client.api):
    for _name in _package.__all__:
        getattr(_package, _name)
