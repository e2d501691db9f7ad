"""Learned segments: behavioural vectors from profiles, clustering, and request-time assignment.

``vectors`` turns a profile (or a request context) into the standard behavioural vector,
``fit`` clusters many of them into a :class:`~proxy.records.segment_model.SegmentModel` with
labels kept stable across refits, ``assign`` finds a visitor's cluster by nearest centroid in
pure Python. All three are pure; the store, the registry every proxy polls and the command live
elsewhere (``proxy/store/segment_models.py``, ``proxy/segments/registry.py``,
``proxy/commands/segments.py``).
"""
