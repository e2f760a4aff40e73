"""Repository-wide pytest set-up: pytester for the plugin tests."""

pytest_plugins = ["pytester"]
