"""The ``vernier`` subcommands that are more than a few lines, one module each.

:mod:`proxy.cli` is the entry point: it builds the parser and dispatches to these. A command is
the top of the dependency graph (``docs/design-notes.md``, "Layers"): it may import any layer, and
nothing but the CLI imports a command, so what a command needs from another one lives below both.

* :mod:`~proxy.commands.evaluate` — ``vernier evaluate``: offline estimates from the decision log.
* :mod:`~proxy.commands.learn` — ``vernier learn``: the learner apart from the proxies.
* :mod:`~proxy.commands.pause` — ``vernier pause``, ``resume``, ``pauses``: the kill switch.
* :mod:`~proxy.commands.simulate` — ``vernier simulate``: synthetic visitors, learning curve.

:mod:`~proxy.commands.preflight` is not a command: the checks several commands run before they
start (the rules path must exist; an empty rule set and an unreachable origin are warnings).
"""
