"""KServe's Python images for kind follow the release's own Dockerfiles: each image's base
suite, Python, USER, WORKDIR, ENTRYPOINT and PYTHONPATH are read back from the Dockerfile in
the release's Go module, and the folders they install and copy exist there."""

import json
import re

import pytest

from pytest_kfs.kindnode import model_images
from pytest_kfs.local import assets
from pytest_kfs.local.kserve.releases import MODULE, RELEASES

DOCKERFILES = {
    "kserve/storage-initializer": "storage-initializer.Dockerfile",
    "kserve/sklearnserver": "sklearn.Dockerfile",
}
# Debian's python3 in each suite: the minor version the Dockerfile's python image names.
SUITE_PYTHON = {"bookworm": "3.11", "bullseye": "3.9"}


def _cases():
    for version in sorted(RELEASES):
        for image in model_images.IMAGES[version]:
            yield pytest.param(version, image, id=f"{version}-{image.name.split('/')[1]}")


@pytest.fixture(scope="module")
def python_dirs():
    return {v: assets._module_dir(MODULE, v) / "python" for v in RELEASES}


def _prod_stage(dockerfile: str) -> str:
    """The Dockerfile's last stage (what the image is)."""
    return dockerfile[dockerfile.rindex("\nFROM ") :]


@pytest.mark.parametrize(("version", "image"), list(_cases()))
def test_the_image_is_its_dockerfiles(version, image, python_dirs):
    python_dir = python_dirs[version]
    dockerfile = (python_dir / DOCKERFILES[image.name]).read_text()
    python = re.search(r"ARG PYTHON_VERSION=(\S+)", dockerfile)[1]
    base = re.search(r"ARG BASE_IMAGE=python:\$\{PYTHON_VERSION\}-slim-(\w+)", dockerfile)[1]
    assert (image.suite, SUITE_PYTHON[image.suite]) == (base, python)
    prod = _prod_stage(dockerfile)
    assert re.search(r"^USER (\S+)", prod, re.M)[1] == model_images.KSERVE_UID
    assert json.loads(re.search(r"^ENTRYPOINT (.+)$", prod, re.M)[1]) == list(image.entrypoint)
    workdir = re.search(r"^WORKDIR (\S+)", prod, re.M)
    assert image.workdir == (workdir[1] if workdir else "/")
    pythonpath = re.search(r"^ENV PYTHONPATH=(\S+)", prod, re.M)
    if pythonpath:
        assert ("PYTHONPATH", pythonpath[1]) in image.env
    assert re.search(r"^ARG VENV_PATH=(\S+)", dockerfile, re.M)[1] == model_images.VENV
    assert re.findall(r"^RUN chmod \+x (\S+)", prod, re.M) == list(image.executables)
    for folder in image.copies:
        assert (python_dir / folder).is_dir(), folder
    for source in image.sources:
        assert (python_dir / source.partition("[")[0] / "pyproject.toml").is_file(), source


@pytest.mark.parametrize(("version", "image"), list(_cases()))
def test_the_runtime_and_config_map_name_these_images(version, image):
    from pytest_kfs.local.kserve import manifests

    release = RELEASES[version]
    folder = assets.kserve_manifests(release)
    if not assets.manifests_current(release):
        pytest.skip(f"KServe {version} is not built (python -m pytest_kfs.local build)")
    named = {
        c["image"]
        for r in manifests.cluster_serving_runtimes(folder, release)
        for c in r["spec"]["containers"]
    }
    storage = json.loads(manifests.config_map(folder, release)["data"]["storageInitializer"])
    named.add(storage["image"])
    assert model_images.image_tag(image, release).removeprefix("docker.io/") in named


def test_the_config_is_the_dockerfiles_env_user_workdir_and_entrypoint(tmp_path):
    image = model_images.IMAGES["v0.20.0"][1]
    config = model_images.image_config(image)
    assert config["User"] == "1000"
    assert config["Entrypoint"] == ["python", "-m", "sklearnserver"]
    assert config["Env"][0].startswith("PATH=/prod_venv/bin:")
    assert "PYTHONPATH=/sklearnserver" in config["Env"]
    arguments = model_images.pip_arguments(image, tmp_path)
    assert arguments[:2] == ["install", "--no-cache-dir"]
    assert f"{tmp_path}/kserve" in arguments and "scikit-learn~=1.5.1" in arguments
    initializer = model_images.pip_arguments(model_images.IMAGES["v0.20.0"][0], tmp_path)
    assert f"{tmp_path}/storage[confidential]" in initializer
