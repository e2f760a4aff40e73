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

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
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
    for name, text in layout.writes:
        _under(root, name).parent.mkdir(parents=True, exist_ok=True)
        _under(root, name).write_text(text)
    for name, old, new in layout.edits:
        path = _under(root, name)
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
    files = _kind_files()
    listed = [str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()]
    layout = base_layout(listed)
    stamp = root / "kind" / ".base-done"
    if stamp.is_file() and stamp.read_text().split()[0] == base_key(layout):
        return root
    if shutil.which("debootstrap") is None:
        raise NodeImageError(
            "debootstrap is not installed; `python -m pytest_kfs.local engine` installs it"
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


@dataclass(frozen=True)
class ImageSpec:
    """An image to preload: its upstream name(s), its files (image path -> host path) and how
    it starts."""

    tags: tuple[str, ...]
    files: tuple[tuple[str, Path], ...]
    entrypoint: tuple[str, ...] = ()
    # (link, what it points at)
    links: tuple[tuple[str, str], ...] = ()


_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def archive_metadata(
    tags: tuple[str, ...], layer_digest: str, entrypoint: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A one-layer image's config and `docker save` manifest entry (config name left to the
    caller): what `ctr images import` reads."""
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [_PATH], **({"Entrypoint": list(entrypoint)} if entrypoint else {})},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
    }
    manifest = {"RepoTags": list(tags), "Layers": [f"{layer_digest}/layer.tar"]}
    return config, manifest


def _layer(files: tuple[tuple[str, Path], ...], links: tuple[tuple[str, str], ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        made: set[str] = {link.strip("/") for link, _ in links}

        def parents(path: str) -> None:
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    made.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    layer.addfile(info)

        for link, points_at in links:
            parents(link)
            info = tarfile.TarInfo(link.strip("/"))
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, points_at, 0o777
            layer.addfile(info)
        for image_path, host_path in files:
            parents(image_path)
            parts = image_path.strip("/").split("/")
            info = layer.gettarinfo(str(host_path), arcname="/".join(parts))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755
            with host_path.open("rb") as handle:
                layer.addfile(info, handle)
    return buffer.getvalue()


def write_archive(spec: ImageSpec, target: Path) -> Path:
    """`spec` as a docker-archive tarball at `target` (written once)."""
    if target.is_file():
        return target
    layer = _layer(spec.files, spec.links)
    digest = hashlib.sha256(layer).hexdigest()
    config, manifest = archive_metadata(spec.tags, digest, spec.entrypoint)
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest["Config"] = config_name
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(partial, "w") as archive:
        for name, data in (
            (f"{digest}/layer.tar", layer),
            (config_name, config_bytes),
            ("manifest.json", json.dumps([manifest]).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    partial.rename(target)
    return target


def parse_ldd(output: str) -> list[str]:
    """The libraries `ldd` names (paths only; the vDSO has none)."""
    found = []
    for line in output.splitlines():
        words = line.split()
        if "=>" in words:
            after = words[words.index("=>") + 1]
            if after.startswith("/"):
                found.append(after)
        elif words and words[0].startswith("/"):
            found.append(words[0])
    return found


# Debian's merged /usr, as the node tree has it: staged images keep it.
MERGED_USR = (
    ("/bin", "usr/bin"),
    ("/sbin", "usr/sbin"),
    ("/lib", "usr/lib"),
    ("/lib64", "usr/lib64"),
)
XTABLES = "/usr/lib/x86_64-linux-gnu/xtables"
# iptables-wrapper's choice, in dash alone: the mode that holds more rules on the host (kube-proxy
# runs in the node's network namespace), as kind's entrypoint chooses for the node.
IPTABLES_WRAPPER = """#!/bin/sh
count() { n=0; while read -r line; do case "$line" in -*) n=$((n+1));; esac; done; echo "$n"; }
saved() { "xtables-$1-multi" iptables-save; "xtables-$1-multi" ip6tables-save; }
legacy=$(saved legacy 2>/dev/null | count)
nft=$(saved nft 2>/dev/null | count)
mode=nft
[ "$legacy" -gt "$nft" ] && mode=legacy
exec "xtables-$mode-multi" "${0##*/}" "$@"
"""
IPTABLES_COMMANDS = tuple(
    f"{family}tables{suffix}" for family in ("ip", "ip6") for suffix in ("", "-save", "-restore")
)


def usr_path(path: str) -> str:
    """`path` under Debian's merged /usr (/lib/x -> /usr/lib/x)."""
    for link, points_at in MERGED_USR:
        if path.startswith(link + "/"):
            return "/" + points_at + path[len(link) :]
    return path


