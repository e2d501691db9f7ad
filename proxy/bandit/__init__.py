"""The contextual bandit's pure core: policy config, features, VW examples, sampling, model.

Modules, each usable alone:

* :mod:`~proxy.bandit.policy_config` — a slot's ``policy: bandit`` block (typed, validated once)
  and the VW command line and feature-space hash it implies.
* :mod:`~proxy.bandit.features` — request context → VW namespaces; the ``cb_explore_adf`` text
  format; :func:`~proxy.bandit.features.sanitize` so no input can break it.
* :mod:`~proxy.bandit.sampling` — the exploration floor and seeded, replayable sampling.
* :mod:`~proxy.bandit.cell_estimates` — exact averages of the interaction terms' cells (and of
  the default terms', once their cells differ beyond chance) that refine VW's estimates;
  :mod:`~proxy.bandit.square_cb` — SquareCB's probabilities from them.
* :mod:`~proxy.bandit.model` — :class:`~proxy.bandit.model.BanditModel`, a VW workspace and its
  cell counts: predict, learn, save to and load from bytes.
* :mod:`~proxy.bandit.snapshot` — versioned, checksummed model snapshots with a canary check.

A decision, put together (the proxy's stage does this with its own I/O around it)::

    shared = features.context_features(context, policy, now_ms=now_ms)
    pmf = model.predict(shared, actions)                  # floor applied
    index, probability = sampling.sample(pmf, sampling.seed_key(session, slot, epoch))
    variant = actions.ids[index]                           # log (variant, probability, version)

No module here does I/O except :class:`~proxy.bandit.model.BanditModel`'s save/load, which
goes through a private temporary file because VW's binding offers nothing else.
"""
