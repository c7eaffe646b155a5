"""The per-image unit of work of a batch: load, detect, write, record.

:func:`process_one` runs in a worker process (local pool), in a Dask worker,
or in the calling process (``workers=1``).  It never raises for a bad input
or a bug: every exception becomes an error record, so one file cannot stop a
batch.  It reads its input by path and writes its outputs straight into
OUT_DIR, so on a Dask cluster IN_DIR and OUT_DIR must be on a file system
shared by the client and every worker, under the same paths.

Outputs of one input with relative path ``rel`` (written atomically, in this
order; the done record last, so its presence means the rest is complete)::

    json/<rel>.json       result, calcidetect version, config, spacing source
    labels/<rel>.png      uint16 label image: focus id per pixel, 0 = none
    overlays/<rel>.png    overlay (when asked for)
    thumbs/<rel>.jpg      small overlay for report.html
    done/<rel>.json       the record: images.csv row, foci.csv rows, seconds
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import io as _io
from . import pipeline as _pipeline
from ._version import __version__
from .atomic import atomic_write_bytes, atomic_write_text
from .config import Config
from .errors import CalcidetectError, LoadError
from .result import PATTERNS, Result

__all__ = ["Task", "process_one", "init_worker", "IMAGE_COLUMNS", "output_paths", "RECORD_FORMAT"]

#: Version of the done-record layout; records of another format are redone.
RECORD_FORMAT = 1
#: Longer side of the report thumbnails, in pixels.
THUMB_SIDE_PX = 256
#: Technical metadata copied from the Radiograph into json/ (never identifiers).
TECHNICAL_META_KEYS = frozenset(
    {
        "modality", "photometric", "photometric_interpretation", "bits_stored",
        "bits_allocated", "transfer_syntax", "transfer_syntax_uid", "body_part",
        "body_part_examined", "view", "view_position", "rows", "columns",
        "samples_per_pixel", "pixel_representation", "format", "file_format",
        "dtype", "sop_class_uid", "number_of_frames", "inverted",
        "modality_lut_applied", "presentation_lut_shape", "rescale_type",
    }
)

#: images.csv columns, in order.
IMAGE_COLUMNS: tuple[str, ...] = (
    ("image", "status", "reason", "height", "width", "n_foci")
    + tuple(f"count_{p}" for p in PATTERNS)
    + tuple(f"burden_mm2_{p}" for p in PATTERNS)
    + ("burden_mm2_total", "distribution", "spacing_row_mm", "spacing_col_mm", "spacing_source", "hints")
)

# the functions called; tests may monkeypatch these module attributes
load_image = _io.load_image
detect = _pipeline.detect


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one input (picklable)."""

    path: str
    rel: str
    out_dir: str
    config: Config
    overlays: bool = True
    limit_threads: bool = False


def init_worker() -> None:
    """Pool initializer: one thread per worker for OpenCV and BLAS/OpenMP.

    The environment variables only reach libraries loaded after this call;
    :func:`calcidetect.batch.run` also sets them before it starts the
    (spawned) worker processes.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    import cv2

    cv2.setNumThreads(1)


def output_paths(out_dir: str | os.PathLike[str], rel: str) -> dict[str, Path]:
    """Where the outputs of input ``rel`` go under ``out_dir``."""
    out = Path(out_dir)
    return {
        "json": out / "json" / f"{rel}.json",
        "labels": out / "labels" / f"{rel}.png",
        "overlay": out / "overlays" / f"{rel}.png",
        "thumb": out / "thumbs" / f"{rel}.jpg",
        "done": out / "done" / f"{rel}.json",
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, numpy scalars as numbers)."""
    return json.dumps(obj, indent=1, sort_keys=True, default=_jsonable, allow_nan=True) + "\n"


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def _image_row(rel: str, image_shape: tuple[int, int] | None, result: Result | None, status: str, reason: str) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in IMAGE_COLUMNS}
    row.update(image=rel, status=status, reason=reason)
    if image_shape is not None:
        row["height"], row["width"] = int(image_shape[0]), int(image_shape[1])
    if result is None:
        return row
    counts = {p: 0 for p in PATTERNS}
    burden = {p: 0.0 for p in PATTERNS}
    for f in result.foci:
        p = str(f.pattern)
        counts[p] = counts.get(p, 0) + 1
        burden[p] = burden.get(p, 0.0) + float(f.area_mm2)
    row["n_foci"] = len(result.foci)
    for p in PATTERNS:
        row[f"count_{p}"] = counts[p]
        row[f"burden_mm2_{p}"] = _r(burden[p])
    row["burden_mm2_total"] = _r(sum(burden.values()))
    summary = result.summary or {}
    dist = summary.get("distribution")
    row["distribution"] = "" if dist is None else str(dist)
    hints = summary.get("hints") or []
    if isinstance(hints, str):
        hints = [hints]
    row["hints"] = " | ".join(str(h) for h in hints)  # hints may contain ";"
    sp = result.pixel_spacing_mm
    row["spacing_row_mm"], row["spacing_col_mm"] = _r(sp[0], 6), _r(sp[1], 6)
    row["spacing_source"] = str(result.spacing_source)
    return row


