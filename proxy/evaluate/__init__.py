"""Offline evaluation of any policy from the decision log: IPS, SNIPS and doubly robust.

What it must do is in ``docs/design.md`` §7 (offline evaluation). The log's format, the policy
file's, the Python entry point's contract and the output are documented in
``docs/decision-log.md``; ``vernier evaluate --help`` names that file.

* :mod:`~proxy.evaluate.log` — the log read as ``(line, record)`` pairs from JSON lines.
* :mod:`~proxy.evaluate.policies` — target policies: uniform, always one variant, a
  deterministic rule, a VW model, a user's function (:func:`~proxy.evaluate.policies.entry_point`);
  every pmf is checked.
* :mod:`~proxy.evaluate.policy_file` — a target given as per-decision probabilities, joined
  to the log in order.
* :mod:`~proxy.evaluate.reward_model` — DR's cross-fitted r̂ over chosen namespaces.
* :mod:`~proxy.evaluate.bootstrap` — the streaming bootstrap behind the intervals.
* :mod:`~proxy.evaluate.weighted` — IPS and SNIPS with standard errors from running sums
  (shared with the results report).
* :mod:`~proxy.evaluate.estimators` — the estimates, intervals inside the reward range,
  effective sample size and warnings (:class:`~proxy.evaluate.estimators.SlotEvaluator`
  streams; :func:`~proxy.evaluate.estimators.evaluate` runs over a list).
* :mod:`~proxy.evaluate.passes` — the command's two passes over a log in flat memory.
* :mod:`~proxy.evaluate.report` — the text table and the ``--json`` document.
"""
