"""Which running InferenceServices a read-only run verifies (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExistingSelection:
    """Which running InferenceServices --kfs-existing verifies."""

    namespaces: tuple[str, ...] = ()  # () : every namespace
    name: str | None = None  # one InferenceService (then exactly one namespace)
    selector: str | None = None  # a label selector, as `kubectl get -l` takes it

    def describe(self) -> str:
        """`all namespaces`, `namespaces a, b`, `a/model`; and the selector."""
        where = (
            f"{self.namespaces[0]}/{self.name}"
            if self.name
            else f"namespace{'s' if len(self.namespaces) > 1 else ''} {', '.join(self.namespaces)}"
            if self.namespaces
            else "all namespaces"
        )
        return where + (f" (labels {self.selector})" if self.selector else "")
