"""The ``calcidetect`` command line.

Exit status: 0 success, 1 when some input failed (or a single detect failed),
2 for usage errors (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._version import __version__
from .errors import CalcidetectError

DISCLAIMER = "Research use only; not a diagnostic device."


def _load_config(path: str | None, spacing: float | None, profile: str | None = None):
    """The profile's Config, then the ``--config`` file's keys, then ``--assumed-spacing-mm``."""
    from .config import Config
    from .profiles import DEFAULT_PROFILE, config_for

    cfg = config_for(profile or DEFAULT_PROFILE)
    if path:
        cfg = Config.from_toml(path, base=cfg)
    if spacing is not None:
        cfg = cfg.replace(assumed_pixel_spacing_mm=spacing)
    return cfg


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="detector profile: msk (musculoskeletal, default) or mammo (mammograms: "
        "micro-calcifications); --config keys override it",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file overriding Config parameters")
    p.add_argument(
        "--assumed-spacing-mm",
        type=float,
        metavar="MM",
        help="pixel spacing to assume when the file declares none "
        "(default: Config.assumed_pixel_spacing_mm)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="calcidetect",
        description="Find and classify soft-tissue calcifications on plain radiographs. "
        + DISCLAIMER,
    )
    parser.add_argument("--version", action="version", version=f"calcidetect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("detect", help="analyse one image and print a table of foci")
    p.add_argument("file", help="DICOM, PNG, TIFF or JPEG radiograph")
    p.add_argument("--out", metavar="DIR", help="also write <name>.json (and overlay) into DIR")
    p.add_argument(
        "--overlay",
        nargs="?",
        const="",
        metavar="PNG",
        help="write an overlay PNG (to PNG, or into --out / next to the working directory)",
    )
    _add_common(p)

    p = sub.add_parser("batch", help="analyse every image under a folder")
    p.add_argument("in_dir")
    p.add_argument("out_dir")
    p.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--resume", action="store_true", help="skip inputs whose outputs are complete")
    p.add_argument("--no-overlays", action="store_true", help="do not write overlay PNGs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(p)

    p = sub.add_parser("phantom", help="write synthetic radiographs with ground truth")
    p.add_argument("out_dir")
    p.add_argument("-n", type=int, default=10, help="number of images (default 10)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("evaluate", help="score batch results against ground truth")
    p.add_argument("results_dir", help="a batch OUT_DIR")
    p.add_argument("truth_dir", help="folder with <name>.truth.json files")
    p.add_argument("--json", metavar="FILE", help="where to write the report (default RESULTS_DIR/evaluation.json)")
    return parser


def _cmd_detect(args: argparse.Namespace) -> int:
    from . import render
    from .io import load_image
    from .pipeline import detect
    from .errors import ConfigError
    from .report_text import format_foci_table

    try:
        cfg = _load_config(args.config, args.assumed_spacing_mm, args.profile)
    except ConfigError as exc:
        print(f"calcidetect: error: {exc}", file=sys.stderr)
        return 2
    image = load_image(args.file, max_pixels=cfg.max_pixels)
    result = detect(image, config=cfg)
    print(format_foci_table(result))
    stem = Path(args.file).name
    if args.out:
        import json

        from .atomic import atomic_write_text

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / f"{stem}.json", json.dumps(result.to_dict(), indent=1) + "\n")
    if args.overlay is not None:
        if args.overlay:
            target = Path(args.overlay)
        else:
            target = Path(args.out or ".") / f"{stem}.overlay.png"
        render.write_overlay(image, result, target)
        print(f"overlay written to {target}")
    print(DISCLAIMER)
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from . import batch
    from .errors import ConfigError

    # usage errors (bad --config, OUT_DIR == IN_DIR, ...) exit with 2
    try:
        cfg = _load_config(args.config, args.assumed_spacing_mm, args.profile)
    except ConfigError as exc:
        print(f"calcidetect: error: {exc}", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("calcidetect: error: --workers must be >= 1", file=sys.stderr)
        return 2
    try:
        summary = batch.run(
            args.in_dir,
            args.out_dir,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            config=cfg,
            quiet=args.quiet,
            overlays=not args.no_overlays,
        )
    except batch.BatchUsageError as exc:
        print(f"calcidetect: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet or summary.n_failed:
        print(
            f"{summary.n_ok} of {summary.n_total} inputs analysed, {summary.n_failed} failed"
            + (f", {summary.n_skipped} already done" if summary.n_skipped else "")
            + f"; results in {summary.out_dir} (see report.html, images.csv)",
            file=sys.stderr,
        )
    return 0 if summary.n_failed == 0 else 1


def _cmd_phantom(args: argparse.Namespace) -> int:
    from . import phantom

    paths = phantom.write_dataset(args.out_dir, n=args.n, seed=args.seed)
    print(f"wrote {len(paths)} images with ground truth to {args.out_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from . import evaluate
    from .atomic import atomic_write_text

    report = evaluate.evaluate_dirs(args.results_dir, args.truth_dir)
    print(evaluate.format_report(report))
    target = Path(args.json) if args.json else Path(args.results_dir) / "evaluation.json"
    atomic_write_text(target, json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"report written to {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``calcidetect`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "detect": _cmd_detect,
        "batch": _cmd_batch,
        "phantom": _cmd_phantom,
        "evaluate": _cmd_evaluate,
    }
    try:
        return handlers[args.command](args)
    except CalcidetectError as exc:
        print(f"calcidetect: error: {exc}", file=sys.stderr)
        return 1 if args.command in ("detect", "batch") else 2
    except (FileNotFoundError, NotADirectoryError) as exc:
        print(f"calcidetect: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
