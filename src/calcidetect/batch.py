"""Batch runs: a folder of radiographs in, tidy tables out.

``calcidetect batch IN_DIR OUT_DIR`` and :func:`run` walk IN_DIR
(:mod:`calcidetect.discover`), analyse every input in parallel
(:mod:`calcidetect.worker`) and write, in OUT_DIR::

    foci.csv        one row per focus (input relative path, id, pattern, scores,
                    centroid, bbox, area, every feature), sorted by image, id
    images.csv      one row per input, sorted: status ok/error, reason, counts
                    and burden (mm^2) per pattern, distribution, spacing + source
    timings.csv     seconds per input and stage (kept out of images.csv so that
                    images.csv is byte-identical between runs)
    config.toml     the Config used
    report.html     self-contained page: summary plots, thumbnails, failures
    json/ labels/ overlays/ thumbs/ done/   per input, named <relative path>.*

Guarantees
----------
- Every file is written atomically (temp file + rename).
- One bad input never stops the batch: it gets ``status=error`` and a reason.
- Deterministic: same inputs and Config give byte-identical ``foci.csv`` and
  ``images.csv`` (sorted rows, fixed columns, rounded floats), whatever the
  number of workers, local or Dask, interrupted-and-resumed or not.
- ``resume=True`` skips inputs whose done record says ``ok`` (their outputs
  were written before it); inputs that failed are retried (a codec may have
  been installed meanwhile).  The tables are always rebuilt from the done
  records of every input, so a resumed run gives the same tables as an
  uninterrupted one.  Resuming with a different Config is refused.
- IN_DIR is never written to.  OUT_DIR may lie inside IN_DIR (it is then left
  out of the walk) but may not be IN_DIR itself.

Exit status of the CLI: 0 when every input succeeded, 1 when some failed,
2 for usage errors (missing IN_DIR, bad ``--config``, OUT_DIR == IN_DIR).

Dask
----
``scheduler="tcp://host:8786"`` sends the same per-image function to an
existing Dask distributed cluster (``pip install calcidetect[dask]``).  Workers
read inputs and write outputs by path: IN_DIR and OUT_DIR must be on a file
system shared by the client and every worker, under the same paths, and the
workers need the same calcidetect installed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._version import __version__
from .atomic import atomic_write_text
from .config import Config
from .discover import Input, discover
from .errors import CalcidetectError, ConfigError
from .result import PATTERNS
from .worker import IMAGE_COLUMNS, RECORD_FORMAT, Task, init_worker, output_paths, process_one

__all__ = ["run", "BatchSummary", "BatchUsageError", "FOCI_FIXED_COLUMNS"]

#: foci.csv columns before the (sorted) feature columns.
FOCI_FIXED_COLUMNS: tuple[str, ...] = (
    ("image", "focus_id", "pattern")
    + tuple(f"score_{p}" for p in PATTERNS)
    + ("centroid_row", "centroid_col", "bbox_r0", "bbox_c0", "bbox_r1", "bbox_c1", "area_px", "area_mm2")
)
#: Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT_S = 20.0
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class BatchUsageError(CalcidetectError, ValueError):
    """The batch was called wrongly (bad folders, workers, resume mismatch)."""


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    n_total : int
        Inputs found.
    n_ok, n_failed : int
        Inputs with status ok / error in the final tables (skipped ones count
        as ok).
    n_skipped : int
        Inputs not redone because ``resume`` found them complete.
    out_dir : str
    """

    n_total: int
    n_ok: int
    n_failed: int
    n_skipped: int
    out_dir: str

    @property
    def exit_status(self) -> int:
        """0 when nothing failed, else 1 (the CLI's exit status)."""
        return 0 if self.n_failed == 0 else 1


# ---------------------------------------------------------------------------
# helpers


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@contextlib.contextmanager
def _single_thread_env() -> Iterator[None]:
    """Set the BLAS/OpenMP thread variables while worker processes start."""
    old = {k: os.environ.get(k) for k in _THREAD_ENV}
    os.environ.update({k: "1" for k in _THREAD_ENV})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _read_done(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
        return None
    return rec


def _complete(out_dir: str, inp: Input, overlays: bool) -> dict[str, Any] | None:
    """The done record of ``inp`` if it can be skipped on resume, else None."""
    paths = output_paths(out_dir, inp.rel)
    rec = _read_done(paths["done"])
    if rec is None or rec.get("status") != "ok" or rec.get("image") != inp.rel:
        return None
    if rec.get("version") != __version__:
        return None
    needed = ["json", "labels", "thumb"] + (["overlay"] if overlays else [])
    if not all(paths[k].is_file() for k in needed):
        return None
    return rec


def _error_record(task: Task, reason: str) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in IMAGE_COLUMNS}
    row.update(image=task.rel, status="error", reason=reason)
    return {
        "format": RECORD_FORMAT,
        "version": __version__,
        "image": task.rel,
        "status": "error",
        "reason": reason,
        "overlay": False,
        "row": row,
        "foci": [],
        "seconds": {},
    }


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def _csv_text(columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> str:
    columns = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_fmt(row.get(c)) for c in columns])
    return buf.getvalue()


