"""The check's reference distributions are scipy.stats' values, bit for bit, without importing scipy.stats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from labelspec.check.distributions import chi2_sf, norm_ppf, norm_sf

ROOT = Path(__file__).resolve().parent.parent
finite = st.floats(-40, 40, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1, allow_nan=False), finite, st.floats(0, 1e6, allow_nan=False), st.integers(1, 500))
def test_equal_to_scipy_stats(q: float, x: float, chi: float, dof: int) -> None:
    assert norm_ppf(q).tobytes() == np.float64(stats.norm.ppf(q)).tobytes()
    assert norm_sf(x).tobytes() == np.float64(stats.norm.sf(x)).tobytes()
    assert chi2_sf(chi, dof).tobytes() == np.float64(stats.chi2.sf(chi, dof)).tobytes()


def test_arrays_and_published_values() -> None:
    """Textbook values: z(0.975) = 1.959964, P(Z > 1.96) = 0.0249979, P(χ²₁ > 3.841459) = 0.05, and the
    chi-square tail of 0 is 1."""
    assert norm_ppf([0.975])[0] == pytest.approx(1.959964, abs=1e-6)
    assert norm_sf(np.array([1.96, 0.0])).tolist() == pytest.approx([0.0249979, 0.5], abs=1e-7)
    assert chi2_sf(np.array([3.841459, 0.0]), 1).tolist() == pytest.approx([0.05, 1.0], abs=1e-7)
    assert chi2_sf(np.array([11.0705, 9.4877]), np.array([5, 4])).tolist() == pytest.approx([0.05, 0.05], abs=1e-5)


def test_no_degrees_of_freedom_is_refused() -> None:
    with pytest.raises(ValueError, match="dof > 0"):
        chi2_sf(1.0, 0)
    with pytest.raises(ValueError, match="x >= 0"):
        chi2_sf(-1.0, 2)


def test_a_check_does_not_import_scipy_stats() -> None:
    """~0.4 s of every check, calibrate, adjudicate and release (a third of a small check) was importing it.
    In a fresh interpreter, so that the test suite's own imports do not count."""
    code = ("import sys; from labelspec import api; "
            "r = api.check_labels('specs/support-intent', ['specs/support-intent/labels']); "
            "print(r.exit_code, sorted(m for m in sys.modules if m.startswith('scipy.stats')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.split() == ["0", "[]"]
