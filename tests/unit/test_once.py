"""Once: a value per key computed by one thread while the others wait (the fleet's reads by
name and Google's answers both rely on it: a race here doubled a read in CI)."""

import threading
import time

import pytest

from pytest_kfs.once import Once


def test_threads_asking_at_the_same_time_compute_once():
    once: Once[int] = Once()
    calls = []
    start = threading.Barrier(8)
    results = []

    def compute() -> int:
        calls.append(1)
        time.sleep(0.05)  # long enough for every other thread to ask meanwhile
        return 42

    def ask() -> None:
        start.wait()
        results.append(once.get(("secret", "team-1", "gone-key"), compute))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(calls), results) == (1, [42] * 8)
    assert len(once) == 1


def test_a_failed_computation_is_not_kept():
    once: Once[str] = Once()

    def refused() -> str:
        raise OSError("connection reset")

    with pytest.raises(OSError):
        once.get("k", refused)
    assert once.get("k", lambda: "read") == "read"
    assert once.get("k", refused) == "read"
