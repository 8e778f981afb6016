"""Float details straight to JSON (``check/float_detail.py``): the same text as the dicts' encoder writes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from labelspec.check.float_detail import FloatDetail
from labelspec.check.release_json import dumps
from labelspec.check.release_records import records_json

FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.0, -0.0, 1.0, 3.0, 1e-7, 0.5]))
NAMES = st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=4)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(0, 6), first=NAMES, second=NAMES, nan=st.booleans())
def test_json_is_the_text_of_the_dicts(data: st.DataObject, n: int, first: list[str], second: list[str],
                                       nan: bool) -> None:
    """Groups and names in any order, every float repr case (whole, negative zero, tiny, huge), empty groups; a
    NaN defers to the encoder, as the dicts would."""
    a = data.draw(hnp.arrays(np.float64, (n, len(first)), elements=FLOATS))
    b = data.draw(hnp.arrays(np.float64, (n, len(second)), elements=FLOATS))
    if nan and a.size:
        a[0, 0] = np.nan
    detail = FloatDetail((("posterior", tuple(first), a.__getitem__), ("borda", tuple(second), b.__getitem__)))
    idx = np.arange(n)[::-1]
    dicts = detail(idx)
    if nan and a.size:
        with pytest.raises(ValueError):
            dumps(dicts[-1])  # json.dumps refuses NaN: the release says so, whichever way the text is built
        with pytest.raises(ValueError):
            detail.json(idx)
        return
    assert dicts == [{"posterior": dict(zip(first, a[i].tolist(), strict=True)),
                      "borda": dict(zip(second, b[i].tolist(), strict=True))} for i in idx]
    assert detail.json(idx).to_pylist() == records_json(dicts).to_pylist() == [dumps(d) for d in dicts]


def test_a_posterior_reads_as_json_with_sorted_labels() -> None:
    post = np.array([[0.25, 0.75], [1.0, 0.0]])
    detail = FloatDetail((("posterior", ("pos", "neg"), post.__getitem__),))
    assert detail.json(np.array([1, 0])).to_pylist() == ['{"posterior":{"neg":0.0,"pos":1.0}}',
                                                         '{"posterior":{"neg":0.75,"pos":0.25}}']
