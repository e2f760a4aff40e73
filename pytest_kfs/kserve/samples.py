"""The sample catalogue: models KServe's own docs deploy, their input and answer (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The two rows KServe's docs send to the iris sample, and the classes it answers.
IRIS_INPUT = ((6.8, 2.8, 4.8, 1.4), (6.0, 3.4, 4.5, 1.6))
IRIS_OUTPUT = (1, 1)


@dataclass(frozen=True)
class Sample:
    """A model KServe's own docs deploy, with the storage URI they use."""

    name: str
    model_format: str
    storage_uri: str
    protocol: str = "v1"
    runtime: str | None = None
    description: str = ""
    example_input: tuple[tuple[float, ...], ...] = ()
    expected_output: tuple[Any, ...] = ()


SAMPLES: dict[str, Sample] = {
    sample.name: sample
    for sample in (
        Sample(
            name="sklearn-iris",
            model_format="sklearn",
            storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
            description="scikit-learn iris classifier, KServe v1 protocol (KServe quick start)",
            example_input=IRIS_INPUT,
            expected_output=IRIS_OUTPUT,
        ),
        Sample(
            name="sklearn-iris-v2",
            model_format="sklearn",
            storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
            protocol="v2",
            runtime="kserve-sklearnserver",
            description="the same iris model over the Open Inference (v2) protocol",
            example_input=IRIS_INPUT,
            expected_output=IRIS_OUTPUT,
        ),
    )
}


def sample_for(storage_uri: str, protocol: str = "v1", copy_of: str | None = None) -> Sample | None:
    """The catalogue sample stored at this URI (or that the model is a copy of) over
    `protocol` (else over any), if any: its input and answer are known, and its spec is the one
    KServe's docs deploy."""
    if copy_of in SAMPLES:
        storage_uri = SAMPLES[copy_of].storage_uri
    found = [s for s in SAMPLES.values() if s.storage_uri.rstrip("/") == storage_uri.rstrip("/")]
    return next((s for s in found if s.protocol == protocol), found[0] if found else None)