def foci_table(records: list[dict[str, Any]]) -> str:
    """foci.csv text from done records (fixed columns, then sorted features)."""
    rows = [r for rec in records for r in rec.get("foci", [])]
    rows.sort(key=lambda r: (r["image"], int(r["focus_id"])))
    extra = sorted({k for r in rows for k in r} - set(FOCI_FIXED_COLUMNS))
    return _csv_text(FOCI_FIXED_COLUMNS + tuple(extra), rows)


def images_table(records: list[dict[str, Any]]) -> str:
    """images.csv text from done records (one row per input, sorted)."""
    rows = sorted((rec["row"] for rec in records), key=lambda r: r["image"])
    return _csv_text(IMAGE_COLUMNS, rows)


def timings_table(records: list[dict[str, Any]]) -> str:
    """timings.csv text: seconds per stage and input (not deterministic)."""
    cols = ("image", "status", "load", "detect", "write", "total")
    rows = sorted(
        ({"image": rec["image"], "status": rec["status"], **rec.get("seconds", {})} for rec in records),
        key=lambda r: r["image"],
    )
    return _csv_text(cols, rows)


# ---------------------------------------------------------------------------
# executors: each yields done records as they finish


def _run_serial(tasks: list[Task]) -> Iterator[dict[str, Any]]:
    """In the calling process, with OpenCV on one thread as in the workers.

    Some OpenCV results can depend on its thread count, so every executor
    runs OpenCV single-threaded; the caller's setting is restored after.
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for task in tasks:
            yield process_one(task)
    finally:
        cv2.setNumThreads(before)


def _main_is_importable() -> bool:
    """Can a spawned process re-import ``__main__`` (as multiprocessing requires)?"""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.isfile(path)


def _largest_first(tasks: list[Task]) -> list[Task]:
    """``tasks`` by decreasing file size (unreadable sizes last), ties by name: the order work is handed out."""

    def size(task: Task) -> int:
        try:
            return os.path.getsize(task.path)
        except OSError:
            return -1

    return sorted(tasks, key=lambda t: (-size(t), t.rel))


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """The local worker pool :func:`run` uses: spawned interpreters, one thread each.

    Spawn, not fork: fresh interpreters are safe with threads in the parent.
    Start it inside ``_single_thread_env()`` so that the workers' BLAS and
    OpenMP libraries load single-threaded.
    """
    import multiprocessing as mp

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=init_worker)


def _run_pool(tasks: list[Task], workers: int) -> Iterator[dict[str, Any]]:
    """Process pool; a worker that dies (OOM, native crash) costs only its input.

    After a pool breaks, the inputs it lost are redone one at a time in a
    fresh single-worker pool, which pins the crash on the input that caused it.
    """
    lost: list[Task] = []
    with _single_thread_env():
        pool = _process_pool(workers)
        try:
            # largest files first (longest-processing-time-first scheduling):
            # the inputs left when the pool runs dry are small ones, so no
            # worker waits long for the last big film of another
            futures: dict[Future, Task] = {pool.submit(process_one, t): t for t in _largest_first(tasks)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        lost.append(futures[fut])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for task in sorted(lost, key=lambda t: t.rel):
            solo = _process_pool(1)
            try:
                yield solo.submit(process_one, task).result()
            except BrokenProcessPool:
                yield _error_record(
                    task, "internal error: worker process died (out of memory or a crash in a native library)"
                )
            finally:
                solo.shutdown(wait=True)


def _run_dask(tasks: list[Task], address: str) -> Iterator[dict[str, Any]]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise CalcidetectError(
            "--scheduler needs Dask distributed, which is not installed: pip install calcidetect[dask]"
        ) from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise CalcidetectError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    try:
        keys = [f"calcidetect-{i}-{t.rel}" for i, t in enumerate(tasks)]
        futures = client.map(process_one, tasks, key=keys, pure=False, retries=0)
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:  # KilledWorker, lost worker, ...
                yield _error_record(by_key[fut.key], f"internal error: {type(exc).__name__}: {exc}")
    finally:
        client.close()


# ---------------------------------------------------------------------------


def run(
    in_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    config: Config | None = None,
    quiet: bool = False,
    overlays: bool = True,
) -> BatchSummary:
    """Analyse every radiograph under ``in_dir``; write tables and images to ``out_dir``.

    Parameters
    ----------
    in_dir : path
        Folder walked recursively (see :func:`calcidetect.discover.discover`).
    out_dir : path
        Created if needed.  See the module docstring for what goes in it.
    workers : int, optional
        Local worker processes (default: ``os.cpu_count()``).  ``1`` runs in
        the calling process.  Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``).
    resume : bool
        Skip inputs already done (status ok) in ``out_dir``.
    config : Config, optional
        Detector configuration (default ``Config()``).
    quiet : bool
        No progress bar.
    overlays : bool
        Write ``overlays/<rel>.png``.

    Returns
    -------
    BatchSummary

    Raises
    ------
    NotADirectoryError
        ``in_dir`` is not a folder.
    BatchUsageError
        ``out_dir`` is ``in_dir``, ``workers < 1``, or resuming with another
        Config.
    CalcidetectError
        Dask missing or its scheduler unreachable.
    """
    cfg = config if config is not None else Config()
    if not isinstance(cfg, Config):
        raise BatchUsageError(f"config must be a calcidetect.Config, got {type(cfg).__name__}")
    in_real = os.path.realpath(os.fspath(in_dir))
    if not os.path.isdir(in_real):
        raise NotADirectoryError(f"{os.fspath(in_dir)}: input folder does not exist or is not a folder")
    out = Path(os.path.abspath(os.fspath(out_dir)))
    out_real = os.path.realpath(out)
    if out_real == in_real:
        raise BatchUsageError("OUT_DIR must differ from IN_DIR (calcidetect never writes into its input)")
    if _inside(in_real, out_real):
        raise BatchUsageError("IN_DIR must not lie inside OUT_DIR")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise BatchUsageError(f"workers must be >= 1, got {workers}")

    inputs = discover(in_real, exclude=out_real if _inside(out_real, in_real) else None)
    out.mkdir(parents=True, exist_ok=True)

    config_path = out / "config.toml"
    if resume and config_path.is_file():
        try:
            previous = Config.from_toml(config_path)
        except ConfigError:
            previous = None
        if previous != cfg:
            raise BatchUsageError(
                f"{config_path}: OUT_DIR was written with a different configuration; "
                "use a new OUT_DIR or run without --resume"
            )
    if not resume:
        shutil.rmtree(out / "done", ignore_errors=True)  # stale records of an older run
    atomic_write_text(config_path, cfg.to_toml())

    records: dict[str, dict[str, Any]] = {}
    tasks: list[Task] = []
    for inp in inputs:
        rec = _complete(str(out), inp, overlays) if resume else None
        if rec is not None:
            records[inp.rel] = rec
        else:
            tasks.append(Task(inp.path, inp.rel, str(out), cfg, overlays, limit_threads=scheduler is not None))
    n_skipped = len(records)

    if workers > 1 and not scheduler and not _main_is_importable():
        warnings.warn(
            "calcidetect.batch: worker processes cannot re-import the __main__ module "
            "(code read from stdin?); running with workers=1. Run from a script file "
            "with an `if __name__ == '__main__':` guard to use several processes.",
            RuntimeWarning,
            stacklevel=2,
        )
        workers = 1
    if scheduler:
        stream = _run_dask(tasks, scheduler)
    elif workers == 1 or len(tasks) <= 1:
        stream = _run_serial(tasks)
    else:
        stream = _run_pool(tasks, min(workers, len(tasks)))
    _consume(stream, records, total=len(inputs), initial=n_skipped, quiet=quiet)

    ordered = [records[inp.rel] for inp in inputs]
    atomic_write_text(out / "foci.csv", foci_table(ordered))
    atomic_write_text(out / "images.csv", images_table(ordered))
    atomic_write_text(out / "timings.csv", timings_table(ordered))
    from .report_html import build_report

    atomic_write_text(out / "report.html", build_report(out, ordered, cfg, overlays=overlays))
    n_failed = sum(1 for r in ordered if r["status"] != "ok")
    return BatchSummary(
        n_total=len(inputs),
        n_ok=len(ordered) - n_failed,
        n_failed=n_failed,
        n_skipped=n_skipped,
        out_dir=str(out),
    )


def _consume(
    stream: Iterator[dict[str, Any]],
    records: dict[str, dict[str, Any]],
    *,
    total: int,
    initial: int,
    quiet: bool,
) -> None:
    from tqdm import tqdm

    failed = sum(1 for r in records.values() if r["status"] != "ok")
    t0 = time.perf_counter()
    done = 0
    with tqdm(
        total=total, initial=initial, unit="img", disable=quiet, desc="calcidetect", dynamic_ncols=True
    ) as bar:
        bar.set_postfix(failed=failed, refresh=False)
        for rec in stream:
            records[rec["image"]] = rec
            done += 1
            if rec["status"] != "ok":
                failed += 1
            rate = done / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix({"img/s": f"{rate:.2f}", "failed": failed}, refresh=False)
            bar.update(1)
