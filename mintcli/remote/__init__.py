"""``mint batch --remote``: the providers' own batch services as a backend of
``mint batch`` (same input, same result lines, same --resume manners).

* ``plan.py``: the input (hashed; stdin copied to a file, capped) becomes request
  files, cut into parts at the provider's limits.
* ``job.py``: the local job file, which records every remote id the moment it
  exists, so that ``--resume`` re-attaches instead of paying twice;
  ``jobcheck.py`` checks every field of one read back (exit 3 if damaged).
* ``providers.py``: the OpenAI Batch API (``/files`` + ``/batches``) and
  Anthropic Message Batches (``/messages/batches``) behind one interface.
* ``answers.py``: what a service answers, not trusted: ids checked to be plain
  tokens, figures, lists read page after page but never for ever.
* ``api.py``: HTTP with retries, uploads, downloads streamed to disk (capped).
* ``collect.py``: downloaded results joined to the input, one result line per
  item in input order, each reply read by the protocol's decoder.
* ``run.py``: the steps, in order; ``commands.py``: ``mint batch status``,
  ``fetch`` and ``cancel``; ``retrycmd.py``: the command, quoted for a shell,
  that retries what a fetch found failed.

It imports httpx (through mintcli.wire.transport), orjson and mintcli.batch; only
``mint batch --remote`` and those three commands import it.
"""
