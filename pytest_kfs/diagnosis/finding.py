"""A finding: one broken link with its code, cause, evidence and fix (pure data).

Its own module so that every layer of the diagnosis (rules.py, kube_semantics.py,
error_shapes.py, http_exchange.py) builds the same shape without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_kfs.diagnosis.codes import CATALOGUE, Code


@dataclass(frozen=True)
class Finding:
    """One broken link: code, cause, evidence, fix."""

    code: Code
    cause: str
    evidence: tuple[str, ...] = ()
    fix: str = ""
    principal: str | None = None
    bucket: str | None = None
    permission: str | None = None

    @property
    def failure(self) -> bool:
        """Whether it is a problem (a healthy scale-to-zero is not)."""
        return CATALOGUE[self.code].failure

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports."""
        return {
            "code": self.code,
            "cause": self.cause,
            "evidence": list(self.evidence),
            "fix": self.fix,
            "principal": self.principal,
            "bucket": self.bucket,
            "permission": self.permission,
            "failure": self.failure,
        }
