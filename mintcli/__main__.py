"""``python -m mintcli`` and the ``mint`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        # Answered before click is imported (about half of mint's start-up):
        # scripts call `mint --version` to check for mint, often in loops.
        from mintcli import __version__

        if sys.stdout is not None:
            try:
                sys.stdout.write(f"mint {__version__}\n")
                sys.stdout.flush()
            except OSError:
                pass  # answered by the full path below, which reports it (exit 11)
            else:
                sys.exit(0)
    import contextlib
    import signal

    from mintcli.base.terminal import own_signals

    own_signals()
    try:
        from mintcli.cli.main import main as cli_main

        code = cli_main()
    except KeyboardInterrupt:  # a Ctrl-C while an earlier one was being reported
        code = 130
    # The work is done: a Ctrl-C now would only print a traceback from shutdown.
    with contextlib.suppress(OSError, KeyboardInterrupt):  # one came in just now
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()
