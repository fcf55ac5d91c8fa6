"""The mock's error answer: a status and what goes in the protocol's error body."""

from __future__ import annotations


class Refusal(Exception):
    """Answer with an error status and body (in the protocol's shape). ``param``
    and ``code`` fill the OpenAI body's fields of those names (Anthropic's body
    has neither); ``close`` ends the connection after the answer."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        code: str | None = None,
        param: str | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.close = close
