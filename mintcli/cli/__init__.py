"""The command-line face: the click groups, the commands and the `mint chat` flow.

May import every package below it and the feature packages (batch, remote, toolloop, session,
mock, render); nothing imports it but ``mintcli.__main__``.
"""
