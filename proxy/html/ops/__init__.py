"""The rewrite operations: one module per operation, listed once in :mod:`.registry`.

Each module defines one operation completely: its msgspec struct (the shape a rules file writes,
which is also the value the rewriter runs), its load-time checks, how it applies to an element,
and what of the element's bytes it may change. See :mod:`.base` for the contract.
"""
