"""Exact binomial bounds for "how often does a night go wrong", from a handful of seeded runs.

A crowd run either breaks the scenario's ``[safety]`` criterion or does not; over ``n`` runs with
independent seeds, ``k`` failures are a binomial draw.  The Clopper-Pearson (1934) bounds invert the
binomial tail exactly, so they hold at their stated confidence for any true failure probability, small
samples included (the price: they are conservative, i.e. wider than approximate intervals).

* :func:`cp_upper` is the one-sided upper confidence bound: the largest failure probability ``p``
  for which seeing ``k`` or fewer failures in ``n`` runs still has probability ``alpha``
  (``P(X <= k | n, p) = alpha``).  With ``k = 0`` it has the closed form ``1 - alpha ** (1 / n)``.
* :func:`cp_lower` is the one-sided lower bound (``P(X >= k | n, p) = alpha``); with ``k = n``,
  ``alpha ** (1 / n)``.
* Together, at ``alpha = 0.05`` each, they form the two-sided 90% Clopper-Pearson interval; a 95%
  two-sided interval uses ``alpha = 0.025`` on each side.

"Safe at risk r with 95% confidence" means ``cp_upper(k, n, 0.05) < r``.  With no failure at all that
needs ``n >= ln(0.05) / ln(1 - r)`` runs (:func:`runs_needed`): 59 for r = 5%, 29 for 10%, 14 for
20% -- the zero-failure "success run" sample sizes of reliability demonstration.  No computation
here needs SciPy: the tail is summed in log space with :func:`math.lgamma` and the bound found by
bisection (to 1e-12), which is plenty for the few hundred runs a study makes.
"""

from __future__ import annotations

import math

__all__ = ["binom_cdf", "cp_upper", "cp_lower", "cp_interval", "runs_needed", "attainable_upper",
           "CONFIDENCE"]

#: The confidence of every bound citytwin states (one-sided).
CONFIDENCE = 0.95


def _check(k: int, n: int, alpha: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer (runs), got {n!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"k must be an integer between 0 and n={n} (failures), got {k!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")


def binom_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)`` (exact sum of the terms, in log space)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _bisect(f, target: float) -> float:
    """The ``p`` in (0, 1) where the decreasing function ``f(p)`` equals ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def cp_upper(k: int, n: int, alpha: float = 1 - CONFIDENCE) -> float:
    """One-sided ``1 - alpha`` upper Clopper-Pearson bound on a probability after ``k`` events in
    ``n`` trials (1.0 when ``n == 0`` or ``k == n``: nothing rules a high probability out)."""
    _check(k, n, alpha)
    if n == 0 or k == n:
        return 1.0
    if k == 0:
        return 1.0 - alpha ** (1.0 / n)
    return _bisect(lambda p: binom_cdf(k, n, p), alpha)


def cp_lower(k: int, n: int, alpha: float = 1 - CONFIDENCE) -> float:
    """One-sided ``1 - alpha`` lower Clopper-Pearson bound (0.0 when ``k == 0``)."""
    _check(k, n, alpha)
    if k == 0:
        return 0.0
    if k == n:
        return alpha ** (1.0 / n)
    # P(X >= k | p) = 1 - P(X <= k - 1 | p) grows with p: find where it reaches alpha.
    return _bisect(lambda p: binom_cdf(k - 1, n, p), 1.0 - alpha)


def cp_interval(k: int, n: int, confidence: float = 0.90) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at ``confidence`` (each tail ``(1 - confidence) / 2``);
    the default 90% interval has the one-sided 95% bounds as its ends."""
    alpha = (1.0 - confidence) / 2.0
    return cp_lower(k, n, alpha), cp_upper(k, n, alpha)


def runs_needed(risk: float, alpha: float = 1 - CONFIDENCE) -> int:
    """The fewest runs that, all passing, put the one-sided upper bound strictly below ``risk``."""
    if not 0.0 < risk < 1.0:
        raise ValueError(f"risk must be a probability strictly between 0 and 1, got {risk!r}")
    n = max(1, math.ceil(math.log(alpha) / math.log1p(-risk)))
    while cp_upper(0, n, alpha) >= risk:          # ceil can land on the boundary itself
        n += 1
    return n


def attainable_upper(n: int, alpha: float = 1 - CONFIDENCE) -> float:
    """The lowest upper bound ``n`` runs can give (all of them passing): ``1 - alpha ** (1 / n)``."""
    return cp_upper(0, n, alpha)
