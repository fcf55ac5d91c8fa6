"""A tool command that cannot run (not found, not executable, not splittable),
told the way the user gave it: ``--tool-cmd``/``--mcp`` on the command line is
a usage error (exit 2), a ``[tools.NAME]``/``[mcp.NAME]`` table of the config
file a config error naming the file and the table (exit 3). Imports only the
error tree; the settings are annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mintcli.errors import ConfigError, MintError, UsageError

if TYPE_CHECKING:
    from mintcli.options.rows import Settings


class Unrunnable(UsageError):
    """Raised as a usage error about the flag; :meth:`placed` names the config
    table instead when the command came from there."""

    def __init__(self, setting: str, value: str, detail: str) -> None:
        name = value.partition("=")[0]
        super().__init__(f"--tool-cmd {name}: {detail}" if setting == "tool_cmd"
                         else f"--mcp {value!r}: {detail}")  # fmt: skip
        self.setting, self.value, self.detail = setting, value, detail

    def placed(self, settings: Settings) -> MintError:
        """This error as the user should read it, given where the command came from."""
        if settings.given(self.setting):
            return self
        return ConfigError(f"{settings.source_of(self.setting, self.value)}: {self.detail}")
