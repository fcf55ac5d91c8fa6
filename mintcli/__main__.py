"""``python -m mintcli`` and the ``mint`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        # Answered before click is imported (about half of mint's start-up):
        # scripts call `mint --version` to check for mint, often in loops.
        from mintcli import __version__

        sys.stdout.write(f"mint {__version__}\n")
        sys.exit(0)
    from mintcli.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
