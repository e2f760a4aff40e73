"""The kind node image as plain data: how kind's base layout maps onto a Debian tree, and
what goes where in the node (issue 37)."""

from pytest_kfs.local import assets, nodeimage

FILES = [
    "etc/containerd/config.toml",
    "etc/systemd/system/kubelet.service",
    "kind/bin/mount-product-files.sh",
    "usr/local/bin/entrypoint",
]


def test_base_layout_copies_kinds_files_with_its_modes():
    layout = nodeimage.base_layout(FILES)
    modes = {copy.target: copy.mode for copy in layout.copies}
    assert modes == {
        "/etc/containerd/config.toml": 0o644,
        "/etc/systemd/system/kubelet.service": 0o644,
        "/kind/bin/mount-product-files.sh": 0o755,
        "/usr/local/bin/entrypoint": 0o755,
    }


def test_base_layout_points_kinds_paths_at_debians_and_enables_its_services():
    links = dict(nodeimage.base_layout(FILES).links)
    assert links["/sbin/init"] == "/lib/systemd/systemd"
    assert links["/usr/local/bin/containerd"] == "/usr/bin/containerd"  # containerd.service
    assert links["/usr/local/sbin/runc"] == "/usr/sbin/runc"
    assert links["/opt/cni/bin"] == "/usr/lib/cni"  # containernetworking-plugins
    wants = "/etc/systemd/system/multi-user.target.wants/"
    assert {link for link in links if link.startswith(wants)} == {
        wants + unit
        for unit in ("kubelet.service", "containerd.service", "undo-mount-hacks.service")
    }
    assert links["/etc/systemd/system/systemd-binfmt.service"] == "/dev/null"


def test_cri_base_spec_adds_kinds_hook_and_drops_rlimits():
    default = {"process": {"rlimits": [{"type": "RLIMIT_NOFILE"}], "cwd": "/"}}
    spec = nodeimage.cri_base_spec(default)
    assert spec["hooks"]["createContainer"] == [{"path": "/kind/bin/mount-product-files.sh"}]
    assert spec["process"] == {"cwd": "/"}
    assert "rlimits" in default["process"]  # the input is left alone


def test_debootstrap_includes_debians_runtime_and_networking():
    command = nodeimage.debootstrap_command(nodeimage.Path("/tmp/root"))
    assert command[:2] == ["debootstrap", "--variant=minbase"]
    included = set(command[2].removeprefix("--include=").split(","))
    assert {
        "containerd",
        "runc",
        "containernetworking-plugins",
        "iptables",
        "conntrack",
    } <= included
    assert {"systemd"} <= included
    assert command[-3:] == ["bookworm", "/tmp/root", "http://deb.debian.org/debian"]


def test_node_binaries_go_where_kinds_units_expect_them():
    assert nodeimage.node_binaries_plan() == {
        "/usr/bin/kubelet": "kubelet",
        "/usr/bin/kubeadm": "kubeadm",
        "/usr/bin/kubectl": "kubectl",
    }


def test_the_node_image_is_cached_by_version_beside_the_other_builds():
    assert nodeimage.cache_dir().parent == assets.cache_dir().parent
    assert assets.KUBERNETES_VERSION in nodeimage.cache_dir().name
    assert nodeimage.KIND_VERSION in nodeimage.cache_dir().name
    assert nodeimage.IMAGE.endswith(":" + assets.KUBERNETES_VERSION)
