"""The session: prompts in, one ``mint chat`` turn each, until Ctrl-D or /exit.

Each turn is ``mintcli.cli.chat.run_chat`` with the conversation so far (a
:class:`~mintcli.session.turn.Turn`), so it streams, retries, journals and
saves exactly as a single ``mint chat -c`` would: the conversation is a
normal saved one, continued later with ``mint chat -c``. An error ends the
turn, not the session (it is shown as ``mint: error: ...`` and the prompt
comes back); SIGTERM ends the session.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mintcli.base.terminal import Terminal
from mintcli.errors import ExitCode, Interrupted, MintError, UsageError
from mintcli.options.settings import ChatSettings
from mintcli.session import calls
from mintcli.session.line import LineReader
from mintcli.session.turn import Turn
from mintcli.storage.conversations import Conversation, find, text_of

RunChat = Callable[[ChatSettings, tuple[str, ...], Terminal, Turn], None]

HELP = """\
Type a prompt and press Enter; the answer streams below it.
  a line ending in \\   goes on on the next line
  \"\"\" alone on a line  starts (and ends) several lines of input
  pasted lines         arrive as one prompt (where the terminal brackets pastes)
  /model NAME          use another model from the next turn on
  /system TEXT         set the system prompt from the next turn on
  /attach FILE         attach a file (or URL) to the next prompt
  /retry               ask the last prompt again (a new conversation branches off,
                       unless it failed before its answer began)
  //TEXT               send /TEXT as a prompt
  /help                this text
  /exit, Ctrl-D        end the session
