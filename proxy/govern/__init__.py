"""Per-session change governance (docs/design.md §8): content may adapt, but rarely and coherently.

:mod:`proxy.rules.limits` resolves the YAML limits per slot (at load); :mod:`proxy.govern.sticky` turns the
store's verdicts into decisions; the atomic check-and-consume is one Lua script in
:mod:`proxy.store.governance`; :mod:`proxy.govern.fallback` keeps the last variants in a cookie
for when the store cannot answer.
"""
