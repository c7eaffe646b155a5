"""Size checks shared by the DICOM and raster readers (before any decoding)."""

from __future__ import annotations

from .errors import LoadError

__all__ = ["check_declared_size"]


def check_declared_size(path, what: str, rows: int, cols: int, max_pixels: int) -> None:
    """Refuse an empty or oversized image from its header, before allocating it.

    Parameters
    ----------
    path : str or os.PathLike
        The file, named in the error.
    what : str
        Where the size was declared, e.g. ``"DICOM Rows x Columns"`` or ``"PNG header"``.
    rows, cols : int
        Declared size.
    max_pixels : int
        Largest accepted ``rows * cols`` (``Config.max_pixels``).

    Raises
    ------
    LoadError
    """
    if rows < 1 or cols < 1:
        raise LoadError(path, f"{what} declares an empty image ({rows} x {cols})")
    if rows * cols > max_pixels:
        raise LoadError(
            path,
            f"{what} declares {rows} x {cols} = {rows * cols} pixels, "
            f"more than the limit of {max_pixels} (Config.max_pixels / max_pixels=)",
        )
