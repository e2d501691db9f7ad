"""The statistics core: pure functions over counts and sums, no I/O (issue #13, item 2).

- :mod:`~proxy.stats.binary`: a rate per exposure (CTR, conversion rate): Beta-Binomial
  posteriors, chance to beat the control and to be best, expected loss, Fisher's exact and the
  two-proportion z-test, intervals on absolute and relative lift, sample size for a power.
- :mod:`~proxy.stats.poisson`: two Poisson rates (conversions per visitor) compared by the exact
  conditional test, with the rate ratio's Clopper-Pearson interval.
- :mod:`~proxy.stats.continuous`: means and ratio metrics from sufficient statistics (count, sum,
  sum of squares): Welch's test, the delta method for a ratio of means, CUPED.
- :mod:`~proxy.stats.sequential`: always-valid inference (mSPRT and a normal-mixture confidence
  sequence, both for any asymptotically normal estimate) and Holm's step-down correction.
- :mod:`~proxy.stats.checks`: sample-ratio mismatch against a configured split, and the bandit's
  propensity-consistency check against the probabilities it logged.

scipy is used where it is the maintained implementation (beta and normal quantiles, Fisher's
exact test, numerical integration); every function is checked in ``tests/stats/`` against a
reference computed another way (a closed form, a published table, a simulation).
"""
