"""The bundled demo shop that ``vernier demo`` puts behind the proxy.

An ordinary small website (catalog, cart, checkout) with no Vernier code in it: its markup offers
stable ids and classes for rules to target, and its HTTP behaviour is realistic enough to exercise
the proxy. Start it with :func:`proxy.demo.shop.run_shop`, or alone with
``python -m proxy.demo.shop``.
"""
