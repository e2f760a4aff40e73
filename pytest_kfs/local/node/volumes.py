"""A pod's folder on the node: its volumes (emptyDir as is, a secret as a file per key), and
paths inside its containers mapped to the folders they mount."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any


class PodVolumes:
    """The folder of one pod: `volumes/<name>` per volume, `gcloud` for its SDK config."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self) -> None:
        """The pod's folder and its gcloud config folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "gcloud").mkdir(exist_ok=True)

    def folder(self, volume: str) -> Path:
        """A volume's folder, created empty if it is not there (an emptyDir)."""
        folder = self.root / "volumes" / volume
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def fill_secret(self, volume: str, data: dict[str, str] | None) -> None:
        """A secret volume: each key a file holding the decoded value."""
        folder = self.folder(volume)
        for key, value in (data or {}).items():
            (folder / key).write_bytes(base64.b64decode(value))

    def host_path(self, value: str, spec: dict[str, Any]) -> str:
        """A path inside the container (or `--flag=path`) as the path of the pod's folder."""
        flag, equals, path = value.rpartition("=") if value.startswith("--") else ("", "", value)
        for mount in spec.get("volumeMounts") or []:
            mount_path = mount["mountPath"].rstrip("/")
            if path == mount_path or path.startswith(mount_path + "/"):
                folder = str(self.root / "volumes" / mount["name"])
                return flag + equals + folder + path[len(mount_path) :]
        return value
