"""Which namespaces a sweep takes: pure decisions on plain data."""

from pytest_kfs.kube.namespaces import OwnedNamespace, namespace_name, of_run, stale

NOW = 1_800_000_000.0
HOUR = 3600.0


def owned(name, run="old", age_hours=3.0, kept=False, terminating=False):
    return OwnedNamespace(name, run, NOW - age_hours * HOUR, kept, terminating)


def test_stale_takes_only_old_namespaces_of_other_runs():
    found = [
        owned("old-a"),
        owned("young", age_hours=0.5),
        owned("mine", run="current"),
        owned("kept", kept=True),
        owned("going", terminating=True),
        owned("old-b"),
    ]
    assert stale(found, NOW, HOUR, "current") == ["old-a", "old-b"]


def test_the_ttl_is_a_strict_age():
    assert stale([owned("edge", age_hours=1.0)], NOW, HOUR, "current") == []
    assert stale([owned("edge", age_hours=1.01)], NOW, HOUR, "current") == ["edge"]


def test_of_run_takes_this_runs_leftovers_except_kept():
    found = [
        owned("a", run="r1", age_hours=0),
        owned("b", run="r1", kept=True),
        owned("c", run="r2"),
        owned("d", run="r1", terminating=True),
    ]
    assert of_run(found, "r1") == ["a"]


def test_a_namespace_whose_run_still_beats_is_never_swept():
    from dataclasses import replace

    old = owned("old-but-alive", age_hours=30)
    assert stale([replace(old, heartbeat=NOW - 60)], NOW, HOUR, "current") == []
    assert stale([replace(old, heartbeat=NOW - 600)], NOW, HOUR, "current") == ["old-but-alive"]


def test_another_run_with_the_same_run_id_keeps_its_namespaces():
    from dataclasses import replace

    found = [
        replace(owned("mine", run="ci-42"), instance="i1"),
        replace(owned("theirs", run="ci-42"), instance="i2"),
    ]
    assert of_run(found, "ci-42", "i1") == ["mine"]


def test_names_are_dns_labels_and_distinct_per_test():
    first = namespace_name("abcdef1234", "suites/test_x.py::test_" + "y" * 80)
    second = namespace_name("abcdef1234", "suites/test_x.py::test_" + "y" * 81)
    assert len(first) <= 36 and first.startswith("kfs-")
    assert first != second


def test_run_ids_with_a_common_prefix_do_not_collide():
    # Two CI job ids that share their first characters (issue: NamespaceTaken on real runs).
    assert namespace_name("8123456781", "t.py::test_a") != namespace_name(
        "8123456799", "t.py::test_a"
    )


def test_kserve_host_names_fit_one_dns_label():
    # KServe v0.20.0 refused `model-predictor-<63-char namespace>` ("must be no more than 63
    # characters"): its default templates put model and namespace into one label.
    namespace = namespace_name("run", "suites/test_x.py::test_" + "y" * 80)
    assert len(f"sklearn-iris-predictor-{namespace}") <= 63


def test_host_names_follow_kserves_domain_template():
    from pytest_kfs.kserve.manifests import host_name_problem, host_names

    # KServe's default: model and namespace share one label, and the predictor's is longer.
    assert host_names("model", "ns") == ["model-ns.example.com", "model-predictor-ns.example.com"]
    namespace = "kfs-2c69ba-test-a-fresh-deploy-passes-the-documented-sta-263970"
    # KServe v0.20.0 refused exactly this pair (every deploy failed): both host names overflow.
    problem = host_name_problem("model", namespace)
    assert (
        "model-kfs-2c69ba-test-a-fresh-deploy-passes-the-documented-sta-263970.example.com"
        in problem
    )
    assert problem.endswith("has 69 characters, at most 63")
    # A template that gives the namespace a label of its own lets the same pair through.
    assert (
        host_name_problem("model", namespace, "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}")
        is None
    )
    assert host_name_problem("model", namespace_name("run", "t.py::test_x")) is None


def test_a_clusters_longer_domain_template_leaves_shorter_namespaces():
    from pytest_kfs.kserve import manifests as isvc
    from pytest_kfs.kube.namespaces import MODEL_ROOM, namespace_name, namespace_room

    assert namespace_room() == 36  # KServe's default template
    template = "{{ .Name }}-{{ .Namespace }}-ml-platform.{{ .IngressDomain }}"
    room = namespace_room(template, "models.example.com")
    assert room == 63 - len("-predictor--ml-platform") - MODEL_ROOM
    name = namespace_name("8123456781", "tests/test_x.py::test_a_model_loads", room)
    assert len(name) <= room
    assert isvc.host_name_problem("m" * MODEL_ROOM, name, template, "models.example.com") is None
    # Each part of its own label: nothing to shorten.
    assert namespace_room("{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}") == 36
