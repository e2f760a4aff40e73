"""One model type (`ModelSpec`) for the marker, the options, the models file, the scenarios,
`kfs_deploy`, `kfs_preflight` and the reports; and which models a suite run checks (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kserve.samples import SAMPLES

DEFAULT_SAMPLE = "sklearn-iris"


@dataclass(frozen=True)
class ModelSpec:
    """A model to deploy or check. Empty `storage_uri`/`model_format`: the sample's (by default
    sklearn-iris); empty `name`: the sample's name, else "model"."""

    name: str = ""
    storage_uri: str = ""
    model_format: str = ""
    service_account: str | None = None
    runtime: str | None = None
    protocol: str | None = None
    min_replicas: int | None = None
    sample: str | None = None  # a copy of this catalogue sample: its input and answer are known
    scenario: str | None = None  # arrange the namespace with this rehearsal scenario first

    @property
    def is_gcs(self) -> bool:
        """Whether the model lives in Google Cloud Storage."""
        return self.storage_uri.startswith("gs://")

    def resolved(self) -> ModelSpec:
        """Every gap filled from the sample; KeyError names an unknown sample, ValueError a
        storage URI without a model format."""
        if self.storage_uri and not self.sample:
            if not self.model_format:
                raise ValueError("storage_uri needs model_format (e.g. sklearn)")
            return self if self.name else self.but(name="model")
        sample_name = self.sample or DEFAULT_SAMPLE
        if sample_name not in SAMPLES:
            raise KeyError(
                f"unknown sample '{sample_name}'; known samples: {', '.join(sorted(SAMPLES))}"
            )
        sample = SAMPLES[sample_name]
        if self.model_format and self.model_format != sample.model_format:
            raise ValueError(
                f"model_format {self.model_format} is not that of sample "
                f"{sample_name} ({sample.model_format}): give your model's "
                "storage_uri without a sample"
            )
        # v1 is KServe's default protocol: the sample's manifest leaves it out, as KServe's docs do.
        protocol = sample.protocol if sample.protocol != "v1" else None
        return self.but(
            name=self.name or sample.name,
            storage_uri=self.storage_uri or sample.storage_uri,
            model_format=self.model_format or sample.model_format,
            runtime=self.runtime or sample.runtime,
            protocol=self.protocol or protocol,
            sample=sample_name,
        )

    def manifest(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The InferenceService of a resolved spec."""
        return isvc.manifest(
            self.name,
            model_format=self.model_format,
            storage_uri=self.storage_uri,
            protocol=self.protocol,
            runtime=self.runtime,
            service_account=self.service_account,
            min_replicas=self.min_replicas,
            annotations=dict(annotations) if annotations else None,
        )

    def but(self, **changes: Any) -> ModelSpec:
        """A copy with `changes`."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_isvc(cls, obj: Mapping[str, Any]) -> ModelSpec:
        """What an existing InferenceService amounts to."""
        predictor = obj["spec"]["predictor"]
        model = predictor.get("model") or {}
        return cls(
            obj["metadata"]["name"],
            model.get("storageUri", ""),
            (model.get("modelFormat") or {}).get("name", ""),
            predictor.get("serviceAccountName"),
            model.get("runtime"),
            model.get("protocolVersion"),
            predictor.get("minReplicas"),
        )


# A test's own model (`@pytest.mark.kfs(...)`) and a models file say what ModelSpec says; a
# scenario is the run's (--kfs-scenario). The marker also takes where and how long.
SPEC_KEYS = frozenset(field.name for field in dataclasses.fields(ModelSpec)) - {"scenario"}
MARKER_KEYS = SPEC_KEYS | {"namespace", "timeout"}


def spec_from_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[ModelSpec | None, dict[str, Any]]:
    """What `@pytest.mark.kfs(sample?, **fields)` says: the model (None when it names none)
    and the rest (namespace, timeout). ValueError names a key it does not know."""
    unknown = sorted(set(kwargs) - MARKER_KEYS)
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(sorted(MARKER_KEYS))}"
        )
    if len(args) > 1 or (args and "sample" in kwargs):
        raise ValueError("takes one positional argument, the sample's name, or sample=")
    fields = {key: value for key, value in kwargs.items() if key in SPEC_KEYS and value is not None}
    if args:
        fields["sample"] = args[0]
    rest = {key: value for key, value in kwargs.items() if key not in SPEC_KEYS}
    return (ModelSpec(**fields) if fields else None), rest