Ctrl-C stops an answer (what came is kept, marked cut) or clears the line;
inside an unfinished \"\"\" block, Ctrl-C or Ctrl-D drops the block.
Tool calls mint did not run are answered as "not run" when you go on."""


class _Terminated(BaseException):
    """SIGTERM outside a turn (a turn's own handler makes it exit 143 itself)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    # Raised into the main thread: while readline waits for a key it puts the
    # terminal back before the exception leaves input() (the default action
    # would kill mint with the terminal still raw).
    raise _Terminated


class Session:
    def __init__(self, settings: ChatSettings, term: Terminal, run_chat: RunChat) -> None:
        self.term = term
        self.run_chat = run_chat
        self.handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        # What every turn shares; the first turn's own inputs are taken out below.
        self.settings = settings.replace(
            continue_last=False,
            conversation=None,
            interactive=False,
            no_stdin=True,
            messages=None,
            attach=(),
            tool_result=(),
        )
        self.first = settings  # --messages, -a, --tool-result: for the first turn only
        self.history: Conversation | None = None
        self.attach: tuple[str, ...] = ()
        # The last turn, until its answer ends (then None): what /retry asks
        # again when the turn failed before anything was kept (an error, or
        # Ctrl-C before the answer began): prompt, attachments, conversation.
        self.failed: tuple[str, tuple[str, ...], Conversation | None] | None = None
        # Results for the calls the conversation ends on, which mint did not run:
        # sent before the next prompt (see calls.py).
        self.answers: list[dict[str, Any]] = []
        self.unrun: list[dict[str, Any]] = []  # the calls of those that were not run
        self.changed = self.cut = False  # whether the turn being run changed it; cut short
        if settings.continue_last or settings.conversation is not None:
            if settings.continue_last and settings.conversation is not None:
                raise UsageError("give either -c/--continue or --conversation ID, not both")
            self.history = find(settings.conversation)
            # told after the greeting, unless --tool-result answers them in the first
            # turn (these serve if that fails)
            self._left_open(calls.CONTINUED, [], told=False)

    # -- turns -------------------------------------------------------------------------
    def turn(self, prompt: str, history: Conversation | None = None) -> None:
        first = self.first
        attach = (*first.attach, *self.attach)
        settings = self.settings.replace(attach=attach, tool_result=first.tool_result)
        if self.history is None and history is None and first.messages:
            settings = settings.replace(messages=first.messages)
        self.first = first.replace(attach=(), messages=None, tool_result=())
        self.attach = ()
        self.failed = (prompt, attach, history)
        turn = Turn(history or self._answered(settings), self._ended)
        self.changed = False
        why = calls.NO_COMMAND
        try:
            self.run_chat(settings, (prompt,), self.term, turn)
        except MintError as error:
            if error.exit_code == ExitCode.TERMINATED:
                raise  # SIGTERM ends the session
            if error.exit_code == ExitCode.STEP_LIMIT:
                why = calls.step_limit(settings.max_steps)
            self.term.error(error.message)
            for note in error.notes:
                self.term.note(note)
        except KeyboardInterrupt:
            self.term.note("stopped")  # Ctrl-C before the answer started
        finally:
            # A run that a signal stopped ignores further ones on its way out (a
            # single mint chat then exits); the session goes on, so it takes them again.
            for sig, handler in self.handlers.items():
                signal.signal(sig, handler)
        if self.changed:
            self._left_open(calls.STOPPED if turn.results or self.cut else why, turn.results)

    def _answered(self, settings: ChatSettings) -> Conversation | None:
        """The conversation with the results for its open calls, if any (not
        when --tool-result answers them on the first turn)."""
        history = self.history
        if history is None or not self.answers or settings.tool_result:
            return history
        from dataclasses import replace

        return replace(history, messages=[*history.messages, *self.answers])

    def _left_open(self, why: str, finished: list[dict[str, Any]], told: bool = True) -> None:
        """After the conversation changed: what answers the calls it ends on,
        and a note naming those mint did not run."""
        messages = self.history.messages if self.history is not None else []
        self.answers, self.unrun = calls.answers(messages, finished, why)
        if self.unrun and told:
            self.term.note(calls.note(self.unrun, why))

    def leaving(self) -> None:
        """When the session ends on calls whose results were never sent: the
        results that finished are saved in the conversation (a tool that ran
        may have done work, taken long or cost money), and a note says what the
        conversation ends on. A save that fails is the session's error."""
        history = self.history
        if not self.answers or not self.settings.log or history is None:
            return
        done = calls.finished(self.answers, self.unrun)
        saved = None
        try:
            if done:
                from mintcli.storage.conversations import Pending

                # as a turn's save does: a key a tool printed is not stored
                messages = self.term.secrets.redact_json([*history.messages, *done])
                saved = Pending.start(history, messages).save_messages()
        finally:
            still = self.unrun if saved else calls.open_calls(history.messages)
            self.term.note(calls.leaving(len(done), still, saved))

    def _ended(self, messages: list[dict[str, Any]] | None, saved: str | None, cut: bool) -> None:
        self.changed, self.cut = messages is not None, cut
        if messages is not None:
            self.failed = None  # the answer (or what came of it) is kept
            # The results waiting went with it; those of its own calls come after
            # the turn (not if SIGTERM ends it first: then nothing is left to save).
            self.answers, self.unrun = [], []
        if saved is not None:
            self.history = find(saved)  # as saved: the next turn continues it
        elif messages is not None:  # --no-log: the conversation lives in memory only
            self.history = Conversation("", 0.0, 0.0, messages, [])
        if cut and messages is None:
            self.term.note("stopped before the answer began (nothing saved)")
        elif cut and calls.open_calls(messages or []):
            self.term.note("stopped while tools ran (the reply's calls are kept, marked cut)")
        elif cut:
            self.term.note("answer cut short (what came is kept, marked cut)")

    def retry(self) -> None:
        """The last prompt again, from the conversation as it was before it."""
        if self.failed is not None:  # it never made it into the conversation
            prompt, self.attach, before = self.failed
            self.turn(prompt, before)
            return
        history = self.history
        messages = history.messages if history is not None else []
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        if history is None or not users:
            self.term.error("nothing to retry yet")
            return
        from mintcli.storage.journal import new_id

        at = users[-1]
        before = Conversation(new_id(), 0.0, 0.0, messages[:at], history.exchanges[:-1])
        self.turn(text_of(messages[at].get("content")), before)

    # -- slash commands --------------------------------------------------------------
    def command(self, line: str) -> bool:
        """Run a slash command; False when the session should end."""
        name, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        term = self.term
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            print(HELP)
        elif name in ("/model", "/system"):
            key = name[1:]
            if arg:
                try:
                    self.settings = self._given(key, arg)
                except UsageError as error:  # the setting stays as it was
                    term.error(error.message)
            if key == "model":
                term.note(f"model: {self.settings.model}")
            else:
                term.note(f"system prompt: {self.settings.system or '(none)'}")
        elif name == "/attach" and arg:
            if "://" not in arg and not Path(arg).expanduser().is_file():
                term.error(f"/attach {arg}: no such file")
            else:
                self.attach = (*self.attach, arg)
                term.note(f"attached to the next prompt: {', '.join(self.attach)}")
        elif name == "/retry":
            self.retry()
        else:
            term.error(f"unknown command {line.strip()!r} (see /help)")
        return True

    def _given(self, key: str, raw: str) -> ChatSettings:
        """Settings changed as if given on the command line: checked as the flag
        checks it (UsageError), and so that a continued conversation does not
        bring back its own model."""
        from mintcli.options.config import from_flag

        value = from_flag(ChatSettings, key, raw)
        sources = {**self.settings.sources, key: "--" + key}
        return self.settings.replace(sources=sources, **{key: value})


def run_session(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal, run_chat: RunChat
) -> None:
    """The session; ``run_chat`` is ``mintcli.cli.chat.run_chat`` (passed in by
    ``cli/main.py``: the session stands beside the face and does not import it)."""
    # Before Session() reads the handlers it puts back after each turn.
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _run(settings, words, term, run_chat)
    except _Terminated:
        raise Interrupted("terminated", signal_exit=ExitCode.TERMINATED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(settings: ChatSettings, words: tuple[str, ...], term: Terminal, run_chat: RunChat) -> None:
    session = Session(settings, term, run_chat)
    reader = LineReader(term.color, term.note)
    history, model = session.history, settings.model
    if history is not None and not settings.given("model"):
        model = str(history.last.get("model") or model)  # a continued conversation keeps its own
    where = f"conversation {history.id}" if history is not None else "a new chat"
    term.note(f"{where} with {model}; /help for help, Ctrl-D to end")
    if session.unrun and not settings.tool_result:
        term.note(calls.note(session.unrun, calls.CONTINUED))
    try:
        _prompts(session, reader, words)
    except BaseException:
        # SIGTERM ends the session too (at the prompt, or in a turn): the results
        # that finished are saved all the same, and what ended it stays the error.
        try:
            session.leaving()
        except MintError as error:
            term.error(error.message)
        raise
    session.leaving()


def _prompts(session: Session, reader: LineReader, words: tuple[str, ...]) -> None:
    """Turns, until Ctrl-D or /exit."""
    if words:
        session.turn(" ".join(words))
    while True:
        try:
            line = reader.read()
        except EOFError:
            print()
            return
        if line is None or not line.strip():
            continue
        if line.startswith("/") and not line.startswith("//"):
            if not session.command(line):
                return
            continue
        session.turn(line[1:] if line.startswith("//") else line)  # //text sends /text
