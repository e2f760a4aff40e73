"""Sample model files for the local bucket: a real scikit-learn iris classifier, trained here."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from pytest_kfs.local.assets import kserve_dir, model_server_python
from pytest_kfs.local.kserve.releases import Release

# KServe's docs train the iris sample like this (sklearn's bundled dataset, no download).
_TRAIN = (
    "import sys, joblib\n"
    "from sklearn import datasets, svm\n"
    "iris = datasets.load_iris()\n"
    "model = svm.SVC(gamma='scale', random_state=0).fit(iris.data, iris.target)\n"
    "joblib.dump(model, sys.argv[1])\n"
)
PLACEHOLDER = b"pytest-kfs sample placeholder: build the model-server venv to serve it\n"
CORRUPT = b"this is not a joblib file\n"


def iris_model_bytes(release: Release) -> bytes:
    """The iris model trained by the release's sklearnserver code (cached), so that server
    loads it; a placeholder when that code is not installed."""
    python = model_server_python(release)
    if python is None:
        return PLACEHOLDER
    cached = kserve_dir(release) / "samples" / "sklearn-iris-svc.joblib"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as work:
            target = Path(work) / "model.joblib"
            subprocess.run([python, "-c", _TRAIN, str(target)], check=True, timeout=120)
            target.replace(cached)
    return cached.read_bytes()
