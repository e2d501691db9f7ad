"""Vernier: a personalising reverse proxy.

A request flows through the ordered stages declared in :mod:`proxy.pipeline`; the folders below
this one are the capabilities those stages call (``html/``, ``upstream/``, ``store/``, ...).
"""

__version__ = "0.1.0"
