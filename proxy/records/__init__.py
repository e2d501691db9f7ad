"""The records and value types every layer shares: the bottom of Vernier's dependency graph.

A type lives here when more than one layer passes it along: the store carries it, a pure core
computes with it, an edge writes it. Modules here import only the standard library, third-party
packages and :mod:`proxy.errors`, so that importing a record never loads Redis, VW or aiohttp
(``docs/design-notes.md``, "Layers"; ``tests/test_layers.py`` enforces it).

* :mod:`~proxy.records.events` — the tracker's event contract (:class:`~proxy.records.events.Batch`).
* :mod:`~proxy.records.event_record` — one accepted event as the stream and spool hold it.
* :mod:`~proxy.records.decision` — a logged decision and a posted reward.
* :mod:`~proxy.records.snapshot` — a published model snapshot and its codec.
* :mod:`~proxy.records.slot_counts` — per-minute slot counts, as the store keeps them.
* :mod:`~proxy.records.rule_outcomes` — what a rule did on a page, summed over the proxies.
"""
