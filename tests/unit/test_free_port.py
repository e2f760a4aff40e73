"""Ports for the embedded cluster's servers come from below the ephemeral range, so no
outgoing connection (and no readiness poll connecting to itself) can take one before its
server binds it."""

import socket

import pytest

from pytest_kfs.local import processes


def test_ports_lie_below_the_ephemeral_range_and_are_free():
    low = processes._ephemeral_low()
    for _ in range(50):
        port = processes.free_port()
        assert processes._LOWEST_PORT <= port < low
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))  # free: a server can bind it


def test_a_taken_port_is_never_handed_out(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        monkeypatch.setattr(processes, "_LOWEST_PORT", port)
        monkeypatch.setattr(processes, "_ephemeral_low", lambda: port + 1)
        with pytest.raises(OSError, match=f"no free TCP port between {port} and {port + 1}"):
            processes.free_port()


def test_an_unreadable_range_falls_back_to_linux_default(monkeypatch, tmp_path):
    monkeypatch.setattr(processes, "_EPHEMERAL_RANGE", tmp_path / "absent")
    assert processes._ephemeral_low() == 32768
