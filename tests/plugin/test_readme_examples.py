"""The README's own test examples, run as written: the embedded cluster as a live context
(`--kfs-cluster=<context>`), its local Google Cloud holding the bucket they name, a key file
for the reader, and `--kfs-serving-key` as the README says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pytest_kfs.local.kserve.releases import release
from pytest_kfs.local.samples import iris_model_bytes
from pytest_kfs.local.scenarios import PROJECT

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _example() -> str:
    block = re.search(r"## Writing your own checks\n\n```python\n(.+?)\n```", README, re.S)
    assert block, "the README's example of own checks"
    return block[1]


def test_the_readme_examples_pass_as_written(
    pytester, kfs_cluster, kfs_gcp, kfs_gcs_endpoint, monkeypatch
):
    # The bucket and versions the examples name, with a real iris model in each.
    uris = set(re.findall(r"gs://[a-z0-9-]+/[\w/.-]+", _example()))
    assert uris == {"gs://ml-models/iris/v7", "gs://ml-models/iris/v8"}
    kfs_gcp.ensure_bucket("ml-models", PROJECT)
    for uri in sorted(uris):
        kfs_gcp.put_object(
            "ml-models",
            uri.removeprefix("gs://ml-models/") + "/model.joblib",
            iris_model_bytes(release()),
        )
    reader = f"iris-reader@{PROJECT}.iam.gserviceaccount.com"
    kfs_gcp.ensure_service_account(reader)
    kfs_gcp.grant_bucket("ml-models", "roles/storage.objectViewer", f"serviceAccount:{reader}")
    key = pytester.path / "iris-reader-key.json"
    key.write_text(json.dumps(kfs_gcp.create_key(reader)))
    pytester.makepyfile(test_readme=_example())
    monkeypatch.setenv("KFS_GCS_ENDPOINT", kfs_gcs_endpoint)
    command = re.search(
        r"Run against a cluster with `pytest (--kfs-cluster=<context> "
        r"--kfs-serving-key=\S+)`",
        README,
    )
    assert command, "the README's command for its examples"
    options = command[1].replace("<context>", kfs_cluster.context).split()
    result = pytester.runpytest_subprocess(
        *options,
        f"--kfs-kubeconfig={kfs_cluster.kubeconfig}",
        "-p",
        "no:cacheprovider",
        "-rfEs",
        timeout=300,
    )
    result.assert_outcomes(passed=3)
    assert key.read_text() and json.loads(key.read_text())["private_key"] not in result.stdout.str()
