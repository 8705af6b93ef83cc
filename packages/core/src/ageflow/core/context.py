"""The context that input callbacks, ``skip_if`` and loop ``until`` predicates receive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

EntrySource: TypeAlias = Literal["agent", "function", "loop", "skipped", "restored"]

LOOP_FEEDBACK_KEY = "__loop_feedback__"

# The original's plain-object keys, so ``entry["_source"]`` keeps working.
_ENTRY_KEYS = {
    "output": "output",
    "source": "source",
    "_source": "source",
    "_tokensIn": "tokens_in",
    "_tokensOut": "tokens_out",
}


@dataclass(frozen=True)
class CtxEntry:
    """What one finished task left in the context.

    ``entry.output`` is the usual spelling; ``entry["output"]`` and ``entry["_source"]`` also
    work, so code written against the original's plain objects keeps reading naturally.
    """

    output: Any
    source: EntrySource
    tokens_in: int = 0
    tokens_out: int = 0

    def __getitem__(self, key: str) -> Any:
        attribute = _ENTRY_KEYS.get(key)
        if attribute is None:
            raise KeyError(key)
        return getattr(self, attribute)


class TaskContext(Mapping[str, CtxEntry]):
    """A read-only, live view of finished tasks by name, plus the workflow input.

    The executor keeps mutating the mapping behind it as tasks finish, so a callback sees
    every task finished so far (not only its own dependencies).
    """

    __slots__ = ("_entries", "_feedback", "_input")

    def __init__(
        self, entries: Mapping[str, CtxEntry], input: Any = None, feedback: Any = None
    ) -> None:
        self._entries = entries
        self._input = input
        self._feedback = feedback

    @property
    def input(self) -> Any:
        """The input the workflow was started with (None when it was started without one)."""
        return self._input

    @property
    def feedback(self) -> Any:
        """Inside a loop: the previous iteration's result (None on the first iteration)."""
        return self._feedback

    def __getitem__(self, key: str) -> CtxEntry:
        try:
            return self._entries[key]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none yet"
            raise KeyError(
                f"no finished task named {key!r} in the context (finished: {known})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def outputs(self) -> dict[str, Any]:
        """Each finished task's output by name."""
        return {name: entry.output for name, entry in self._entries.items()}

    def __repr__(self) -> str:
        return f"TaskContext({dict(self._entries)!r}, input={self._input!r})"
