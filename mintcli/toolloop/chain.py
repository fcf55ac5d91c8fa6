"""The tool loop's journal: one file for the whole chain of steps.

The runner writes each step's reply to it as usual (text, calls, usage,
finish); the loop adds its own records, which the plain reader ignores:
  step end:    {"s": N}            step N's reply is complete (its calls follow)
  tools start: {"ts": [call ids]}  written before those calls start (one line
               for the first 16: a failed write leaves none, and then no tool
               runs; a call that waited for its turn gets a line when it comes)
  tool result: {"tr": {"id", "name", "output", "is_error", "exit", "error",
                       "truncated", "duration_ms", "refused"}}
               written the moment that call ends, before any other result.
A --resume runs only the calls with neither record. A call that started but
has no result (mint was killed while it ran, or the disk was full when it
ended) may have done its work: it is not run again, and the model is told its
result was lost. These records came after version 1 without a new version,
as the loop's others did: the plain reader skips records it does not know, and
a mint from before "ts" skips it too and runs such a call again.
The header holds, besides the first request, ``loop``: the tool commands and
MCP servers and the loop's limits, so that ``--resume`` can go on alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mintcli.storage.journal import Journal, JournalState, fold, read_lines, records


class ChainJournal(Journal):
    """A journal that outlives the runs of its steps: a step's successful end
    does not remove it; only the loop's end does."""

    ending = False

    def close(self, *, remove: bool) -> None:
        if remove and not self.ending:
            return  # a step finished; the chain goes on
        super().close(remove=remove)

    def finish(self) -> None:
        self.ending = True
        self.close(remove=True)

    def keep(self) -> None:
        self.ending = True
        self.close(remove=False)


@dataclass
class Step:
    """One step as the journal holds it."""

    state: JournalState
    complete: bool = False
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # calls that were started


def read_steps(whole: JournalState) -> list[Step]:
    """The steps of a chain journal, in order (the last may be unfinished), read
    with the secrets ``whole`` (the journal as one reply) puts back."""
    path, header = whole.path, whole.header
    steps = [Step(JournalState(path, header, keys=whole.keys))]
    text: list[str] = []
    reasoning: list[str] = []
    for rec in records(read_lines(path)[1:]):
        step = steps[-1]
        if isinstance(rec.get("tr"), dict):
            step.results[str(rec["tr"].get("id"))] = rec["tr"]
            continue
        if isinstance(rec.get("ts"), list):
            step.started.update(str(i) for i in rec["ts"])
            continue
        if "s" in rec:
            step.complete = True
            continue
        if step.complete and any(k in rec for k in ("t", "r", "g", "c", "f")):
            _close(step, text, reasoning)
            step = Step(JournalState(path, header, keys=whole.keys))
            steps.append(step)
        if not fold(step.state, rec, text, reasoning):
            break  # not a record mint wrote: trust nothing after it either
    _close(steps[-1], text, reasoning)
    last = steps[-1]
    if last.state.finish_reason is not None and not last.complete:
        last.complete = True  # killed between the reply's end and its mark
    return steps


def _close(step: Step, text: list[str], reasoning: list[str]) -> None:
    step.state.text = "".join(text)
    step.state.reasoning = "".join(reasoning)
    text.clear()
    reasoning.clear()
