"""The route of one `mint chat` run's settings, followed while the program runs.

    python tools/route.py [ARGUMENTS OF mint chat...]    (default: --mock --no-log hi)

Runs `mint chat` in this process with a profiler hook that notes every call of
a mintcli function that is handed the run's settings, or what they become on
the way down: the prepared exchange, the request, the run and the runner's
configuration. It prints the files in the order the route enters them, then two
counts: how many files it enters, and how many times it comes back to a file it
had left. A method of one of those objects (``settings.given``) is the object at
work, not the settings handed on, and is not counted; nor are values taken out
of them (the base URL on its way into the wire). This is one run, one branch:
`docs/architecture.md` says how the route is meant to go.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

# What the settings become on the way down, by class name, so that the same
# count runs on an older checkout (its interpreter's mintcli) for a comparison.
CARRIED = {"ChatSettings", "Prepared", "ChatRequest", "Run", "RunConfig"}


def main() -> int:
    import importlib

    import mintcli

    try:
        mint_main = importlib.import_module("mintcli.cli.main").main
    except ModuleNotFoundError:  # before the modules moved into packages
        mint_main = importlib.import_module("mintcli.cli").main
    package = str(Path(mintcli.__file__).parent) + os.sep
    route: list[str] = []

    def carried(value: Any) -> bool:
        kind = type(value)
        return kind.__name__ in CARRIED and kind.__module__.startswith("mintcli.")

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(package):
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if names[:1] in (("self",), ("cls",)):
            names = names[1:]  # the object at work, not handed on
        if any(carried(frame.f_locals.get(name)) for name in names):
            where = code.co_filename[len(package) :]
            if not route or route[-1] != where:
                route.append(where)

    sys.argv = ["mint", "chat", *(sys.argv[1:] or ["--mock", "--no-log", "hi"])]
    sys.setprofile(hook)
    try:
        code = int(mint_main())
    finally:
        sys.setprofile(None)
    seen: set[str] = set()
    returns = 0
    print("\nroute of the settings:", file=sys.stderr)
    for step, where in enumerate(route, 1):
        again = where in seen
        returns += again
        seen.add(where)
        print(f"  {step:2}. {where}{'   (again)' if again else ''}", file=sys.stderr)
    print(f"{len(seen)} files entered, {returns} returns to a file already left", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
