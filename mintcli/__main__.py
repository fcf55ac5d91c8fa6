"""``python -m mintcli`` and the ``mint`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        # Answered before click is imported: start-up time matters in loops and scripts.
        from mintcli import __version__

        sys.stdout.write(f"mint {__version__}\n")
        sys.exit(0)
    if argv and argv[-1] in ("--help", "-h"):
        # Pre-rendered by docgen from the same click tree (tests keep it current).
        from mintcli._helptext import HELP

        text = HELP.get(tuple(argv[:-1]))
        if text is not None:
            sys.stdout.write(text)
            sys.exit(0)
    from mintcli.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
