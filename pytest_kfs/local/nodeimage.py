"""A kind node image built from source, for where `kindest/node` cannot be pulled (issue 37).

    python -m pytest_kfs.local kind-node     # build (root, podman), once per version

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

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_kfs.errors import KfsError
from pytest_kfs.local import assets, progress

KIND_MODULE = "sigs.k8s.io/kind"
KIND_VERSION = "v0.30.0"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
IMAGE = f"localhost/pytest-kfs/kind-node:{assets.KUBERNETES_VERSION}"
# kind's images/base installs these (less nfs-common and open-iscsi, which only storage tests
# use); its containerd, runc and CNI plugins are built from source there, Debian's here.
PACKAGES = (
    "systemd",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "fuse-overlayfs",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
    "containerd",
    "runc",
    "containernetworking-plugins",
)
# kind's images/base/Dockerfile: `ENTRYPOINT [...]`, `ENV container=docker`, `STOPSIGNAL`.
IMAGE_CHANGES = (
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
    "ENV container=docker",
    "STOPSIGNAL SIGRTMIN+3",
)
NODE_BINARIES = ("kubelet", "kubeadm", "kubectl")
CONTROL_PLANE_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)
ENABLED_SERVICES = ("kubelet.service", "containerd.service", "undo-mount-hacks.service")


class NodeImageError(KfsError, RuntimeError):
    """The node image cannot be built here; the message says why and what is needed."""


@dataclass(frozen=True)
class Copy:
    """A file of kind's images/base/files put at `target` with `mode`."""

    source: str
    target: str
    mode: int


@dataclass(frozen=True)
class Layout:
    """What kind's images/base does to a Debian tree, as data."""

    copies: tuple[Copy, ...]
    # link path -> what it points at
    links: tuple[tuple[str, str], ...]
    # globs of paths removed (systemd units a container must not start)
    removals: tuple[str, ...]
    directories: tuple[str, ...]
    appends: tuple[tuple[str, str], ...]


def _mode(relative: str) -> int:
    # kind's Dockerfile: usr/local/bin and kind/bin executable, everything else 0644.
    executable = relative.startswith(("usr/local/bin/", "kind/bin/"))
    return 0o755 if executable else 0o644


def base_layout(files: list[str]) -> Layout:
    """kind's images/base steps for the files under images/base/files (paths relative to it)."""
    copies = tuple(Copy(name, "/" + name, _mode(name)) for name in sorted(files))
    wants = "/etc/systemd/system/multi-user.target.wants"
    links = (
        ("/sbin/init", "/lib/systemd/systemd"),
        # kind's units and config name the paths of its own builds; Debian's live elsewhere.
        ("/usr/local/bin/containerd", "/usr/bin/containerd"),
        ("/usr/local/bin/containerd-shim-runc-v2", "/usr/bin/containerd-shim-runc-v2"),
        ("/usr/local/bin/ctr", "/usr/bin/ctr"),
        ("/usr/local/sbin/runc", "/usr/sbin/runc"),
        ("/opt/cni/bin", "/usr/lib/cni"),
        *((f"{wants}/{unit}", f"/etc/systemd/system/{unit}") for unit in ENABLED_SERVICES),
        ("/etc/systemd/system/systemd-binfmt.service", "/dev/null"),  # systemctl mask
    )
    removals = (
        "/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
        "/lib/systemd/system/multi-user.target.wants/*",
        "/etc/systemd/system/*.wants/*",
        "/lib/systemd/system/local-fs.target.wants/*",
        "/lib/systemd/system/sockets.target.wants/*udev*",
        "/lib/systemd/system/sockets.target.wants/*initctl*",
        "/lib/systemd/system/basic.target.wants/*",
    )
    return Layout(
        copies=copies,
        links=links,
        removals=removals,
        directories=("/etc/kubernetes/manifests", "/kind/bin", "/opt/cni"),
        appends=(("/etc/systemd/journald.conf", "ReadKMsg=no\n"),),
    )


def cri_base_spec(default_spec: dict[str, Any]) -> dict[str, Any]:
    """kind's /etc/containerd/cri-base.json from `ctr oci spec`: its product-files hook added,
    the process rlimits dropped."""
    spec: dict[str, Any] = json.loads(json.dumps(default_spec))
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return spec


def debootstrap_command(target: Path) -> list[str]:
    """The base step's command."""
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        MIRROR,
    ]


def cache_dir() -> Path:
    """The node image's cache: the base tree, the packed image, the stamp of its import."""
    return assets._cache_root() / f"kind-node-{assets.KUBERNETES_VERSION}-kind{KIND_VERSION}"


