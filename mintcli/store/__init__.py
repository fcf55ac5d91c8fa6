"""The log: every finished exchange in one SQLite database,
``$XDG_DATA_HOME/mint/logs.db`` (default ``~/.local/share/mint/logs.db``;
the folder 0700, the file 0600, WAL mode, never the API key).

What it does, by module:

* ``model``: :class:`Conversation` (what ``-c`` and ``mint log show`` read) and
  ``text_of``; no database needed to import it.
* ``db``: opening the database (checks, pragmas, schema version and forward
  migrations, a lock for the first creation) and turning SQLite's failures
  into mint's errors; ``peek`` reads it changing nothing (shell completion).
  The schema itself is in ``schema``.
* ``write``: one finished exchange saved in one transaction (a reply's text
  written in blocks, never put together), and whole conversations for the import.
* ``read``: conversations by ID, unique prefix or the latest; the listing; removal.
* ``files`` and ``importer``: the conversation files of earlier mint versions
  (``conversations/ID.json``), imported once, checked, then moved to
  ``conversations.imported/``.
* ``search`` and ``stats``: ``mint log search`` (FTS5, or a substring scan
  where SQLite lacks it) and ``mint log stats`` (which skips the copies of
  exchanges a forked conversation starts with).
* ``cjk``: Chinese and Japanese text as the index sees it (each Han or kana
  character a word of its own), and a query word in them as a phrase.

Imports: the standard library's ``sqlite3`` (only in ``db`` and the modules
that use a connection, which are imported only when the log is read or
written), ``orjson``, and from mint ``storage.paths``, ``errors`` and ``storage.journal.new_id``
(the ID of a forked conversation). Nothing here is imported by ``mint --help``
or before a new conversation's reply.
``mintcli/storage/conversations.py`` is the facade the rest of mint uses.
"""
