"""The wire, beside ``protocols/``: HTTP transport, routes and proxies, connections, SSE
framing, recording. httpx is imported here only (transport.py), never from __init__.

May import protocols (a sibling), request, storage, store, options, base and errors.
"""
