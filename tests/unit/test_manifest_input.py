"""`kfs_deploy(spec=...)` reads its YAML bounded (issue 36 item 3): aliases refused, depth
capped, a file up to a stated size; every refusal is one DeployError line."""

from __future__ import annotations

import pytest

from pytest_kfs import deploy
from pytest_kfs.deploy import MANIFEST_LIMIT, load_manifest
from pytest_kfs.errors import DeployError
from pytest_kfs.untrusted import Meter

GOOD = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m}
spec:
  predictor:
    model: {modelFormat: {name: sklearn}, storageUri: "gs://b/m"}
"""
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


def test_a_plain_manifest_loads_from_text_and_file(tmp_path):
    assert load_manifest(GOOD)["metadata"]["name"] == "m"
    path = tmp_path / "isvc.yaml"
    path.write_text(GOOD)
    assert load_manifest(path)["kind"] == "InferenceService"
    assert load_manifest(str(path))["kind"] == "InferenceService"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (BOMB, "a YAML alias (*a); expected plain YAML without aliases"),
        (GOOD + "extra: &x {a: 1}\nmore: *x\n", "a YAML alias (*x)"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "nested deeper than 100"),
        ("[" * 5000 + "]" * 5000, "nested deeper than 100"),
        ("{a: [b", "not valid YAML"),
        (GOOD.replace("metadata: {name: m}", "metadata: {name: 2024-01-01}"), "not plain JSON"),
        ("kind: InferenceService\napiVersion: serving.kserve.io/v1beta1\nspec: [1]\n", "no spec"),
        (
            "kind: InferenceService\nwhen: 2024-01-01\napiVersion: serving.kserve.io/v1beta1\n"
            "spec: {predictor: {x: 1}}\n",
            "not plain JSON data",
        ),
    ],
)
def test_hostile_yaml_is_one_deploy_error(text, said):
    with pytest.raises(DeployError) as caught:
        load_manifest(text)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_the_alias_bomb_is_refused_before_it_grows(monkeypatch):
    meter = Meter()
    real = deploy.load_yaml
    monkeypatch.setattr(deploy, "load_yaml", lambda text, where: real(text, where, meter=meter))
    with pytest.raises(DeployError):
        load_manifest(BOMB)
    assert meter.nodes < 20


def test_a_large_or_special_manifest_file_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(GOOD + "#" * MANIFEST_LIMIT)
    with pytest.raises(DeployError, match="larger than 1 MiB"):
        load_manifest(big)
    with pytest.raises(DeployError, match="expected at most"):
        load_manifest(GOOD + "#" * MANIFEST_LIMIT)
    with pytest.raises(DeployError, match="special file"):
        load_manifest(deploy.Path("/dev/zero"))
    with pytest.raises(DeployError, match="cannot read"):
        load_manifest(tmp_path / "missing.yaml")
