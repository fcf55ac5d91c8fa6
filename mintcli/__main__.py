"""``python -m mintcli`` and the ``mint`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    from mintcli.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
