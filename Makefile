# Two commands for a newcomer (see README): `make suites` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
KIND_VERSION := v0.30.0
export PATH := $(BIN):$(PATH)

.PHONY: setup suites test test-kind lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The real kind CLI: its error paths are tested here (no Docker engine on CI machines).
$(BIN)/kind: | $(BIN)/python
	GOBIN=$(BIN) GOFLAGS= go install sigs.k8s.io/kind@$(KIND_VERSION)

## setup: Python venv, the plugin; kube-apiserver, kube-controller-manager and KServe's own
## manager of the default release built once (cached)
setup: $(VENV)/.installed
	$(BIN)/python -m pytest_kfs.local build

## suites: the conformance suites against the embedded cluster (needs only `setup`)
suites: setup
	$(BIN)/python -m pytest --kfs-cluster=local suites/

## test: the project's own tests (unit, plugin through pytester, integration): every supported
## KServe release, and the kind CLI for its error paths
# xdist hands out work in collection order (no reordering): tests/conftest.py puts the
# slowest tests first, so the two workers finish together.
test: $(VENV)/.installed $(BIN)/kind
	$(BIN)/python -m pytest_kfs.local build --kserve=all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -p xdist --dist loadgroup --no-loadscope-reorder --durations=15 -m "not kind" tests/

## test-kind: the kind target against real kind clusters (root, podman and the node image:
## `python -m pytest_kfs.kindnode engine` and `python -m pytest_kfs.kindnode image`)
test-kind: $(VENV)/.installed $(BIN)/kind
	$(BIN)/python -m pytest -m kind tests/kind
