"""pytest-kfs conformance suites: run them with `pytest --kfs-cluster=<target> suites/`."""
