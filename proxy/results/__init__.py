"""Results: what each variant of each slot did, folded from the event and decision streams into
durable sufficient statistics (:mod:`~proxy.results.fold`), and the report computed from them
(:mod:`~proxy.results.report`, the contract in ``docs/report-format.md``). Pure; the store keeps
the sums (:mod:`proxy.store.results`) and :mod:`proxy.results_consumer` runs the fold."""
