"""Body handling the proxy needs before and after rewriting: content codings (``coding``).

Pure and synchronous: bytes in, bytes out, bounded in memory. The upstream client runs with
auto-decompression off, so these functions see exactly the bytes the origin sent.
"""
