"""The node image's base: its names and versions, and the Debian tree laid out as kind's own
`images/base` lays it out (step 1 of the build; `build.py` runs the steps)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
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
# The tree as imported, before images are preloaded into its containerd.
STAGE_IMAGE = f"localhost/pytest-kfs/kind-node-stage:{assets.KUBERNETES_VERSION}"
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
# kubeadm v1.34's defaults (cmd/kubeadm/app/constants): `kubeadm config images list`.
PAUSE_VERSION = "3.10.1"
ETCD_VERSION = "3.6.5-0"
COREDNS_VERSION = "v1.12.1"
# The Go sources of kind's own images (kind's images/ and kindnet's module).
KIND_IMAGE_SOURCES = {
    # kind's images/kindnetd is a module nested in its repository, which the Go module proxy
    # here does not serve (403 for its commit), nor its successor github.com/aojea/kindnet.
    "kindnetdImage": "none here: images/kindnetd of kind's repository (not on the proxy)",
    "storageProvisionerImage": "github.com/rancher/local-path-provisioner@v0.0.30",
    "storageHelperImage": "Debian (kind's images/local-path-helper: a shell and coreutils)",
}
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
    # (path, text, replacement): edits of kind's files for this kind of host
    edits: tuple[tuple[str, str, str], ...] = ()
    writes: tuple[tuple[str, str], ...] = ()


def _mode(relative: str) -> int:
    # kind's Dockerfile: usr/local/bin and kind/bin executable, everything else 0644.
    executable = relative.startswith(("usr/local/bin/", "kind/bin/"))
    return 0o755 if executable else 0o644


# kindnetd cannot be built here: the pod network of a single node is what kindnet would write
# for it, with Debian's ptp, host-local and portmap plugins, on kind's default pod subnet's
# first /24 (kind's podSubnet 10.244.0.0/16; the control plane's podCIDR 10.244.0.0/24).
POD_CIDR = "10.244.0.0/24"
CNI_CONFIG = {
    "cniVersion": "0.3.1",
    "name": "kindnet",
    "plugins": [
        {
            "type": "ptp",
            "ipMasq": False,
            "mtu": 1500,
            "ipam": {
                "type": "host-local",
                "dataDir": "/run/cni-ipam-state",
                "routes": [{"dst": "0.0.0.0/0"}],
                "ranges": [[{"subnet": POD_CIDR}]],
            },
        },
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}


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
        writes=(("/etc/cni/net.d/10-kindnet.conflist", json.dumps(CNI_CONFIG, indent=2)),),
        edits=(
            # Root may lack CAP_SYS_RESOURCE (this machine): a negative oom_score_adj, which
            # kubelet asks for every sandbox and static pod, then fails in runc with "can't
            # get final child's PID from pipe: EOF". Clamped to containerd's own, it starts
            # (what kind's entrypoint does for rootless nodes).
            (
                "/etc/containerd/config.toml",
                "restrict_oom_score_adj = false",
                "restrict_oom_score_adj = true",
            ),
        ),
    )


def cri_base_spec(default_spec: dict[str, Any]) -> dict[str, Any]:
    """kind's /etc/containerd/cri-base.json from `ctr oci spec`: its product-files hook added,
    the process rlimits dropped."""
    spec: dict[str, Any] = json.loads(json.dumps(default_spec))
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return spec


def debootstrap_command(
    target: Path, suite: str = SUITE, packages: tuple[str, ...] = PACKAGES
) -> list[str]:
    """A minimal Debian `suite` with `packages` at `target` (by default the node's base)."""
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        suite,
        str(target),
        MIRROR,
    ]


def cache_dir() -> Path:
    """The node image's cache: the base tree, the packed image, the stamp of its import."""
    return assets._cache_root() / f"kind-node-{assets.KUBERNETES_VERSION}-kind{KIND_VERSION}"


@contextmanager
def lock() -> Iterator[None]:
    with assets.build_lock(cache_dir()):
        yield


def kind_files() -> Path:
    return assets._module_dir(KIND_MODULE, KIND_VERSION) / "images" / "base" / "files"


def under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def apply_layout(root: Path, layout: Layout, files: Path) -> None:
    """Carry out `layout` on the tree at `root`, kind's files taken from `files`."""
    for pattern in layout.removals:
        for found in root.glob(pattern.lstrip("/")):
            if found.is_symlink() or found.is_file():
                found.unlink()
    for directory in layout.directories:
        under(root, directory).mkdir(parents=True, exist_ok=True)
    for copy in layout.copies:
        target = under(root, copy.target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files / copy.source, target)
        target.chmod(copy.mode)
    for link, points_at in layout.links:
        path = under(root, link)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            path.rmdir()
        path.symlink_to(points_at)
    for name, text in layout.appends:
        with under(root, name).open("a") as handle:
            handle.write(text)
    for name, text in layout.writes:
        under(root, name).parent.mkdir(parents=True, exist_ok=True)
        under(root, name).write_text(text)
    for name, old, new in layout.edits:
        path = under(root, name)
        content = path.read_text()
        if old not in content:
            raise NodeImageError(f"kind's {name} no longer says {old!r}; update base_layout")
        path.write_text(content.replace(old, new))


def base_key(layout: Layout) -> str:
    """What the base tree is made of, as a digest: a change to the packages or the layout
    makes a new tree."""
    made = json.dumps([SUITE, PACKAGES, dataclasses.asdict(layout)], sort_keys=True)
    return hashlib.sha256(made.encode()).hexdigest()[:16]


def build_base() -> Path:
    """Step 1: the Debian tree laid out as kind's base image; idempotent."""
    root = cache_dir() / "rootfs"
    files = kind_files()
    listed = [str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()]
    layout = base_layout(listed)
    stamp = root / "kind" / ".base-done"
    if stamp.is_file() and stamp.read_text().split()[0] == base_key(layout):
        return root
    if shutil.which("debootstrap") is None:
        raise NodeImageError(
            "debootstrap is not installed; `python -m pytest_kfs.kindnode engine` installs it"
        )
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
    apply_layout(partial, layout, files)
    default = subprocess.run(
        ["chroot", str(partial), "ctr", "oci", "spec"], check=True, capture_output=True, text=True
    )
    spec = cri_base_spec(json.loads(default.stdout))
    (partial / "etc" / "containerd" / "cri-base.json").write_text(json.dumps(spec, indent=2))
    for clean in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        shutil.rmtree(partial / clean, ignore_errors=True)
        (partial / clean).mkdir(parents=True, exist_ok=True)
    (partial / "kind" / ".base-done").write_text(
        f"{base_key(layout)} built in {time.monotonic() - started:.0f} s\n"
    )
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def podman_binary() -> str:
    podman = shutil.which("podman")
    if podman is None:
        raise NodeImageError(
            "podman is not installed; `python -m pytest_kfs.kindnode engine` sets it up"
        )
    return podman


def image_present(image: str = IMAGE) -> bool:
    """Whether the engine holds the node image."""
    podman = shutil.which("podman")
    if podman is None:
        return False
    found = subprocess.run([podman, "image", "exists", image], check=False)
    return found.returncode == 0
