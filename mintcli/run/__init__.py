"""One run against the server: the runner, retries, continuation of a cut answer, the exchange.

May import output, render, wire, protocols, request, storage, store, options, base and errors.
"""
