"""Batch throughput: images per second with 1 and 2 local workers (issue 6).

Generates ``--n`` phantoms (default 20, ``--size-scale`` 0.5 of full size so
the run stays short), runs :func:`calcidetect.batch.run` with each worker
count ``--repeat`` times (round robin, so that a noisy spell of the shared
machine hits every worker count alike; the median wall time counts), checks
that the tables are identical between the runs, and writes a small report to
``benchmarks/results/batch_throughput.txt``.  It also times the start-up of
an idle pool of each size (spawning the processes and importing calcidetect
in them), the fixed cost that a batch of thousands of films amortises.

Run from the repository root::

    python benchmarks/batch_throughput.py            # 20 images, 1 and 2 workers
    python benchmarks/batch_throughput.py --n 40 --workers 1 2 4 --size-scale 1

This is a script, not a timed test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import git_commit  # benchmarks/ is on sys.path when run as a script


def _median_stages(out_dir: Path) -> dict[str, float]:
    rows = list(csv.DictReader((out_dir / "timings.csv").open()))
    stages = {}
    for key in ("load", "detect", "write", "total"):
        vals = [float(r[key]) for r in rows if r.get(key)]
        stages[key] = statistics.median(vals) if vals else float("nan")
    return stages


def _pool_startup(workers: int) -> float:
    """Seconds until every process of a fresh pool, as ``batch.run`` starts it, answers."""
    from calcidetect import batch

    t = time.perf_counter()
    with batch._single_thread_env():
        with batch._process_pool(workers) as pool:
            # a sleep keeps each task on its own process
            list(pool.map(time.sleep, [0.05] * workers))
    return time.perf_counter() - t - 0.05


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="number of phantom images (default 20)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--size-scale", type=float, default=0.5, help="phantom size factor (default 0.5)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3, help="runs per worker count; the median counts (default 3)")
    ap.add_argument("--no-overlays", action="store_true")
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "batch_throughput.txt")
    )
    args = ap.parse_args(argv)

    import calcidetect
    from calcidetect import batch, phantom

    lines = [
        "calcidetect batch throughput (benchmarks/batch_throughput.py)",
        f"date: {_dt.datetime.now().isoformat(timespec='seconds')}  commit: {git_commit()}  "
        f"calcidetect {calcidetect.__version__}",
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}",
    ]
    with tempfile.TemporaryDirectory(prefix="calcidetect-bench-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        paths = phantom.write_dataset(tmp / "in", n=args.n, seed=args.seed, size_scale=args.size_scale)
        gen_s = time.perf_counter() - t
        shapes = []
        for p in paths:
            img = calcidetect.load_image(p)
            shapes.append(img.pixels.size)
        mpix = sum(shapes) / 1e6
        lines.append(
            f"input: {len(paths)} phantoms (seed {args.seed}, size_scale {args.size_scale}), "
            f"{mpix:.1f} Mpixel in all, median {statistics.median(shapes) / 1e6:.2f} Mpixel/image "
            f"(generated in {gen_s:.1f} s)"
        )
        lines.append(f"overlays: {'no' if args.no_overlays else 'yes'}")
        lines.append("")
        lines.append(f"{'workers':>7} {'median s':>8} {'images/s':>9} {'Mpix/s':>7} {'speed-up':>8}   median s/image: load detect write")
        tables = {}
        walls: dict[int, list[float]] = {w: [] for w in args.workers}
        stages = {}
        failures = []
        for rep in range(args.repeat):
            for w in args.workers:
                out = tmp / f"out{w}_{rep}"
                t = time.perf_counter()
                summary = batch.run(tmp / "in", out, workers=w, quiet=True, overlays=not args.no_overlays)
                walls[w].append(time.perf_counter() - t)
                stages[w] = _median_stages(out)
                tables.setdefault(w, set()).add(((out / "foci.csv").read_bytes(), (out / "images.csv").read_bytes()))
                if summary.n_failed:
                    failures.append(f"run {rep + 1}, {w} worker(s): {summary.n_failed} input(s) failed")
                print(f"run {rep + 1}/{args.repeat}, {w} worker(s): {walls[w][-1]:.1f} s", flush=True)
        base = statistics.median(walls[args.workers[0]])
        for w in args.workers:
            wall = statistics.median(walls[w])
            st = stages[w]
            lines.append(
                f"{w:>7} {wall:>8.1f} {summary.n_total / wall:>9.3f} {mpix / wall:>7.2f} {base / wall:>8.2f}   "
                f"{st['load']:.2f} {st['detect']:.2f} {st['write']:.2f}"
                f"   (runs: {', '.join(f'{x:.1f}' for x in walls[w])})"
            )
        lines.extend(failures)
        lines.append("")
        lines.append(
            "start-up of an idle pool (spawn + import calcidetect + initializer, median of 3; "
            "a worker imports pydicom later, at its first DICOM file):"
        )
        for w in args.workers:
            if w > 1:
                startup = statistics.median(_pool_startup(w) for _ in range(3))
                net = base / (statistics.median(walls[w]) - startup)
                lines.append(f"  {w} workers: {startup:.2f} s; speed-up net of it {net:.2f}x")
        same = len(set().union(*tables.values())) == 1
        lines.append("")
        lines.append(f"foci.csv and images.csv identical across worker counts: {'yes' if same else 'NO'}")
        lines.append(
            "wall time includes starting the worker processes (spawn) and writing tables + report.html; "
            "workers=1 runs in the calling process."
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
