"""Request assembly: prompt, turns, attachments, tool definitions, schema, the ChatRequest model.

May import storage, store, options, base and errors.
"""
