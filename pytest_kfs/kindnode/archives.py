"""The preloaded images as docker-archive tarballs: built binaries (pause, etcd, CoreDNS,
local-path, the kube-* images) and programs staged from the node tree with their libraries."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_kfs.kindnode.base import (
    CONTROL_PLANE_BINARIES,
    COREDNS_VERSION,
    ETCD_VERSION,
    PAUSE_VERSION,
    cache_dir,
    under,
)
from pytest_kfs.local import assets, progress


@dataclass(frozen=True)
class ImageSpec:
    """An image to preload: its upstream name(s), its files (image path -> host path) and how
    it starts."""

    tags: tuple[str, ...]
    files: tuple[tuple[str, Path], ...]
    entrypoint: tuple[str, ...] = ()
    # (link, what it points at)
    links: tuple[tuple[str, str], ...] = ()
    user: str = ""  # the Dockerfile's USER ("" runs as root)


_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def archive_metadata(
    tags: tuple[str, ...], layer_digest: str, entrypoint: tuple[str, ...], user: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A one-layer image's config and `docker save` manifest entry (config name left to the
    caller): what `ctr images import` reads."""
    return _metadata(tags, layer_digest, _container(entrypoint, user))


def _container(entrypoint: tuple[str, ...], user: str) -> dict[str, Any]:
    """The config's `config` part for a staged image: PATH, and ENTRYPOINT and USER if set."""
    return {
        "Env": [_PATH],
        **({"Entrypoint": list(entrypoint)} if entrypoint else {}),
        **({"User": user} if user else {}),
    }


def _metadata(
    tags: tuple[str, ...], layer_digest: str, container: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image config around `container` (Env, User, Entrypoint, ...) and its manifest entry."""
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": container,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
    }
    manifest = {"RepoTags": list(tags), "Layers": [f"{layer_digest}/layer.tar"]}
    return config, manifest


def _pack(
    target: Path,
    layer: bytes | Path,
    layer_digest: str,
    tags: tuple[str, ...],
    container: dict[str, Any],
) -> Path:
    """A docker-archive tarball at `target` (written to a partial file, then renamed)."""
    config, manifest = _metadata(tags, layer_digest, container)
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest["Config"] = config_name
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(partial, "w") as archive:
        layer_name = f"{layer_digest}/layer.tar"
        if isinstance(layer, Path):
            archive.add(layer, arcname=layer_name)
        else:
            _add_bytes(archive, layer_name, layer)
        _add_bytes(archive, config_name, config_bytes)
        _add_bytes(archive, "manifest.json", json.dumps([manifest]).encode())
    partial.rename(target)
    return target


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


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
    container = _container(spec.entrypoint, spec.user)
    return _pack(target, layer, hashlib.sha256(layer).hexdigest(), spec.tags, container)


# Never in an image layer (the folders themselves stay, empty): the runtime mounts these, and
# apt's caches are not the image's.
_LEFT_OUT = ("dev/", "proc/", "sys/", "run/", "tmp/", "var/cache/apt/", "var/lib/apt/lists/")


def _tree_member(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    inside = info.name.removeprefix("./")
    if any(inside.startswith(prefix) for prefix in _LEFT_OUT):
        return None
    if info.isdev():
        return None
    return info


def write_tree_archive(
    tree: Path, tags: tuple[str, ...], config: dict[str, Any], target: Path
) -> Path:
    """A folder as a one-layer docker-archive at `target`, its owners, modes and links kept;
    streamed through files (an image of Python and its packages is hundreds of MB)."""
    layer_path = target.with_name(target.name + ".layer")
    layer_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(layer_path, "w", format=tarfile.PAX_FORMAT) as layer:
            for child in sorted(tree.iterdir()):
                layer.add(child, arcname=child.name, filter=_tree_member)
        digest = hashlib.sha256()
        with layer_path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return _pack(target, layer_path, digest.hexdigest(), tags, config)
    finally:
        layer_path.unlink(missing_ok=True)


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
        wanted[real] = under(root, real)
        wanted[usr_path(program)] = under(root, real)  # a link's name too (libxt_MASQUERADE)
        listed = subprocess.run(
            ["chroot", str(root), "ldd", real], check=False, capture_output=True, text=True
        )
        for library in parse_ldd(listed.stdout):
            canonical = _canonical(root, library)
            wanted[canonical] = under(root, canonical)
            # the name the loader looks for (a soname link, the interpreter's path), at its
            # place under the merged /usr: a copy of the file
            named = usr_path(library)
            if named != canonical:
                wanted[named] = under(root, canonical)
    return tuple(sorted(wanted.items()))


def kube_proxy_spec(root: Path, kube_bin: Path) -> ImageSpec:
    """registry.k8s.io/kube-proxy: the pinned kube-proxy with Debian's iptables (legacy and
    nft, chosen per call as iptables-wrapper does), staged from the node tree."""
    wrapper = cache_dir() / "bin" / "iptables-wrapper"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(IPTABLES_WRAPPER)
    modules = sorted(str(p.relative_to(root)) for p in under(root, XTABLES).glob("*.so"))
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


def build_archives(root: Path) -> list[Path]:
    """Step 3: the preloaded images as docker-archive tarballs in the cache."""
    specs = image_specs(assets.cache_dir(), build_pause(), build_go_images())
    specs.append(kube_proxy_spec(root, assets.cache_dir()))
    return [write_archive(spec, cache_dir() / "images" / archive_name(spec)) for spec in specs]
