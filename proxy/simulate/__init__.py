"""``vernier simulate``: synthetic visitors with hidden preferences through the real HTTP path.

``world`` (pure): who visits, what they would click, what each policy would earn. ``site``:
the demo shop, the embedded store and the proxy, in this process on loopback. ``driver``: the
visitors, over HTTP (page, tracker beacon). ``curve``: CSV, learning-curve PNG and summary.
``simulation``: one run of all of them, its files and its result. The command line is
:mod:`proxy.commands.simulate`.
"""
