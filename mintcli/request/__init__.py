"""Request assembly in one pass (build.py): every input read once, then the messages,
tools and schema of the ChatRequest (model.py), handed down as a Prepared exchange.

May import storage, store, options, base and errors.
"""
