"""One turn of a session, as ``mintcli.cli.chat.run_chat`` sees it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mintcli.storage.conversations import Conversation


@dataclass(frozen=True)
class Turn:
    # The conversation so far (None: the session's first turn starts a new one,
    # or -c / --conversation name the one it continues).
    continued: Conversation | None
    # Called when the turn's answer has ended: the conversation with it (None:
    # Ctrl-C before anything came), the ID it was saved under (None: --no-log,
    # or nothing saved), and whether Ctrl-C cut it short.
    ended: Callable[[list[dict[str, Any]] | None, str | None, bool], None]
    # Filled by the tool loop when Ctrl-C stopped the tools of a reply that is
    # kept with its calls: the results (tool messages) that had finished. The
    # session sends them, and "not run" for the other calls, with the next prompt.
    results: list[dict[str, Any]] = field(default_factory=list)
