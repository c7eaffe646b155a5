"""Exception classes of calcidetect.

Every error that calcidetect raises on purpose derives from
:class:`CalcidetectError`, so a caller can catch one class.  Messages name the
file, tag or parameter at fault.
"""

from __future__ import annotations

import os

__all__ = ["CalcidetectError", "LoadError", "ConfigError"]


class CalcidetectError(Exception):
    """Base class of every error raised by calcidetect."""


class LoadError(CalcidetectError):
    """An input could not be read as a radiograph.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file that failed (``None`` for in-memory input).
    reason : str
        Why it failed, in words a user can act on.

    Examples
    --------
    >>> err = LoadError("scan.dcm", "file is empty")
    >>> str(err)
    'scan.dcm: file is empty'
    """

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        where = self.path if self.path is not None else "<array>"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # keep picklable across process / Dask workers
        return (type(self), (self.path, self.reason))


class ConfigError(CalcidetectError, ValueError):
    """A configuration file or parameter is invalid (names the key)."""
