"""The interactive session: ``mint chat`` at a terminal with no prompt (or -i).

* ``loop.py``: :func:`~mintcli.session.loop.run_session` reads a prompt, runs
  it as one turn of ``mint chat`` (``mintcli.cli.chat.run_chat`` with a :class:`Turn`,
  so retries, continuation, the journal, tools, --schema, -x and --render
  all work per turn), and keeps the conversation for the next turn. Slash
  commands: /exit, /model, /system, /attach, /retry, /help.
* ``line.py``: reading a prompt with line editing and a history file
  (stdlib ``readline``), multi-line input, Ctrl-C and Ctrl-D.
* ``turn.py``: :class:`Turn`, what ``cli/chat.py`` is told about a session's turn
  and tells it back.
* ``calls.py``: the results that answer the tool calls a turn ended on and
  mint did not run (sent before the next prompt, so the conversation goes on;
  those that finished are saved if the session ends first).

Imports: ``readline`` (only here, only in a session), ``mintcli.options.config`` (/model
and /system are checked as their flags are), ``mintcli.storage.conversations``,
``mintcli.storage.paths`` and ``mintcli.store.model`` (``mintcli.cli.chat.run_chat`` is
passed in, not imported). Nothing imports this package unless a session opens;
this ``__init__`` imports nothing.
"""
