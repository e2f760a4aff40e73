"""Inference: Loaded is not serving; the model must answer its known sample correctly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_kfs import Code, Deployer, Finding, ModelHandle, Sample, Serving, fail_with, sample_for


def _serving_model(
    kfs_deploy: Deployer, kfs_serving: Serving, protocol: str | None
) -> tuple[ModelHandle, Sample]:
    config = kfs_serving.config
    sample = sample_for(config.storage_uri, protocol or "v1", config.sample)
    if sample is None or not sample.example_input:
        pytest.skip(f"no known input and answer for {config.storage_uri}")
    if config.min_replicas == 0 and kfs_serving.gcs_endpoint:
        pytest.skip("the embedded cluster has no activator to wake a scaled-to-zero model")
    # Over v2, KServe's docs name the runtime (kserve-sklearnserver): without it KServe picks
    # the highest-priority runtime for the format, MLServer for sklearn on v2.
    model = kfs_deploy(
        storage_uri=config.storage_uri,
        model_format=config.model_format,
        service_account=kfs_serving.service_account,
        runtime=config.runtime or sample.runtime,
        protocol=protocol,
        min_replicas=config.min_replicas,
    )
    model.require_loaded()
    return model, sample


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_the_model_answers_its_sample_correctly(
    kfs_deploy: Deployer,
    kfs_serving: Serving,
    protocol: str,
    kfs_property: Callable[[str, object], None],
) -> None:
    model, sample = _serving_model(kfs_deploy, kfs_serving, protocol)
    rows = [list(row) for row in sample.example_input]
    first = model.predict(rows)
    warm = model.predict(rows)
    kfs_property("first_request_s", round(first.seconds, 4))
    kfs_property("warm_request_s", round(warm.seconds, 4))
    if first.predictions != list(sample.expected_output):
        fail_with(
            Finding(
                Code.PREDICTION_WRONG,
                f"{model.name} over {protocol} answered {first.predictions} for {rows}; expected "
                f"{list(sample.expected_output)}",
                (),
                f"gcloud storage ls --long {kfs_serving.config.storage_uri} # is this the model "
                "the sample is for?",
            )
        )
