"""mint: a command-line streaming client for the Mint Cloud AI gateway."""

__version__ = "0.1.0"
