"""``mint batch``: many prompts in, one JSON result line per item out.

The parts, in the order an item meets them:

* ``items.py``: input lines become items (a request each, or the reason the
  line is bad), with ``--shard`` and ``--resume`` applied.
* ``pool.py``: the main thread hands items to worker threads, each running the
  same :class:`mintcli.run.runner.ChatRun` as ``mint chat`` over one shared
  transport, and writes results in input order (a bounded reorder buffer) or
  as they come.
* ``pacing.py``: one pause for every worker after a rate limit, and ``--rpm``.
* ``results.py``: result lines, the ``-O`` file and what ``--resume`` finds in it.
* ``command.py``: the wiring from settings to a finished batch.
"""
