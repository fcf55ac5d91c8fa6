"""One run against the server: the exchange (and --resume's, from its journal), the runner,
retries, continuation of a cut answer.

May import output, render, wire, protocols, request, storage, store, options, base and errors.
"""
