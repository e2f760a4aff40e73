"""Key material never reaches a terminal, even through a traceback with locals (-l): the
plugin's frames that hold a key are hidden from tracebacks."""

import json

from pytest_kfs.local.scenarios import sample_key


def test_a_failure_while_storing_a_key_shows_no_key_with_locals(pytester, inner, kfs_gcp):
    key = sample_key(kfs_gcp, "hidden-key-reader")
    (pytester.path / "key.json").write_text(json.dumps(key))
    pytester.makepyfile("""
        import json

        def test_x(kfs_deploy, kfs_cluster):
            # The API "fails" inside the secret creation (a C function: no frame of its own).
            kfs_cluster.core.create_namespaced_secret = int
            kfs_deploy("sklearn-iris", credentials=json.load(open("key.json")))
    """)
    result = inner("-l", "-vv")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "TypeError" in output
    body = "".join(key["private_key"].splitlines()[1:3])
    assert body[:40] not in output and key["private_key_id"] not in output
