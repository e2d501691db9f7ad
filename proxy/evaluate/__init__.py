"""Offline evaluation of policies from the decision log: IPS, SNIPS and doubly robust.

* :mod:`~proxy.evaluate.log` — the record format below, read from JSON lines.
* :mod:`~proxy.evaluate.policies` — target policies: uniform, always one variant, a
  deterministic rule, a VW model.
* :mod:`~proxy.evaluate.estimators` — the estimates, their 95 % intervals, effective sample
  size and warnings; :func:`~proxy.evaluate.estimators.evaluate` is the entry point.

The decision log
================

One JSON object per line (UTF-8), one line per decision, with its reward joined. It follows
docs/design.md §7 and, in spirit, VW's decision-service JSON (DSJSON): the context as namespaces of
features, the offered actions in order, the chosen one with the probability it had. To evaluate
logs from another system, convert each decision to this shape. Example (one line, wrapped)::

    {"id": "d-7f3a", "slot": "hero", "ts_ms": 1700000000000,
     "session": "s-19c2", "visitor": "v-88e1",
     "context": {"D": ["dev=mobile", "br=safari"], "T": ["h=19", "dp=evening"],
                 "U": ["eng=30+", "v7=2+"]},
     "actions": ["a", "b", "c"], "chosen": "b", "p": 0.8,
     "pmf": [0.1, 0.8, 0.1], "reward": 1.0,
     "reason": "bandit", "model_version": "fs1-2c4e9a0b17d35f68/12"}

==================  ========  ===============================================================
field               required  meaning
==================  ========  ===============================================================
``id``              yes       decision id (unique)
``slot``            yes       the slot (decision point)
``actions``         yes       variant ids offered, in the order the policy saw them; unique
``chosen``          yes       the variant served; one of ``actions``
``p``               yes       probability with which ``chosen`` was served, in ``(0, 1]``;
                              1 for a deterministic serve (rule, default, held, paused)
``context``         no        shared features: namespace letter → tokens, exactly as given to
                              VW (:func:`proxy.bandit.features.context_features`); ``{}`` if
                              none. Target policies and the DR reward model read it
``reward``          no        the joined reward (click = 1, a conversion's value, …), the
                              slot's default reward if the decision was seen and nothing
                              arrived; ``null`` or absent if the slot was never seen — such a
                              record is not an example and is skipped
``pmf``             no        the full distribution over ``actions`` (for diagnostics)
``reason``          no        ``bandit`` (default), ``rule``, ``sticky``, ``held``,
                              ``paused`` or ``default``; ``sticky`` records (re-serves of an
                              earlier decision) are skipped: they are not new examples
``ts_ms``           no        decision time, ms since the epoch
``session``,        no        who saw it (opaque ids)
``visitor``
``model_version``   no        the model that decided (snapshot feature space and version)
==================  ========  ===============================================================

Other fields are ignored. Mapping from DSJSON: ``_label_cost`` → ``reward = -cost``,
``_label_probability`` → ``p``, ``a`` and ``_labelIndex`` → ``actions`` and ``chosen``,
``c`` → ``context`` (flatten each namespace's features to ``name=value`` tokens), ``p`` →
``pmf``, ``EventId`` → ``id``. The estimates assume ``p`` is the probability the logging policy
really used, given the logged context; if decisions were replayed from a cache or forced by
something the log does not show, the estimates are biased.
"""
