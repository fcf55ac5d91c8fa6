"""Markdown on a terminal, and code blocks out of a reply, while it streams.

* ``markdown.py``: :class:`~mintcli.render.markdown.Renderer`, a line-based
  streaming Markdown renderer (``--render``). Each piece of text is looked at
  once: a line is finished once and never redrawn, block structure (heading,
  list, quote, fence, table, rule) is decided from the start of a line, inline
  style (emphasis, code, links) by a small state machine, and a table is held
  until it ends so its columns can be aligned (``table.py``). Its cost per
  piece does not grow with the reply (``benchmarks/render.py``).
* ``extract.py``: ``-x/--extract`` and ``--extract-last``, the first (or
  last) fenced code block of the reply, streamed as it arrives.
* ``fence.py``: what opens and closes a fenced code block, shared by both.
* ``sink.py``: the output sinks that use them (subclasses of ``output.sinks.TextSink``).

Imports: only the standard library (``re``, ``unicodedata``, ``shutil``) and
mint's own ``output.sinks``, ``base.sanitize`` and ``base.events``. Nothing here is imported
unless ``--render`` is in effect or ``-x`` is given: this ``__init__`` imports
nothing, so that ``mint --help`` and a piped ``mint chat`` start as before.
"""
