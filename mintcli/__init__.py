"""mint: a command-line streaming client for the Mint Cloud AI gateway."""

import sys

__version__ = "0.1.0"

# httpx's own __init__ imports its command-line client (httpx._main) whenever rich,
# pygments and click happen to be installed: about 44 ms of rich and pygments in every
# mint that sends a request, for a client mint never runs. A None entry makes that one
# import fail, and httpx falls back to the stub it ships for that case (its `main`).
# Set here, in the package every mint module is under, so it precedes any httpx import.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
