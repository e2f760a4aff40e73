"""One model type: the marker, the models file, the options and the scenarios all make a
ModelSpec, and the sample fills what they leave out."""

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.kserve.spec import MARKER_KEYS, SPEC_KEYS, ModelSpec, spec_from_marker
from pytest_kfs.plugin.options import OPTIONS
from pytest_kfs.plugin.settings import parse_models_file


def test_a_bare_spec_is_the_sklearn_iris_sample_as_kserves_docs_deploy_it():
    spec = ModelSpec().resolved()
    assert (spec.name, spec.storage_uri, spec.model_format, spec.sample) == (
        "sklearn-iris",
        "gs://kfserving-examples/models/sklearn/1.0/model",
        "sklearn",
        "sklearn-iris",
    )
    manifest = spec.manifest()
    assert manifest["spec"]["predictor"] == {
        "model": {
            "modelFormat": {"name": "sklearn"},
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
        }
    }


def test_a_copy_of_a_sample_keeps_its_own_uri_and_takes_the_samples_protocol():
    spec = ModelSpec(storage_uri="gs://team/iris", sample="sklearn-iris-v2").resolved()
    model = spec.manifest()["spec"]["predictor"]["model"]
    assert model["storageUri"] == "gs://team/iris"
    assert (model["protocolVersion"], model["runtime"]) == ("v2", "kserve-sklearnserver")


def test_a_uri_without_a_sample_needs_its_format_and_is_named_model():
    with pytest.raises(ValueError, match="storage_uri needs model_format"):
        ModelSpec(storage_uri="gs://b/m").resolved()
    assert ModelSpec(storage_uri="gs://b/m", model_format="xgboost").resolved().name == "model"
    with pytest.raises(KeyError, match="unknown sample 'nope'; known samples: sklearn-iris"):
        ModelSpec(sample="nope").resolved()


def test_a_format_the_sample_does_not_have_is_refused_not_mixed_in():
    # The sample's sklearn model under xgboost's runtime would be a broken manifest.
    with pytest.raises(
        ValueError,
        match=r"model_format xgboost is not that of sample "
        r"sklearn-iris \(sklearn\)",
    ):
        ModelSpec(model_format="xgboost").resolved()
    text = (
        "models:\n- {storage_uri: 'gs://team-models/m', model_format: xgboost, "
        "sample: sklearn-iris}\n"
    )
    with pytest.raises(SettingsError, match="model 1: model_format xgboost is not that of"):
        parse_models_file("m.yaml", text)


def test_the_marker_takes_the_specs_fields_and_where_and_how_long():
    assert SPEC_KEYS | {"namespace", "timeout"} == MARKER_KEYS
    spec, rest = spec_from_marker(("sklearn-iris",), {"min_replicas": 0, "timeout": 30})
    assert spec == ModelSpec(sample="sklearn-iris", min_replicas=0)
    assert rest == {"timeout": 30}
    assert spec_from_marker((), {"namespace": "module"}) == (None, {"namespace": "module"})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"storage_url": "gs://b/m"}, "unknown argument(s) storage_url; known: "),
        (("sklearn-iris",), {"modelformat": "x"}, "unknown argument(s) modelformat"),
        (("a", "b"), {}, "one positional argument"),
        (("a",), {"sample": "b"}, "one positional argument"),
    ],
)
def test_a_marker_typo_is_one_line(args, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        spec_from_marker(args, kwargs)
    assert "\n" not in str(error.value)


def test_the_models_file_takes_the_specs_fields():
    text = (
        "models:\n- {name: a, storage_uri: 'gs://team-models/m', model_format: sklearn,\n"
        "   min_replicas: 0, sample: sklearn-iris, runtime: r, protocol: v2}\n"
    )
    assert parse_models_file("m.yaml", text) == (
        ModelSpec("a", "gs://team-models/m", "sklearn", None, "r", "v2", 0, "sklearn-iris"),
    )
    help_text = next(option.help for option in OPTIONS if option.name == "models")
    assert all(key in help_text for key in SPEC_KEYS)


@pytest.mark.parametrize("value", ["-1", "'two'", "1.5", "true"])
def test_the_models_file_refuses_a_replica_count_that_is_not_one(value):
    text = (
        f"models:\n- {{storage_uri: 'gs://team-models/m', model_format: sklearn, "
        f"min_replicas: {value}}}\n"
    )
    with pytest.raises(SettingsError, match=r"min_replicas .* is not a whole number"):
        parse_models_file("m.yaml", text)


def test_an_existing_inferenceservice_reads_back_as_a_spec():
    obj = ModelSpec("m", "gs://b/m", "sklearn", "sa", "rt", "v2", 1).manifest()
    assert ModelSpec.from_isvc(obj) == ModelSpec("m", "gs://b/m", "sklearn", "sa", "rt", "v2", 1)
