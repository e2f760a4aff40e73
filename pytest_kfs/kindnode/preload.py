"""What is preloaded into the node's containerd, and how: kind's manifests, the upstream
image names kubeadm and kind expect, and the build container that imports the archives."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from pytest_kfs.kindnode.base import (
    CONTROL_PLANE_BINARIES,
    COREDNS_VERSION,
    ETCD_VERSION,
    IMAGE,
    IMAGE_CHANGES,
    KIND_IMAGE_SOURCES,
    PAUSE_VERSION,
    kind_files,
    podman_binary,
    under,
)
from pytest_kfs.local import progress

# What kind's node image build writes (pkg/build/nodeimage/const*.go), by node path.
MANIFESTS = {
    "/kind/manifests/default-cni.yaml": ("const_cni.go", "defaultCNIManifest"),
    "/kind/manifests/default-storage.yaml": ("const_storage.go", "defaultStorageManifest"),
}
_GO_STRING = re.compile(r'^const (\w+) = "([^"]*)"$', re.MULTILINE)


def go_manifest(source: str, name: str) -> str:
    """The value of kind's Go constant `name`: raw strings joined with `+` to string constants
    declared in the same file (how kind writes its CNI and storage manifests)."""
    strings = dict(_GO_STRING.findall(source))
    start = source.index(f"const {name} = `") + len(f"const {name} = ")
    parts: list[str] = []
    rest = source[start:]
    while True:
        if not rest.startswith("`"):
            raise ValueError(f"{name}: expected a raw string at {rest[:30]!r}")
        end = rest.index("`", 1)
        parts.append(rest[1:end])
        rest = rest[end + 1 :].lstrip(" ")
        joined = re.match(r"\+ (\w+) \+ ", rest)
        if joined is None:
            return "".join(parts)
        parts.append(strings[joined.group(1)])
        rest = rest[joined.end() :]


def preload_plan(kubernetes: str, kind_source: dict[str, str]) -> dict[str, str]:
    """Upstream image name -> where it is built from: what kubeadm and kind's manifests expect
    in containerd, none of it pulled (`kind_source`: kind's const_*.go files by name)."""
    images = {
        f"registry.k8s.io/{name}:{kubernetes}": f"k8s.io/kubernetes/cmd/{name}"
        for name in CONTROL_PLANE_BINARIES
    }
    images |= {
        f"registry.k8s.io/pause:{PAUSE_VERSION}": "k8s.io/kubernetes build/pause/linux/pause.c",
        "registry.k8s.io/pause:3.10": "the same pause (kind's containerd sandbox_image)",
        f"registry.k8s.io/etcd:{ETCD_VERSION}": "go.etcd.io/etcd/server/v3",
        f"registry.k8s.io/coredns/coredns:{COREDNS_VERSION}": "github.com/coredns/coredns",
    }
    for source in kind_source.values():
        for const, image in _GO_STRING.findall(source):
            if const.endswith("Image"):
                images[image] = KIND_IMAGE_SOURCES[const]
    return images


def write_manifests(root: Path) -> None:
    """kind's default CNI (kindnet) and storage (local-path) manifests, from the kind module."""
    source = kind_files().parents[2] / "pkg" / "build" / "nodeimage"
    for node_path, (file, const) in MANIFESTS.items():
        target = under(root, node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(go_manifest((source / file).read_text(), const))


def preload_command(archive: str) -> list[str]:
    """kind's own import of a preloaded image (pkg/build/nodeimage/imageimporter.go)."""
    return [
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--label=io.cri-containerd.pinned=pinned",
        "--all-platforms",
        "--no-unpack",
        "--digests",
        archive,
    ]


def preload(stage: str, archives: list[Path], image: str = IMAGE) -> str:
    """Step 4: run the stage image's containerd alone in a build container (as kind's build
    does), import each archive into it, and commit the result as `image`."""
    podman = podman_binary()
    name = f"kfs-node-build-{os.getpid()}"
    folder = archives[0].parent
    subprocess.run([podman, "rm", "-f", name], check=False, capture_output=True)
    subprocess.run(
        [
            podman,
            "run",
            "-d",
            "--privileged",
            "--network=none",
            "--name",
            name,
            "-v",
            f"{folder}:/kind/images:ro",
            "--entrypoint",
            "/usr/bin/containerd",
            stage,
        ],
        check=True,
        capture_output=True,
    )
    try:
        for _ in range(30):
            ready = subprocess.run(
                [podman, "exec", name, "ctr", "version"], check=False, capture_output=True
            )
            if ready.returncode == 0:
                break
            time.sleep(1)
        for archive in archives:
            progress.run(
                [podman, "exec", name, *preload_command(f"/kind/images/{archive.name}")],
                f"preloading {archive.name}",
                lambda line: False,
            )
        subprocess.run([podman, "kill", "--signal", "TERM", name], check=True, capture_output=True)
        subprocess.run([podman, "wait", name], check=True, capture_output=True)
        changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
        progress.run(
            [podman, "commit", *changes, name, image],
            f"committing the node image as {image}",
            lambda line: False,
        )
    finally:
        subprocess.run([podman, "rm", "-f", name], check=False, capture_output=True)
    subprocess.run([podman, "rmi", stage], check=False, capture_output=True)  # only a step
    return image
