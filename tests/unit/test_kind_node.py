"""The kind node image as plain data: how kind's base layout maps onto a Debian tree, and
what goes where in the node (issue 37)."""

from pytest_kfs.kindnode import archives, base, build, preload
from pytest_kfs.local import assets

FILES = [
    "etc/containerd/config.toml",
    "etc/systemd/system/kubelet.service",
    "kind/bin/mount-product-files.sh",
    "usr/local/bin/entrypoint",
]


def test_base_layout_copies_kinds_files_with_its_modes():
    layout = base.base_layout(FILES)
    modes = {copy.target: copy.mode for copy in layout.copies}
    assert modes == {
        "/etc/containerd/config.toml": 0o644,
        "/etc/systemd/system/kubelet.service": 0o644,
        "/kind/bin/mount-product-files.sh": 0o755,
        "/usr/local/bin/entrypoint": 0o755,
    }


def test_base_layout_points_kinds_paths_at_debians_and_enables_its_services():
    links = dict(base.base_layout(FILES).links)
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
    spec = base.cri_base_spec(default)
    assert spec["hooks"]["createContainer"] == [{"path": "/kind/bin/mount-product-files.sh"}]
    assert spec["process"] == {"cwd": "/"}
    assert "rlimits" in default["process"]  # the input is left alone


def test_debootstrap_includes_debians_runtime_and_networking():
    command = base.debootstrap_command(base.Path("/tmp/root"))
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
    assert build.node_binaries_plan() == {
        "/usr/bin/kubelet": "kubelet",
        "/usr/bin/kubeadm": "kubeadm",
        "/usr/bin/kubectl": "kubectl",
    }


def test_the_node_image_is_cached_by_version_beside_the_other_builds():
    assert base.cache_dir().parent == assets.cache_dir().parent
    assert assets.KUBERNETES_VERSION in base.cache_dir().name
    assert base.KIND_VERSION in base.cache_dir().name
    assert base.IMAGE.endswith(":" + assets.KUBERNETES_VERSION)


KIND_CONST = """package nodeimage

const kindnetdImage = "docker.io/kindest/kindnetd:v1"

var defaultCNIImages = []string{kindnetdImage}

const defaultCNIManifest = `
kind: DaemonSet
        image: ` + kindnetdImage + `
        name: kindnet
`
"""


def test_kinds_manifests_are_read_from_its_go_constants():
    manifest = preload.go_manifest(KIND_CONST, "defaultCNIManifest")
    assert manifest == (
        "\nkind: DaemonSet\n        image: docker.io/kindest/kindnetd:v1\n        name: kindnet\n"
    )


def test_the_preload_plan_names_what_kubeadm_and_kind_expect():
    plan = preload.preload_plan("v1.34.4", {"const_cni.go": KIND_CONST})
    assert set(plan) == {
        "registry.k8s.io/kube-apiserver:v1.34.4",
        "registry.k8s.io/kube-controller-manager:v1.34.4",
        "registry.k8s.io/kube-scheduler:v1.34.4",
        "registry.k8s.io/kube-proxy:v1.34.4",
        "registry.k8s.io/pause:3.10.1",
        "registry.k8s.io/pause:3.10",
        "registry.k8s.io/etcd:3.6.5-0",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        "docker.io/kindest/kindnetd:v1",
    }
    assert plan["docker.io/kindest/kindnetd:v1"].startswith("none here")


def test_a_one_layer_archive_says_its_tags_layer_and_entrypoint():
    config, manifest = archives.archive_metadata(
        ("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"), "ab" * 32, ("/pause",)
    )
    assert manifest == {
        "RepoTags": ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"],
        "Layers": ["ab" * 32 + "/layer.tar"],
    }
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "ab" * 32]}
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert any(env.startswith("PATH=") for env in config["config"]["Env"])


def test_control_plane_images_carry_the_pinned_binaries_where_kubeadm_runs_them():
    specs = archives.image_specs(base.Path("/k"), base.Path("/p/pause"), base.Path("/g"))
    by_tag = {spec.tags[0]: spec for spec in specs}
    apiserver = by_tag["registry.k8s.io/kube-apiserver:v1.34.4"]
    assert apiserver.files == (("/usr/local/bin/kube-apiserver", base.Path("/k/kube-apiserver")),)
    assert archives.archive_name(apiserver) == "registry.k8s.io_kube-apiserver_v1.34.4.tar"
    assert "registry.k8s.io/pause:3.10" in by_tag["registry.k8s.io/pause:3.10.1"].tags


def test_preloading_imports_as_kinds_own_build_does():
    assert preload.preload_command("/kind/images/x.tar") == [
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--label=io.cri-containerd.pinned=pinned",
        "--all-platforms",
        "--no-unpack",
        "--digests",
        "/kind/images/x.tar",
    ]


def test_containerd_clamps_oom_score_adj_where_root_cannot_lower_it():
    edits = base.base_layout(FILES).edits
    assert (
        "/etc/containerd/config.toml",
        "restrict_oom_score_adj = false",
        "restrict_oom_score_adj = true",
    ) in edits


def test_etcd_and_coredns_images_run_as_kubeadms_manifests_call_them():
    specs = archives.image_specs(base.Path("/k"), base.Path("/p/pause"), base.Path("/g"))
    by_tag = {spec.tags[0]: spec for spec in specs}
    etcd = by_tag["registry.k8s.io/etcd:3.6.5-0"]  # kubeadm's static pod runs `etcd`, by PATH
    assert etcd.files == (("/usr/local/bin/etcd", base.Path("/g/etcd")),)
    coredns = by_tag["registry.k8s.io/coredns/coredns:v1.12.1"]  # its Deployment: args only
    assert coredns.entrypoint == ("/coredns",)


def test_a_single_node_pod_network_from_debians_plugins():
    writes = dict(base.base_layout(FILES).writes)
    config = base.json.loads(writes["/etc/cni/net.d/10-kindnet.conflist"])
    assert [plugin["type"] for plugin in config["plugins"]] == ["ptp", "portmap"]
    assert config["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    assert config["plugins"][0]["ipMasq"] is False  # nothing leaves the node's network


def test_the_base_tree_is_rebuilt_when_its_layout_changes():
    layout = base.base_layout(FILES)
    assert base.base_key(layout) == base.base_key(base.base_layout(FILES))
    assert base.base_key(layout) != base.base_key(base.base_layout(FILES[:1]))


LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007f96)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f96)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f96)
"""


def test_staging_reads_the_libraries_ldd_names():
    assert archives.parse_ldd(LDD) == [
        "/lib/x86_64-linux-gnu/libxtables.so.12",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
    assert archives.usr_path("/lib64/ld-linux-x86-64.so.2") == "/usr/lib64/ld-linux-x86-64.so.2"
    assert archives.usr_path("/usr/sbin/iptables") == "/usr/sbin/iptables"


def test_kube_proxys_iptables_commands_go_through_the_wrapper():
    assert set(archives.IPTABLES_COMMANDS) == {
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ip6tables",
        "ip6tables-save",
        "ip6tables-restore",
    }
    assert archives.IPTABLES_WRAPPER.startswith("#!/bin/sh\n")
    assert 'exec "xtables-$mode-multi" "${0##*/}" "$@"' in archives.IPTABLES_WRAPPER
