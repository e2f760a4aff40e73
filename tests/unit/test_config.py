"""Settings resolution: option > env > ini, and one clear error per bad input."""

import re
from pathlib import Path

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.plugin.settings import parse_run_id, parse_sweep_ttl, parse_timeout, resolve
from pytest_kfs.targets import (
    ContextTarget,
    InClusterTarget,
    KindTarget,
    LocalTarget,
    TargetOptions,
    parse_target,
)


def parse_cluster(value, kubeconfig, kind_create):
    return parse_target(value, TargetOptions(kubeconfig, kind_create))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("local", LocalTarget()),
        ("in-cluster", InClusterTarget()),
        ("kind", KindTarget("kind")),
        ("kind:ci-1", KindTarget("ci-1")),
        ("gke_proj_europe-west4_prod", ContextTarget(context="gke_proj_europe-west4_prod")),
    ],
)
def test_cluster_values_parse_to_targets(value, expected):
    assert parse_cluster(value, kubeconfig=None, kind_create=False) == expected


def test_context_keeps_its_kubeconfig_path():
    target = parse_cluster("prod", kubeconfig="~/kc.yaml", kind_create=False)
    assert target == ContextTarget(context="prod", kubeconfig=Path("~/kc.yaml").expanduser())


def test_kind_create_is_carried():
    assert parse_cluster("kind:x", None, kind_create=True) == KindTarget("x", create=True)


@pytest.mark.parametrize(
    ("value", "kubeconfig", "kind_create", "message"),
    [
        ("  ", None, False, "--kfs-cluster is empty"),
        ("kind:", None, False, "not a valid kind cluster name"),
        ("kind:Bad_Name", None, False, "not a valid kind cluster name"),
        ("prod", None, True, "--kfs-kind-create only applies to kind clusters"),
        ("local", "/tmp/kc", False, "--kfs-kubeconfig conflicts with --kfs-cluster=local"),
        ("in-cluster", "/tmp/kc", False, "conflicts with --kfs-cluster=in-cluster"),
        ("kind:a", "/tmp/kc", False, "conflicts with --kfs-cluster=kind:a"),
    ],
)
def test_bad_cluster_values_say_what_is_wrong(value, kubeconfig, kind_create, message):
    with pytest.raises(SettingsError, match=message) as error:
        parse_cluster(value, kubeconfig, kind_create)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["0", "-5", "abc", "inf", "nan"])
def test_timeout_must_be_a_positive_number(value):
    with pytest.raises(SettingsError, match="--kfs-timeout"):
        parse_timeout(value)


def test_timeout_default_and_value():
    assert parse_timeout(None) == 300.0
    assert parse_timeout("12.5") == 12.5


def test_command_line_beats_environment_beats_ini():
    ini = {"cluster": "from-ini", "timeout": "30"}
    env = {"KFS_CLUSTER": "from-env"}
    assert resolve({"cluster": "from-cli"}, ini, env).target == ContextTarget("from-cli")
    assert resolve({}, ini, env).target == ContextTarget("from-env")
    settings = resolve({}, ini, {})
    assert settings.target == ContextTarget("from-ini")
    assert settings.timeout_seconds == 30.0


def test_no_cluster_means_no_target():
    assert resolve({}, {}, {}).target is None


@pytest.mark.parametrize(
    ("cli", "flag"),
    [({"kind_create": True}, "--kfs-kind-create"), ({"kubeconfig": "/x"}, "--kfs-kubeconfig")],
)
def test_cluster_only_options_need_a_cluster(cli, flag):
    with pytest.raises(SettingsError, match=f"{flag} needs --kfs-cluster"):
        resolve(cli, {}, {})


MODELS_YAML = """
models:
  - name: iris
    storage_uri: gs://kfserving-examples/models/sklearn/1.0/model
    model_format: sklearn
  - name: fraud
    storage_uri: gs://ml-prod/fraud/v7
    model_format: xgboost
    service_account: fraud-serving
    protocol: v2
"""


def test_models_file_yaml_and_toml():
    from pytest_kfs.plugin.settings import parse_models_file

    models = parse_models_file("models.yaml", MODELS_YAML)
    assert [(m.name, m.model_format, m.service_account, m.protocol) for m in models] == [
        ("iris", "sklearn", None, None),
        ("fraud", "xgboost", "fraud-serving", "v2"),
    ]
    toml = '[[models]]\nname = "iris"\nstorage_uri = "gs://bkt/iris"\nmodel_format = "sklearn"\n'
    assert parse_models_file("models.toml", toml)[0].storage_uri == "gs://bkt/iris"
    # A copy of a catalogue sample in one's own bucket: its answer is known.
    copy = parse_models_file(
        "models.yaml",
        "models: [{storage_uri: 'gs://team/iris', model_format: sklearn, sample: sklearn-iris}]",
    )
    assert copy[0].sample == "sklearn-iris"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: []", "needs a non-empty list under 'models:'"),
        ("models: [{name: a, storage_uri: 'gs://b/p'}]", "model 1: --kfs-storage-uri needs"),
        (
            "models: [{storage_uri: 'ftp://x/y', model_format: sklearn}]",
            "has the unsupported scheme ftp://",
        ),
        ("models: [{name: a, colour: red}]", "unknown key(s) colour"),
        (
            "models: [{name: a, storage_uri: 'gs://bkt/p', model_format: x},"
            " {name: a, storage_uri: 'gs://bkt/q', model_format: x}]",
            "must be a unique",
        ),
        ("models: [", "cannot be parsed"),
        (
            "models: [{name: a, storage_uri: 'gs://bkt/p', model_format: sklearn, sample: iris}]",
            "model 1: sample 'iris' is not in the catalogue; known: ",
        ),
    ],
)
def test_models_file_errors_name_the_entry(text, message):
    from pytest_kfs.plugin.settings import parse_models_file

    with pytest.raises(SettingsError, match=re.escape(message)):
        parse_models_file("models.yaml", text)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3:/bucket", "has no scheme"),
        ("gs://UPPER/model", "is not a valid bucket name"),
        ("gs://ab/model", "is not a valid bucket name"),
    ],
)
def test_storage_uris_are_validated(uri, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        resolve({"storage_uri": uri, "model_format": "sklearn"}, {}, {})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 3600.0),
        ("", 3600.0),
        ("90m", 5400.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("600", 600.0),
        ("off", None),
        ("OFF", None),
        ("never", None),
    ],
)
def test_sweep_ttl_durations(value, seconds):
    assert parse_sweep_ttl(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [("soon", "is not a duration"), ("-1h", "is not a duration"), ("30s", "under a minute")],
)
def test_bad_sweep_ttl(value, message):
    with pytest.raises(SettingsError, match=message):
        parse_sweep_ttl(value)


