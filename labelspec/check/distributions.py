"""The three reference distributions the check needs: the normal quantile and tail, and the chi-square tail.

One job: keep ``scipy.stats`` out of every command. Importing it takes ~0.4 s (it builds every distribution
object), a third of a small check's run; ``scipy.special`` holds the same functions, which ``scipy.stats``'s
``norm.ppf``, ``norm.sf`` and ``chi2.sf`` call for valid arguments (``ndtri``, ``ndtr``, ``chdtrc``): the same
values, bit for bit (``tests/test_distributions.py`` compares them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special


def norm_ppf(q: npt.ArrayLike) -> np.ndarray:
    """The standard normal quantile (``scipy.stats.norm.ppf``)."""
    return np.asarray(special.ndtri(np.asarray(q, dtype=np.float64)))


def norm_sf(x: npt.ArrayLike) -> np.ndarray:
    """The standard normal upper tail P(Z > x) (``scipy.stats.norm.sf``)."""
    return np.asarray(special.ndtr(-np.asarray(x, dtype=np.float64)))


def chi2_sf(x: npt.ArrayLike, dof: npt.ArrayLike) -> np.ndarray:
    """The chi-square upper tail P(X > x) for ``x ≥ 0`` and ``dof > 0`` (``scipy.stats.chi2.sf``); callers
    guarantee both (a test with no degree of freedom has no p-value)."""
    x_arr, dof_arr = np.asarray(x, dtype=np.float64), np.asarray(dof, dtype=np.float64)
    if np.any(dof_arr <= 0) or np.any(x_arr < 0):
        raise ValueError("chi2_sf needs x >= 0 and dof > 0")
    return np.asarray(special.chdtrc(dof_arr, x_arr))
