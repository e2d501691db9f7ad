"""Deciding which variant of each slot a page view gets (docs/design.md §7–8).

:mod:`proxy.decide.decision` is the record every decision leaves; :mod:`proxy.decide.slots` the
choice a rule makes (a pin) or its absence (the control). The bandit and governance plug in here.
"""
