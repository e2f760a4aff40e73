"""The wheel a user installs: built from this checkout, installed into a fresh venv with the
`[local]` extra, and used from there — the suites as `pytest_kfs.suites`, the Go sources that
build the embedded cluster, the embedded cluster itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.integration.helpers import cache_lacking_manifests

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("pytest_kfs-*.whl")
    return built


def test_the_wheel_holds_the_suites_in_the_package_and_the_go_sources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(name.startswith("suites/") for name in names), "a top-level suites package"
    suites = {path.name for path in (ROOT / "suites").glob("*.py")}
    assert {f"pytest_kfs/suites/{name}" for name in suites} <= names
    for module in (ROOT / "pytest_kfs" / "local" / "gobuild").iterdir():
        for name in ("go.mod", "go.sum", "tools.go"):
            assert f"pytest_kfs/local/gobuild/{module.name}/{name}" in names
    metadata = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    )
    assert "License-Expression: Apache-2.0" in metadata or "License: Apache-2.0" in metadata
    assert "Provides-Extra: local" in metadata
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_an_installed_wheel_runs_the_suites(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{wheel}[local]"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    # Its Go sources are the checkout's (what `python -m pytest_kfs.local build` compiles).
    shown = subprocess.run(
        [
            python,
            "-c",
            "from importlib import resources; print((resources.files("
            "'pytest_kfs.local') / 'gobuild' / 'kubernetes' / 'go.mod').read_text())",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert shown.rstrip("\n") == (
        ROOT / "pytest_kfs/local/gobuild/kubernetes/go.mod"
    ).read_text().rstrip("\n")
    work = tmp_path / "work"
    work.mkdir()

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                python,
                "-m",
                "pytest",
                "--pyargs",
                "pytest_kfs.suites",
                "-p",
                "no:cacheprovider",
                *args,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
        )

    # No cluster: a usage error naming the option, not a green run that checked nothing.
    refused = pytest_run()
    assert refused.returncode == 4
    assert "pass --kfs-cluster=" in refused.stdout + refused.stderr
    # The README's pip path as written (one test of it: the whole suites run elsewhere), on a
    # machine whose cache lacks the release's manifests: the run builds them first, saying so.
    install, command = _readme_pip_path()
    assert install == 'pip install "pytest-kfs[local]"'
    assert command == "pytest --kfs-cluster=local --pyargs pytest_kfs.suites"
    cache = cache_lacking_manifests(tmp_path / "cache")
    ran = subprocess.run(
        [*command.split(), "-p", "no:cacheprovider", "-q", "-k", "fresh_deploy"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("KFS_")},
            "PATH": f"{environment / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "XDG_CACHE_HOME": str(cache),
        },
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert "1 passed" in ran.stdout
    assert "the first run on this machine builds KServe" in ran.stderr, ran.stderr[-2000:]


def _readme_pip_path() -> tuple[str, str]:
    """The install line and the embedded-cluster line of the README's "Using it"."""
    block = re.search(r"## Using it\n\n```sh\n(.+?)\n```", README, re.S)
    assert block, "the README's 'Using it' block"
    lines = [line.split("  #")[0].strip() for line in block[1].splitlines()]
    install = next(line for line in lines if line.startswith("pip install"))
    return install, next(line for line in lines if "--kfs-cluster=local" in line)
