"""The origin side: the HTTP client (``client.py``) and the header policy (``headers.py``) that
decides what crosses the proxy in each direction."""
