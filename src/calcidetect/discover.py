"""Find the radiographs under a folder (the walk behind ``calcidetect batch``).

Rules
-----
- Recursive, sorted by relative POSIX path, so every run sees the same order.
- Hidden files and folders (name starting with ``.``) are skipped.
- Symbolic links to folders are never followed (no cycles, no escaping the
  tree; an in-tree target is walked anyway).  A symbolic link to a file is
  taken only when its resolved target is a regular file inside ``in_dir``.
- ``.png .tif .tiff .jpg .jpeg .dcm .dicom`` are taken by extension (case
  insensitive) and left to the loader to judge.  Files with a known
  non-image extension (``.json``, ``.txt``, ``.csv``, ...) are ignored.  Any
  other file (no extension or an unknown one) is taken when bytes 128:132 are
  ``b"DICM"``, the DICOM preamble marker (PS3.10 section 7.1).
- An ``exclude`` folder (the batch's OUT_DIR when it lies inside IN_DIR) is
  not walked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Input", "discover", "IMAGE_EXTENSIONS", "DICOM_EXTENSIONS", "IGNORED_EXTENSIONS"]

#: Raster formats taken by extension.
IMAGE_EXTENSIONS = frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg"})
#: DICOM files taken by extension.
DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
#: Extensions never taken, whatever the bytes say (sidecars, notes, tables).
IGNORED_EXTENSIONS = frozenset(
    {
        ".json", ".txt", ".md", ".rst", ".csv", ".tsv", ".toml", ".yaml", ".yml",
        ".xml", ".html", ".htm", ".pdf", ".py", ".log", ".ini", ".cfg", ".zip",
        ".gz", ".tar", ".bz2", ".xz", ".7z", ".npy", ".npz", ".doc", ".docx",
        ".xls", ".xlsx", ".gif", ".bmp", ".svg", ".sh", ".bat",
    }
)


@dataclass(frozen=True, order=True)
class Input:
    """One input file found by :func:`discover`.

    Attributes
    ----------
    rel : str
        Path relative to the input folder, ``/``-separated (sort key; used to
        name every output of this input).
    path : str
        Absolute path to read from.
    """

    rel: str
    path: str


def _is_dicom_by_magic(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _wanted(path: str, name: str) -> bool:
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS or ext in DICOM_EXTENSIONS:
        return True
    if ext in IGNORED_EXTENSIONS:
        return False
    return _is_dicom_by_magic(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def discover(
    in_dir: str | os.PathLike[str], *, exclude: str | os.PathLike[str] | None = None
) -> list[Input]:
    """List the radiograph files under ``in_dir``, sorted by relative path.

    Parameters
    ----------
    in_dir : path
        Folder to walk (recursively).
    exclude : path, optional
        A folder not to walk (typically the batch output folder when it sits
        inside ``in_dir``).

    Returns
    -------
    list of Input

    Raises
    ------
    NotADirectoryError
        When ``in_dir`` is not an existing folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.png").write_bytes(b"x"); _ = (d / "a.truth.json").write_text("{}")
    >>> [i.rel for i in discover(d)]
    ['a.png']
    """
    root = os.path.realpath(os.fspath(in_dir))
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{os.fspath(in_dir)}: input folder does not exist or is not a folder")
    skip = os.path.realpath(os.fspath(exclude)) if exclude is not None else None
    found: list[Input] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        keep = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if d.startswith(".") or os.path.islink(full):
                continue
            if skip is not None and os.path.realpath(full) == skip:
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        for name in filenames:
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not _inside(target, root) or not os.path.isfile(target):
                    continue
                if skip is not None and _inside(target, skip):
                    continue
            elif not os.path.isfile(full):  # fifo, socket, device
                continue
            if _wanted(full, name):
                rel = Path(os.path.relpath(full, root)).as_posix()
                found.append(Input(rel=rel, path=full))
    found.sort()
    return found
