"""Processes and sockets: the aiohttp server with Vernier's connection limits (``protocol.py``)
and the worker processes of ``vernier serve`` (``workers.py``)."""
