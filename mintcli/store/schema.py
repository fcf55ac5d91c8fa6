"""The database's schema, as forward migrations: ``MIGRATIONS[n]`` takes a
database from version n to n + 1 (``PRAGMA user_version`` holds the version).
A released migration is never edited; a change of schema is a new one.

The tables (README "Log database" has the short version):

* ``conversations``: one row per conversation (``id`` as ``mint log list`` shows it).
* ``exchanges``: one row per finished request and reply: time, model,
  protocol, host of the base URL, tokens, finish reason, duration. A
  conversation forked from another (two mints continued it at once) gets
  copies of the earlier exchanges; ``copy_of`` names the row a copy repeats
  (null: the request itself), so stats count each request once.
* ``messages``: the conversation's messages in order, each as JSON (``body``),
  with the exchange that added it. A message whose content is a string keeps
  it in ``texts`` (``body.content`` is then null and ``text_content`` is 1).
* ``texts``: the text of each message, in blocks of about 64 KiB (a long
  reply is written and indexed a block at a time); for a content made of
  parts, its text parts joined (for search; the parts stay in ``body``).
  ``indexed``: the block as the index sees it where that differs (Chinese or
  Japanese in it: each Han or kana character set apart, ``store/cjk.py``).
* ``tool_calls``: one row per call an assistant message made; ``tool_results``:
  one row per tool message (its text is in ``texts``).
* ``texts_fts``: the full-text index of ``texts`` (FTS5, kept by triggers),
  absent where SQLite lacks FTS5. Its content is the view ``texts_indexed``
  (``indexed``, or else ``text``). No trigger or view calls a function of
  mint's: any SQLite tool can read and change the database.
* the view ``message_texts``: each message with its whole text, time and model.
"""

from __future__ import annotations

CURRENT = 2

V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE exchanges (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    time REAL NOT NULL,
    model TEXT,
    protocol TEXT,
    host TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    usage TEXT,
    finish_reason TEXT,
    duration REAL,
    extra TEXT,
    UNIQUE (conversation_id, position)
);
-- covers mint log stats: the sums read the index, not the rows
CREATE INDEX exchanges_usage ON exchanges(time, model, input_tokens, output_tokens);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    exchange_id INTEGER REFERENCES exchanges(id) ON DELETE SET NULL,
    role TEXT,
    body TEXT NOT NULL,
    text_content INTEGER NOT NULL,
    digest BLOB NOT NULL,
    UNIQUE (conversation_id, position)
);
CREATE INDEX messages_exchange ON messages(exchange_id);
CREATE TABLE texts (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (message_id, part)
);
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    call_id TEXT,
    name TEXT,
    arguments TEXT
);
CREATE INDEX tool_calls_message ON tool_calls(message_id);
CREATE INDEX tool_calls_call ON tool_calls(call_id);
CREATE TABLE tool_results (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
    call_id TEXT
);
CREATE VIEW message_texts AS
SELECT m.id, m.conversation_id, m.position, m.role, e.time, e.model,
       (SELECT group_concat(t.text, '') FROM
           (SELECT text FROM texts WHERE message_id = m.id ORDER BY part) AS t) AS text
FROM messages AS m LEFT JOIN exchanges AS e ON e.id = m.exchange_id;
"""

# Copies made before version 2 (and by the file store, in the files it left
# for the import) are known by being the same in every column but the
# conversation: the time of the save, to the microsecond, above all. An
# exchange without a time (0, from an old file) is never taken for a copy.
MARK_COPIES = """
UPDATE exchanges SET copy_of = (
    SELECT min(o.id) FROM exchanges AS o WHERE o.copy_of IS NULL AND o.id < exchanges.id
        AND o.time = exchanges.time AND o.position = exchanges.position
        AND o.model IS exchanges.model AND o.protocol IS exchanges.protocol
        AND o.host IS exchanges.host AND o.input_tokens IS exchanges.input_tokens
        AND o.output_tokens IS exchanges.output_tokens AND o.usage IS exchanges.usage
        AND o.finish_reason IS exchanges.finish_reason AND o.duration IS exchanges.duration
        AND o.extra IS exchanges.extra
) WHERE copy_of IS NULL AND time > 0;
"""

# Copies of exchanges (a fork): each names the row that made the request; when
# that row goes (``mint log rm``), the oldest copy takes its place, so a request
# stays counted while any row of it is left.
V2 = """
ALTER TABLE texts ADD COLUMN indexed TEXT;
ALTER TABLE exchanges ADD COLUMN copy_of INTEGER;
DROP INDEX exchanges_usage;
-- covers mint log stats: the sums read the index, not the rows
CREATE INDEX exchanges_requests ON exchanges(time, model, input_tokens, output_tokens)
    WHERE copy_of IS NULL;
CREATE INDEX exchanges_copies ON exchanges(copy_of) WHERE copy_of IS NOT NULL;
CREATE TRIGGER exchanges_copy_heir AFTER DELETE ON exchanges
WHEN EXISTS (SELECT 1 FROM exchanges WHERE copy_of = old.id) BEGIN
    UPDATE exchanges SET copy_of = (SELECT min(id) FROM exchanges WHERE copy_of = old.id)
        WHERE copy_of = old.id AND id > (SELECT min(id) FROM exchanges WHERE copy_of = old.id);
    UPDATE exchanges SET copy_of = NULL WHERE copy_of = old.id;
END;
""" + MARK_COPIES

# Not a migration: where SQLite has no FTS5 it is left out (search then scans).
# Made when a database is created, and again (the old index dropped, this one
# filled from ``indexed``, which the move fills first) by the move to version 2.
FTS = """
CREATE VIEW texts_indexed AS SELECT id, coalesce(indexed, text) AS text FROM texts;
CREATE VIRTUAL TABLE texts_fts USING fts5(text, content="texts_indexed", content_rowid="id");
CREATE TRIGGER texts_fts_insert AFTER INSERT ON texts BEGIN
    INSERT INTO texts_fts(rowid, text) VALUES (new.id, coalesce(new.indexed, new.text));
END;
CREATE TRIGGER texts_fts_delete AFTER DELETE ON texts BEGIN
    INSERT INTO texts_fts(texts_fts, rowid, text)
        VALUES ('delete', old.id, coalesce(old.indexed, old.text));
END;
"""

# The index of version 1 (the text as stored), removed by the move to version 2;
# kept here for the tests and the benchmark that build a database of version 1.
FTS_V1 = """
CREATE VIRTUAL TABLE texts_fts USING fts5(text, content="texts", content_rowid="id");
CREATE TRIGGER texts_fts_insert AFTER INSERT ON texts BEGIN
    INSERT INTO texts_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER texts_fts_delete AFTER DELETE ON texts BEGIN
    INSERT INTO texts_fts(texts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""
FTS_DROP = """
DROP TRIGGER IF EXISTS texts_fts_insert;
DROP TRIGGER IF EXISTS texts_fts_delete;
DROP TABLE IF EXISTS texts_fts;
DROP VIEW IF EXISTS texts_indexed;
"""

FTS_SINCE = 2  # the version whose migration (re)makes the index

MIGRATIONS = [V1, V2]
