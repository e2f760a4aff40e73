"""The container engine's set-up as data: only what is missing, never the user's config (issue
37)."""

from pytest_kfs.kindnode import engine

WANTED = ("podman", "runc", "debootstrap")


def test_engine_set_up_does_only_what_is_missing():
    done = engine.plan(set(WANTED), engine.DROP_IN_TEXT, True, WANTED)
    assert done.empty and done.describe() == ""
    todo = engine.plan({"runc"}, None, False, WANTED)
    assert todo.packages == ("podman", "debootstrap") and todo.drop_in and todo.modules
    assert todo.describe() == (
        "apt-get install podman debootstrap; the podman settings in "
        "/etc/containers/containers.conf.d/50-pytest-kfs.conf; an (empty) /lib/modules directory"
    )


def test_engine_drop_in_is_rewritten_only_when_it_is_not_ours():
    assert engine.plan(set(WANTED), "# edited\n", True, WANTED).drop_in
    assert engine.DROP_IN.parent.name == "containers.conf.d"  # never containers.conf itself
    assert 'runtime = "runc"' in engine.DROP_IN_TEXT
    assert 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' in engine.DROP_IN_TEXT
