"""What the embedded node is and runs: its name and size, the release's images, its delays."""

from __future__ import annotations

from dataclasses import dataclass

NODE_NAME = "kfs-local-node"
NODE_MEMORY = "16Gi"
NODE_CPU = "8"
INITIALIZER, SKLEARN = "initializer", "sklearn"


@dataclass(frozen=True)
class Images:
    """What the node runs for the KServe release's images: image -> step, step -> Python."""

    steps: dict[str, str]
    initializer_python: str
    model_server_python: str | None

    def step(self, image: str) -> str | None:
        """'initializer', 'sklearn', or None for an image the release does not ship."""
        return self.steps.get(image.removeprefix("docker.io/"))


@dataclass
class Timing:
    """Delays of the embedded cluster (seconds); small by default so tests are fast."""

    pull: float = 0.02
    backoff_base: float = 0.5
    backoff_max: float = 5.0
    resync: float = 5.0