def _scrub(text: str, task: Task) -> str:
    """Keep absolute input paths out of reasons (they may name a patient)."""
    for p in {task.path, os.path.realpath(task.path)}:
        text = text.replace(p, task.rel)
    return " ".join(text.split())


def _remove_stale(paths: dict[str, Path]) -> None:
    for key in ("json", "labels", "overlay", "thumb"):
        try:
            paths[key].unlink()
        except FileNotFoundError:
            pass


def process_one(task: Task) -> dict[str, Any]:
    """Analyse one input and write its outputs; return its done record.

    Parameters
    ----------
    task : Task

    Returns
    -------
    dict
        ``{"format", "version", "image", "status", "reason", "row", "foci",
        "seconds"}``: ``row`` is the images.csv row, ``foci`` the foci.csv
        rows, ``seconds`` the wall time per stage.  The same dict is written
        to ``done/<rel>.json`` (after every other output).

    Notes
    -----
    ``reason`` is :attr:`LoadError.reason` for unreadable inputs, the message
    of any other :class:`CalcidetectError`, and ``"internal error: <type>:
    <message>"`` for anything unexpected (a bug), so that the batch goes on.
    """
    from . import render  # imported here: cv2 stays out of the import of batch

    if task.limit_threads:
        init_worker()
    paths = output_paths(task.out_dir, task.rel)
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    status, reason = "ok", ""
    image_shape = None
    result: Result | None = None
    foci_rows: list[dict[str, Any]] = []
    try:
        t = time.perf_counter()
        image = load_image(task.path, max_pixels=task.config.max_pixels)
        seconds["load"] = time.perf_counter() - t
        image_shape = tuple(image.pixels.shape)
        t = time.perf_counter()
        result = detect(image, config=task.config)
        seconds["detect"] = time.perf_counter() - t

        t = time.perf_counter()
        doc = result.to_dict()
        doc["source"] = task.rel
        meta = getattr(image, "meta", None) or {}
        doc.update(
            input=task.rel,
            calcidetect_version=__version__,
            config=task.config.to_dict(),
            spacing_source=str(result.spacing_source),
            image_meta={
                k: v
                for k, v in sorted(meta.items())
                if k.lower() in TECHNICAL_META_KEYS and isinstance(v, (str, int, float))
            },
            seconds={k: round(v, 4) for k, v in {**result.timings_s, **seconds}.items()},
        )
        atomic_write_text(paths["json"], dumps(doc))
        labels = np.asarray(result.labels)
        if labels.size and int(labels.max()) > np.iinfo(np.uint16).max:
            raise CalcidetectError(f"{int(labels.max())} foci do not fit a uint16 label PNG")
        atomic_write_bytes(paths["labels"], render.encode_png(labels.astype(np.uint16)))
        if task.overlays:
            render.write_overlay(image, result, paths["overlay"])
        thumb = render.render_overlay(image, result, max_side_px=THUMB_SIDE_PX)
        atomic_write_bytes(paths["thumb"], render.encode_jpeg(thumb, quality=80))
        seconds["write"] = time.perf_counter() - t
        for rec in result.to_records():
            foci_rows.append({"image": task.rel, **rec})
    except LoadError as exc:
        status, reason, result = "error", _scrub(exc.reason, task), None
    except CalcidetectError as exc:
        status, reason, result = "error", _scrub(str(exc), task), None
    except Exception as exc:  # a bug must not stop the batch: record it
        status, result = "error", None
        reason = _scrub(f"internal error: {type(exc).__name__}: {exc}", task)
    if status == "error":
        foci_rows = []
        _remove_stale(paths)
    seconds["total"] = time.perf_counter() - t_all
    record = {
        "format": RECORD_FORMAT,
        "version": __version__,
        "image": task.rel,
        "status": status,
        "reason": reason,
        "overlay": bool(task.overlays and status == "ok"),
        "row": _image_row(task.rel, image_shape, result, status, reason),
        "foci": foci_rows,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
    }
    text = dumps(record)
    try:
        atomic_write_text(paths["done"], text)
    except OSError as exc:  # OUT_DIR trouble: still report this input, as failed
        record["status"] = "error"
        record["reason"] = f"internal error: cannot write done record: {exc.strerror}"
        record["row"]["status"], record["row"]["reason"] = "error", record["reason"]
        return record
    return json.loads(text)  # exactly what a later --resume will read back
