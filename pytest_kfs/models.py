"""The models a suite run checks: from options, a scenario, or the default sample (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_kfs.config import Settings
from pytest_kfs.inferenceservice import SAMPLES


@dataclass(frozen=True)
class ModelConfig:
    """One model the suites deploy and check."""

    name: str
    storage_uri: str
    model_format: str
    service_account: str | None = None
    runtime: str | None = None
    protocol: str | None = None
    min_replicas: int | None = None
    scenario: str | None = None  # arrange the namespace with this embedded scenario first
    sample: str | None = None  # a copy of this catalogue sample: its input and answer are known

    @property
    def is_gcs(self) -> bool:
        """Whether the model lives in Google Cloud Storage."""
        return self.storage_uri.startswith("gs://")


def configured_models(settings: Settings) -> list[ModelConfig]:
    """--kfs-models, else --kfs-storage-uri, else the target's rehearsal models (the embedded
    cluster's --kfs-scenario, by default its healthy one), else the sklearn-iris sample."""
    if settings.models:
        return [ModelConfig(m.name, m.storage_uri, m.model_format, m.service_account,
                            m.runtime, m.protocol, sample=m.sample) for m in settings.models]
    if settings.model is not None:
        return [ModelConfig("model", settings.model.storage_uri, settings.model.model_format,
                            settings.model.service_account)]
    rehearsal = settings.target.rehearsal() if settings.target is not None else None
    if rehearsal is not None:
        return rehearsal.default_models(settings.scenario)
    sample = SAMPLES["sklearn-iris"]
    return [ModelConfig(sample.name, sample.storage_uri, sample.model_format,
                        sample=sample.name)]


def config_from_isvc(obj: dict[str, Any]) -> ModelConfig:
    """The ModelConfig an existing InferenceService amounts to."""
    predictor = obj["spec"]["predictor"]
    model = predictor.get("model") or {}
    return ModelConfig(obj["metadata"]["name"], model.get("storageUri", ""),
                       (model.get("modelFormat") or {}).get("name", ""),
                       predictor.get("serviceAccountName"), model.get("runtime"),
                       model.get("protocolVersion"), predictor.get("minReplicas"))
