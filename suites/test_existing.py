"""Read-only verification of InferenceServices that already run (--kfs-existing).

Nothing here creates, patches or deletes. The run reads each kind once (InferenceServices,
pods, events, service accounts, secrets, runtimes) and checks every model from that snapshot;
a stuck model's logs are the only per-model reads. Bucket access is checked as each serving
identity through Google's APIs, once per (principal, bucket, prefix).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_kfs import CheckFailed, ExistingModel, shown


def test_the_existing_model_is_loaded(kfs_existing: ExistingModel) -> None:
    check = kfs_existing.check()
    if not check.healthy:
        raise CheckFailed(check.failure())


def test_the_serving_identity_can_read_the_existing_model(
    kfs_existing: ExistingModel, kfs_property: Callable[[str, object], None]
) -> None:
    prediction = kfs_existing.prediction()
    if prediction is None:
        pytest.skip(
            shown(f"{kfs_existing.storage_uri or 'no storageUri'} is not in Google Cloud Storage")
        )
    kfs_property("preflight", prediction.describe())
    if prediction.outcome == "unknown":
        pytest.skip(shown(f"could not check: {prediction.reason}"))
    if prediction.outcome != "loads":
        who = f" as {prediction.principal}" if prediction.principal else ""
        pytest.fail(
            shown(
                f"{prediction.code}: the serving identity cannot load "
                f"{kfs_existing.storage_uri}{who}: {prediction.reason}",
                1000,
            ),
            pytrace=False,
        )
