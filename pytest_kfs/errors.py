"""The plugin's own errors (a leaf: imports nothing of the package).

Every error pytest-kfs raises on purpose is a `KfsError`, and its message is the answer: one
line (or, for a model that did not load, a block) that says what is wrong and what to do. The
plugin shows such an error as its message, never as a traceback; anything else is a bug.
"""

from __future__ import annotations


class KfsError(Exception):
    """Base of the errors pytest-kfs raises on purpose; the message is for the user."""


class SettingsError(KfsError, ValueError):
    """Bad user input; the message is one line that names the option and the fix."""


class ClusterError(KfsError, RuntimeError):
    """The cluster cannot be used; the message is one line with the evidence and the fix."""


class DeployError(KfsError, ValueError):
    """A deploy request that cannot work (bad YAML, unknown sample, conflicting arguments)."""


class CheckFailed(KfsError, AssertionError):
    """A check found a broken link; the message is its answer line (code: cause — fix), then
    the evidence."""


class InferenceFailed(KfsError, AssertionError):
    """A request to the model failed; the message says why and what to check."""


class NamespaceTaken(KfsError, RuntimeError):
    """The namespace exists and is not ours to use."""


class NamespaceBusy(NamespaceTaken):
    """The name is held by another run with the same run id (a concurrent CI job, or the
    previous run's namespace still terminating): take a name of this run instance's."""


class FleetUnreadable(KfsError, RuntimeError):
    """The InferenceServices to verify cannot be read: the run cannot start."""


class UnreadableInput(KfsError, ValueError):
    """A pasted file that cannot be read as evidence; the message says which and why."""


class UnreadableReport(KfsError, ValueError):
    """A file that is not a pytest-kfs JSON report; the message says which and why."""


class InputRefused(KfsError, ValueError):
    """An input refused at the door before it is parsed (untrusted.py): not a regular file,
    larger than its limit, binary, nested too deep, or a YAML alias. The message is one line
    that names the input, the field and what was expected; each door re-raises it as its own
    error (SettingsError, UnreadableReport, UnreadableInput)."""