@contextmanager
def _lock() -> Iterator[None]:
    with assets.build_lock(cache_dir()):
        yield


def _kind_files() -> Path:
    return assets._module_dir(KIND_MODULE, KIND_VERSION) / "images" / "base" / "files"


def _under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def apply_layout(root: Path, layout: Layout, files: Path) -> None:
    """Carry out `layout` on the tree at `root`, kind's files taken from `files`."""
    for pattern in layout.removals:
        for found in root.glob(pattern.lstrip("/")):
            if found.is_symlink() or found.is_file():
                found.unlink()
    for directory in layout.directories:
        _under(root, directory).mkdir(parents=True, exist_ok=True)
    for copy in layout.copies:
        target = _under(root, copy.target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files / copy.source, target)
        target.chmod(copy.mode)
    for link, points_at in layout.links:
        path = _under(root, link)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            path.rmdir()
        path.symlink_to(points_at)
    for name, text in layout.appends:
        with _under(root, name).open("a") as handle:
            handle.write(text)


def build_base() -> Path:
    """Step 1: the Debian tree laid out as kind's base image; idempotent."""
    root = cache_dir() / "rootfs"
    if (root / "kind" / ".base-done").is_file():
        return root
    if shutil.which("debootstrap") is None:
        raise NodeImageError(
            "debootstrap is not installed; `python -m pytest_kfs.local engine` installs it"
        )
    files = _kind_files()
    partial = cache_dir() / "rootfs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    progress.run(
        debootstrap_command(partial),
        f"debootstrap {SUITE} with {len(PACKAGES)} packages for the kind node image",
        lambda line: line.startswith(("I: Retrieving", "I: Extracting", "I: Unpacking")),
        unit="debootstrap steps",
    )
    listed = [str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()]
    apply_layout(partial, base_layout(listed), files)
    default = subprocess.run(
        ["chroot", str(partial), "ctr", "oci", "spec"], check=True, capture_output=True, text=True
    )
    spec = cri_base_spec(json.loads(default.stdout))
    (partial / "etc" / "containerd" / "cri-base.json").write_text(json.dumps(spec, indent=2))
    for clean in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        shutil.rmtree(partial / clean, ignore_errors=True)
        (partial / clean).mkdir(parents=True, exist_ok=True)
    (partial / "kind" / ".base-done").write_text(f"{time.monotonic() - started:.0f} s\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def node_binaries_plan() -> dict[str, str]:
    """Step 2 as data: node path -> binary name in the Kubernetes build cache."""
    return {f"/usr/bin/{name}": name for name in NODE_BINARIES}


def install_node_binaries(root: Path) -> None:
    """Step 2: the pinned Kubernetes' node binaries into the tree, and /kind/version."""
    names = (*NODE_BINARIES, *CONTROL_PLANE_BINARIES)
    with assets.build_lock():
        built = assets.build(names=names)
    for node_path, name in node_binaries_plan().items():
        target = _under(root, node_path)
        shutil.copyfile(built / name, target)
        target.chmod(0o755)
    (root / "kind" / "version").write_text(assets.KUBERNETES_VERSION)


def _podman() -> str:
    podman = shutil.which("podman")
    if podman is None:
        raise NodeImageError(
            "podman is not installed; `python -m pytest_kfs.local engine` sets it up"
        )
    return podman


def image_present(image: str = IMAGE) -> bool:
    """Whether the engine holds the node image."""
    podman = shutil.which("podman")
    if podman is None:
        return False
    found = subprocess.run([podman, "image", "exists", image], check=False)
    return found.returncode == 0


def import_image(root: Path, image: str = IMAGE) -> str:
    """Step 3: pack the tree and import it into podman as `image`."""
    tarball = cache_dir() / "node.tar"
    if not tarball.is_file():
        partial = cache_dir() / "node.tar.partial"
        progress.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
            "packing the node image",
            lambda line: False,
        )
        partial.rename(tarball)
    changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
    progress.run(
        [_podman(), "import", *changes, str(tarball), image],
        f"importing the node image as {image}",
        lambda line: False,
    )
    return image


def build(image: str = IMAGE) -> str:
    """The node image, built once per version; returns its name."""
    if os.geteuid() != 0:
        raise NodeImageError("building the kind node image needs root (debootstrap, chroot)")
    with _lock():
        if image_present(image):
            return image
        root = build_base()
        install_node_binaries(root)
        return import_image(root, image)


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