@pytest.mark.parametrize("value", ["ci-1234", "a", "run7"])
def test_run_id_from_the_environment(value):
    assert resolve({}, {}, {"KFS_RUN_ID": value}).run_id == value


@pytest.mark.parametrize("value", ["Upper", "has_underscore", "-lead", "x" * 21])
def test_bad_run_id(value):
    with pytest.raises(SettingsError, match="KFS_RUN_ID"):
        parse_run_id(value)


def test_serving_key_and_ingress_are_validated_without_echoing_the_key(tmp_path):
    key = tmp_path / "key.json"
    key.write_text(
        '{"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com",'
        ' "private_key": "-----BEGIN PRIVATE KEY-----\\nSECRETLINE\\n", '
        '"token_uri": "https://oauth2.googleapis.com/token"}'
    )
    settings = resolve(
        {"cluster": "prod", "serving_key": str(key), "ingress": "http://34.1.2.3:80/"}, {}, {}
    )
    assert settings.serving_key == key and settings.ingress == "http://34.1.2.3:80"
    key.write_text('{"type": "authorized_user", "private_key": "SECRETLINE"}')
    with pytest.raises(SettingsError, match="is not a service-account key file") as error:
        resolve({"cluster": "prod", "serving_key": str(key)}, {}, {})
    assert "SECRETLINE" not in str(error.value)
    with pytest.raises(SettingsError, match="cannot be read: No such file"):
        resolve({"cluster": "prod", "serving_key": str(tmp_path / "none.json")}, {}, {})
    with pytest.raises(SettingsError, match=r"--kfs-ingress='istio' is not http\(s\)://HOST"):
        resolve({"cluster": "prod", "ingress": "istio"}, {}, {})


def test_serving_account_is_namespace_slash_name_and_excludes_a_key(tmp_path):
    settings = resolve({"cluster": "prod", "serving_account": "platform/kserve-reader"}, {}, {})
    assert settings.serving_account == ("platform", "kserve-reader")
    with pytest.raises(SettingsError, match="is not NAMESPACE/NAME"):
        resolve({"cluster": "prod", "serving_account": "kserve-reader"}, {}, {})
    key = tmp_path / "key.json"
    key.write_text(
        '{"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com",'
        ' "private_key": "-----BEGIN PRIVATE KEY-----\\nk\\n'
        '-----END PRIVATE KEY-----\\n",'
        ' "token_uri": "https://oauth2.googleapis.com/token"}'
    )
    with pytest.raises(SettingsError, match="both give the serving identity; use one"):
        resolve({"cluster": "prod", "serving_account": "a/b", "serving_key": str(key)}, {}, {})


def test_the_public_api_is_exported_from_the_package():
    import pytest_kfs

    for name in pytest_kfs.__all__:
        assert getattr(pytest_kfs, name).__name__ == name


def test_the_readme_option_table_is_the_options_table():
    from pathlib import Path

    from pytest_kfs.plugin.options import markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme


def test_the_readme_names_every_scenario():
    import re
    from pathlib import Path

    from pytest_kfs.local.scenarios import SCENARIOS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    listed = readme.split("Rehearse a failure with `--kfs-scenario=NAME`")[1].split("\n\n")[0]
    assert set(re.findall(r"`([a-z-]+)`", listed)) - {"all"} == set(SCENARIOS)


def test_existing_selects_all_several_namespaces_one_model_and_labels():
    from pytest_kfs.kserve.selection import ExistingSelection
    from pytest_kfs.plugin.settings import parse_existing

    assert parse_existing("all") == ExistingSelection()
    assert parse_existing("all", "team=search") == ExistingSelection(selector="team=search")
    assert parse_existing("a,b,a") == ExistingSelection(("a", "b"))
    assert parse_existing("a/model") == ExistingSelection(("a",), "model")
    assert (
        parse_existing("a,b", "tier in (gold),!canary").describe()
        == "namespaces a, b (labels tier in (gold),!canary)"
    )
    assert parse_existing("a/model").describe() == "a/model"
    assert parse_existing("all").describe() == "all namespaces"
