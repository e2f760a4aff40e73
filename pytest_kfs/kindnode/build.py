"""A kind node image built from source, for where `kindest/node` cannot be pulled (issue 37).

    python -m pytest_kfs.kindnode image     # build (root, podman), once per version

Steps, each cached in `kind-node-<kubernetes>-<kind>/` beside the other builds and skipped when
its output exists; the whole build holds that cache's lock, so two runs build once:

1. base: `debootstrap --variant=minbase bookworm` with Debian's containerd, runc, CNI plugins,
   iptables, conntrack and systemd, laid out as kind's own `images/base` lays it out (its files
   come from the pinned kind module in the Go module cache, so they match the kind CLI).
2. node binaries: kubelet, kubeadm, kubectl (and kube-proxy, kube-scheduler) from the same
   pinned k8s.io/kubernetes the embedded cluster builds (`assets.build`), into /usr/bin and
   /kind/version as kind's node image build puts them.
3. the rootfs is packed and `podman import`ed as `IMAGE`, with kind's entrypoint.

What each step does to the tree is plain data (`base_layout`, `cri_base_spec`), tested as such.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_kfs.kindnode.archives import build_archives
from pytest_kfs.kindnode.base import (
    CONTROL_PLANE_BINARIES,
    IMAGE,
    IMAGE_CHANGES,
    NODE_BINARIES,
    STAGE_IMAGE,
    NodeImageError,
    build_base,
    cache_dir,
    image_present,
    lock,
    podman_binary,
    under,
)
from pytest_kfs.kindnode.preload import preload, write_manifests
from pytest_kfs.local import assets, progress


def node_binaries_plan() -> dict[str, str]:
    """Step 2 as data: node path -> binary name in the Kubernetes build cache."""
    return {f"/usr/bin/{name}": name for name in NODE_BINARIES}


def install_node_binaries(root: Path) -> None:
    """Step 2: the pinned Kubernetes' node binaries into the tree, and /kind/version."""
    names = (*NODE_BINARIES, *CONTROL_PLANE_BINARIES)
    built = assets.cache_dir()
    if not all((built / name).is_file() for name in names):
        with assets.build_lock():  # the Kubernetes cache's builds, one at a time
            assets.build(names=names)
    for node_path, name in node_binaries_plan().items():
        target = under(root, node_path)
        shutil.copyfile(built / name, target)
        target.chmod(0o755)
    (root / "kind" / "version").write_text(assets.KUBERNETES_VERSION)


def import_image(root: Path, image: str = IMAGE) -> str:
    """Step 3: pack the tree and import it into podman as `image`."""
    tarball = cache_dir() / "node.tar.partial"  # repacked each time: a few seconds
    progress.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tarball), "."],
        "packing the node image",
        lambda line: False,
    )
    changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
    progress.run(
        [podman_binary(), "import", *changes, str(tarball), image],
        f"importing the node image as {image}",
        lambda line: False,
    )
    tarball.unlink()
    return image


def build(image: str = IMAGE) -> str:
    """The node image, built once per version; returns its name."""
    if os.geteuid() != 0:
        raise NodeImageError("building the kind node image needs root (debootstrap, chroot)")
    with lock():
        if image_present(image):
            return image
        root = build_base()
        install_node_binaries(root)
        write_manifests(root)
        archives = build_archives(root)
        stage = import_image(root, STAGE_IMAGE)
        return preload(stage, archives, image)


def main() -> int:
    """CLI: build the node image and print its name."""
    try:
        print(build())
    except (NodeImageError, assets.AssetsMissing) as problem:
        print(problem, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        print(str(failed), file=sys.stderr)
        return 1
    return 0
