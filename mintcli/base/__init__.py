"""The ground floor: the Terminal (stdin/stdout/stderr), escaping of foreign text, the event
vocabulary and capped reads. May import errors only.
"""
