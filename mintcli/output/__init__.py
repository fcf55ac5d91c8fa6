"""What comes back: the accumulator that assembles a reply, the sinks that write it, stats.

May import render (beside it), wire, protocols, request, storage, store, options, base and errors.
"""
