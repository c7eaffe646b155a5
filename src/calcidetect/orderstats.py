"""Exact medians and percentiles of whole arrays, by single-rank partitions.

:func:`numpy.median` and :func:`numpy.percentile` partition their input
around two or more ranks at once, and numpy's multi-rank partition is a
scalar introselect; a partition around one rank runs on numpy's vectorised
selection, about ten times faster on a million float32 values.  The
functions here find each rank they need with one single-rank partition of
what is left above the previous one (or, for the next rank up, a minimum),
then combine the order statistics with numpy's own arithmetic (the mean of
the two middle values; the linear interpolation of the "linear" method), so
the results are the same numbers, in the same dtype, as numpy's.  A value
repeated over a large block (the zeros of a masked image), which slows the
vectorised partition down many times over, is split off by counting first.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["median", "percentile"]


#: numpy's single-rank partition slows down many times over when the rank
#: falls in a large block of equal values (a mask's zeros); a value holding at
#: least this share of a sample of ``_SAMPLE_SIZE`` values is split off first
#: by counting, at most ``_MAX_SPLITS`` times, for arrays of at least
#: ``_MIN_SPLIT_SIZE`` values.
_TIE_SHARE = 0.01
_SAMPLE_SIZE = 1024
_MAX_SPLITS = 4
_MIN_SPLIT_SIZE = 4096


def _order_statistics(values: np.ndarray, ranks: Sequence[int]) -> dict[int, np.generic]:
    """The values of the given ranks (0 = smallest) of ``values`` (no NaN), as a dict rank -> value."""
    return _select(np.asarray(values).reshape(-1), sorted(set(int(r) for r in ranks)), 0, copied=False)


def _dominant_value(values: np.ndarray) -> np.generic | None:
    """The most frequent value of a regular sample of ``values``, if it holds ``_TIE_SHARE`` of it."""
    sample = values[:: max(1, values.size // _SAMPLE_SIZE)]
    levels, counts = np.unique(sample, return_counts=True)
    i = int(counts.argmax())
    return levels[i] if counts[i] > 1 and counts[i] >= _TIE_SHARE * sample.size else None


def _select(values: np.ndarray, ranks: list[int], splits: int, copied: bool) -> dict[int, np.generic]:
    """Order statistics of a flat array (``copied``: it is a private copy that may be reordered).

    A dominant value (see ``_TIE_SHARE``) is split off by counting: ranks in
    its block are that value, the others are looked for among the smaller or
    the larger values.  Otherwise each rank is found in the part above the
    previous rank: by a minimum when it is the very next rank, by a
    partition otherwise.
    """
    found: dict[int, np.generic] = {}
    tie = _dominant_value(values) if splits < _MAX_SPLITS and values.size >= _MIN_SPLIT_SIZE else None
    if tie is not None:
        below = values < tie
        n_below = int(np.count_nonzero(below))
        n_upto = n_below + int(np.count_nonzero(values == tie))
        low = [r for r in ranks if r < n_below]
        high = [r - n_upto for r in ranks if r >= n_upto]
        found.update({r: tie for r in ranks if n_below <= r < n_upto})
        # (np.compress: boolean indexing is several times slower on a scattered mask)
        if low:
            found.update(_select(np.compress(below, values), low, splits + 1, copied=True))
        if high:
            above = _select(np.compress(values > tie, values), high, splits + 1, copied=True)
            found.update({r + n_upto: v for r, v in above.items()})
        return found
    work = values if copied else values.copy()
    start = 0  # work[start:] holds the values ranked start and above
    for rank in ranks:
        rest = work[start:]
        if rank == start:  # the smallest of the rest, moved to its front
            i = int(rest.argmin())
            rest[[0, i]] = rest[[i, 0]]
        else:
            rest.partition(rank - start)
        found[rank] = work[rank]
        start = rank + 1
    return found


def _has_nan(values: np.ndarray) -> bool:
    return values.dtype.kind in "fc" and bool(np.isnan(values.max()))


def median(values: np.ndarray) -> np.generic:
    """Median of all elements, the same number and dtype as :func:`numpy.median`.

    Parameters
    ----------
    values : ndarray
        Any shape; numeric.

    Returns
    -------
    numpy scalar
        As ``numpy.median(values)`` (which this falls back to when ``values``
        is empty or holds NaN).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([3.0, 1.0, 4.0, 1.5], np.float32)
    >>> median(x) == np.median(x)
    np.True_
    """
    a = np.asarray(values)
    n = a.size
    if n == 0 or a.dtype.kind not in "iuf" or _has_nan(a):
        return np.median(a)
    half = n // 2
    stats = _order_statistics(a, [half - 1, half] if n % 2 == 0 else [half])
    middle = np.array([stats[r] for r in sorted(stats)], dtype=a.dtype)
    return np.mean(middle)  # numpy's median is the mean of the middle slice


def _lerp(a, b, t):
    """:func:`numpy.percentile`'s linear interpolation (numpy's ``_lerp``, without ``out``)."""
    diff_b_a = b - a
    lerp_interpolation = np.add(a, diff_b_a * t, out=...)
    np.subtract(b, diff_b_a * (1 - t), out=lerp_interpolation, where=t >= 0.5, casting="unsafe",
                dtype=type(lerp_interpolation.dtype))
    if lerp_interpolation.ndim == 0:
        lerp_interpolation = lerp_interpolation[()]
    return lerp_interpolation


def percentile(values: np.ndarray, q: float | Sequence[float]) -> np.generic | np.ndarray:
    """Percentile(s) of all elements, the same numbers and dtype as :func:`numpy.percentile`.

    Only numpy's default ("linear") method, over the flattened array.

    Parameters
    ----------
    values : ndarray
        Any shape; real numbers.
    q : float or sequence of float
        Percentiles in [0, 100].

    Returns
    -------
    numpy scalar or ndarray
        As ``numpy.percentile(values, q)`` (which this falls back to when
        ``values`` is empty or holds NaN).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(11, dtype=np.float32)
    >>> bool(np.array_equal(percentile(x, [10, 95]), np.percentile(x, [10, 95])))
    True
    """
    a = np.asarray(values)
    weak_q = type(q) in (int, float)
    quantiles = np.true_divide(q, 100, out=...)
    n = a.size
    if n == 0 or a.dtype.kind not in "iuf" or _has_nan(a) or not (
        np.all(quantiles >= 0) and np.all(quantiles <= 1)
    ):
        return np.percentile(a, q)
    virtual = np.asanyarray((n - 1) * quantiles)
    previous = np.floor(virtual, out=...)
    above = virtual >= n - 1
    previous[above] = n - 1  # numpy takes the last element (index -1) there
    following = np.where(above, n - 1, previous + 1)
    previous = previous.astype(np.intp)
    following = following.astype(np.intp)
    stats = _order_statistics(a, np.concatenate([previous.ravel(), following.ravel()]))
    prev_values = np.array([stats[r] for r in previous.ravel()], dtype=a.dtype).reshape(virtual.shape)
    next_values = np.array([stats[r] for r in following.ravel()], dtype=a.dtype).reshape(virtual.shape)
    # numpy's gamma is measured from index -1 where the virtual index is at the top
    gamma = np.asanyarray(virtual - np.where(above, -1, previous), dtype=virtual.dtype)
    if weak_q:
        gamma = float(gamma)
    if prev_values.ndim == 0:
        prev_values, next_values = prev_values[()], next_values[()]
    return _lerp(prev_values, next_values, gamma)
