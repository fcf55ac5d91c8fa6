"""The wire, beside ``protocols/``: HTTP transport, routes and proxies, connections, SSE
framing, recording, what response headers say (headers.py). httpx is imported by
transport.py and its helpers, never from __init__.

May import protocols (a sibling), request, storage, store, options, base and errors.
"""