def _canonical(root: Path, path: str) -> str:
    return subprocess.run(
        ["chroot", str(root), "readlink", "-f", path], check=True, capture_output=True, text=True
    ).stdout.strip()


def staged_files(root: Path, programs: list[str]) -> tuple[tuple[str, Path], ...]:
    """Programs of the node tree with the libraries they load, at their canonical paths (what
    kind's stage-binary-and-deps.sh does for its helper image)."""
    wanted: dict[str, Path] = {}
    for program in programs:
        real = _canonical(root, program)
        wanted[real] = _under(root, real)
        wanted[usr_path(program)] = _under(root, real)  # a link's name too (libxt_MASQUERADE)
        listed = subprocess.run(
            ["chroot", str(root), "ldd", real], check=False, capture_output=True, text=True
        )
        for library in parse_ldd(listed.stdout):
            canonical = _canonical(root, library)
            wanted[canonical] = _under(root, canonical)
            # the name the loader looks for (a soname link, the interpreter's path), at its
            # place under the merged /usr: a copy of the file
            named = usr_path(library)
            if named != canonical:
                wanted[named] = _under(root, canonical)
    return tuple(sorted(wanted.items()))


def kube_proxy_spec(root: Path, kube_bin: Path) -> ImageSpec:
    """registry.k8s.io/kube-proxy: the pinned kube-proxy with Debian's iptables (legacy and
    nft, chosen per call as iptables-wrapper does), staged from the node tree."""
    wrapper = cache_dir() / "bin" / "iptables-wrapper"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(IPTABLES_WRAPPER)
    modules = sorted(str(p.relative_to(root)) for p in _under(root, XTABLES).glob("*.so"))
    programs = ["/bin/sh", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/xtables-nft-multi"]
    staged = staged_files(root, [*programs, *("/" + m for m in modules)])
    return ImageSpec(
        (f"registry.k8s.io/kube-proxy:{assets.KUBERNETES_VERSION}",),
        (
            ("/usr/local/bin/kube-proxy", kube_bin / "kube-proxy"),
            ("/usr/sbin/iptables-wrapper", wrapper),
            *staged,
        ),
        ("/usr/local/bin/kube-proxy",),
        links=(
            *MERGED_USR,
            ("/usr/bin/sh", "dash"),
            *((f"/usr/sbin/{name}", "iptables-wrapper") for name in IPTABLES_COMMANDS),
        ),
    )


def build_pause() -> Path:
    """registry.k8s.io/pause's program, from the pinned Kubernetes module's
    build/pause/linux/pause.c, compiled as its Makefile does."""
    target = cache_dir() / "bin" / "pause"
    if target.is_file():
        return target
    source = assets._module_dir("k8s.io/kubernetes", assets.KUBERNETES_VERSION)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("pause.partial")
    progress.run(
        [
            "gcc",
            "-Os",
            "-Wall",
            "-Werror",
            "-static",
            f"-DVERSION=v{PAUSE_VERSION}-kfs",
            "-o",
            str(partial),
            str(source / "build" / "pause" / "linux" / "pause.c"),
        ],
        "compiling pause",
        lambda line: False,
    )
    partial.rename(target)
    return target


# Go-built images: gobuild module -> (binary, package, image path).
GO_IMAGES = {
    "etcd": ("etcd", "go.etcd.io/etcd/server/v3", "/usr/local/bin/etcd"),
    "coredns": ("coredns", "github.com/coredns/coredns", "/coredns"),
    "local-path-provisioner": (
        "local-path-provisioner",
        "github.com/rancher/local-path-provisioner",
        "/usr/local/bin/local-path-provisioner",
    ),
}
# kind's storage manifest names its provisioner image; the binary is the same release's.
LOCAL_PATH_IMAGE = "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a"


def build_go_images() -> Path:
    """etcd and CoreDNS from their pinned modules (gobuild/<name>/), into the cache's bin/."""
    target = cache_dir() / "bin"
    for module, (binary, package, _) in GO_IMAGES.items():
        assets._go_build(module, {binary: package}, target, "-s -w")
    return target


def image_specs(kube_bin: Path, pause: Path, go_bin: Path) -> list[ImageSpec]:
    """The images built so far, as specs (kindnetd, local-path: next)."""
    specs = [
        ImageSpec(
            (f"registry.k8s.io/etcd:{ETCD_VERSION}",),
            ((GO_IMAGES["etcd"][2], go_bin / "etcd"),),
            (GO_IMAGES["etcd"][2],),
        ),
        ImageSpec(
            (f"registry.k8s.io/coredns/coredns:{COREDNS_VERSION}",),
            ((GO_IMAGES["coredns"][2], go_bin / "coredns"),),
            (GO_IMAGES["coredns"][2],),
        ),
        ImageSpec(
            (LOCAL_PATH_IMAGE,),
            ((GO_IMAGES["local-path-provisioner"][2], go_bin / "local-path-provisioner"),),
            (GO_IMAGES["local-path-provisioner"][2],),
        ),
        ImageSpec(
            (f"registry.k8s.io/pause:{PAUSE_VERSION}", "registry.k8s.io/pause:3.10"),
            (("/pause", pause),),
            ("/pause",),
        ),
    ]
    for name in CONTROL_PLANE_BINARIES:
        if name == "kube-proxy":
            continue  # kube_proxy_spec: it needs iptables
        specs.append(
            ImageSpec(
                (f"registry.k8s.io/{name}:{assets.KUBERNETES_VERSION}",),
                ((f"/usr/local/bin/{name}", kube_bin / name),),
                (f"/usr/local/bin/{name}",),
            )
        )
    return specs


def archive_name(spec: ImageSpec) -> str:
    """The file name of a spec's archive: its first tag, made a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", spec.tags[0]) + ".tar"


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
        target = _under(root, node_path)
        shutil.copyfile(built / name, target)
        target.chmod(0o755)
    (root / "kind" / "version").write_text(assets.KUBERNETES_VERSION)


def write_manifests(root: Path) -> None:
    """kind's default CNI (kindnet) and storage (local-path) manifests, from the kind module."""
    source = _kind_files().parents[2] / "pkg" / "build" / "nodeimage"
    for node_path, (file, const) in MANIFESTS.items():
        target = _under(root, node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(go_manifest((source / file).read_text(), const))


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
    tarball = cache_dir() / "node.tar.partial"  # repacked each time: a few seconds
    progress.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tarball), "."],
        "packing the node image",
        lambda line: False,
    )
    changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
    progress.run(
        [_podman(), "import", *changes, str(tarball), image],
        f"importing the node image as {image}",
        lambda line: False,
    )
    tarball.unlink()
    return image


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
    podman = _podman()
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


def build_archives(root: Path) -> list[Path]:
    """Step 3: the preloaded images as docker-archive tarballs in the cache."""
    specs = image_specs(assets.cache_dir(), build_pause(), build_go_images())
    specs.append(kube_proxy_spec(root, assets.cache_dir()))
    return [write_archive(spec, cache_dir() / "images" / archive_name(spec)) for spec in specs]


def build(image: str = IMAGE) -> str:
    """The node image, built once per version; returns its name."""
    if os.geteuid() != 0:
        raise NodeImageError("building the kind node image needs root (debootstrap, chroot)")
    with _lock():
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
