"""Decode speed and exactness of 16-bit PNG / TIFF: OpenCV vs tifffile vs Pillow.

Why: the loader (``calcidetect.io_raster``) must decode 16-bit radiographs
exactly and quickly, with OpenCV or tifffile, whichever measures better.

What: a ~5 MP 16-bit greyscale image that looks like a radiograph to a
compressor (smooth anatomy-like background, 12-bit range, detector noise) is
written to a temporary directory as PNG, uncompressed TIFF and compressed
TIFF (LZW from OpenCV, deflate from tifffile).  Each decoder that can read a
file decodes it ``REPEATS`` times (file read included, as in the loader); the
minimum and median wall time and an exactness check
(bit-identical to the source array) are reported.  The minimum is the
figure to compare on a shared machine (least disturbed by other load).

Run::

    python benchmarks/decode_png.py            # writes benchmarks/results/decode_png.txt
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

#: ~5 megapixels, a typical CR / DR radiograph size.
SHAPE = (2560, 2048)
#: 12-bit content stored in 16 bits, as most radiographs are.
MAX_VALUE = 4095
NOISE_SIGMA = 12.0
REPEATS = 9
SEED = 20240601
RESULTS = Path(__file__).resolve().parent / "results" / "decode_png.txt"

Decoder = Callable[[Path], np.ndarray]


def synthetic_radiograph() -> np.ndarray:
    """Smooth blobs + a ramp + noise, clipped to 12 bits, as uint16."""
    rng = np.random.default_rng(SEED)
    rows, cols = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(np.float32)
    image = 800 + 0.3 * rows
    for _ in range(12):
        r0, c0 = rng.uniform(0, SHAPE[0]), rng.uniform(0, SHAPE[1])
        radius = rng.uniform(80, 500)
        image += rng.uniform(300, 1500) * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / radius**2)
    image += rng.normal(0, NOISE_SIGMA, SHAPE)
    return np.clip(image, 0, MAX_VALUE).astype(np.uint16)


def decode_cv2(path: Path) -> np.ndarray:
    return cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)


def decode_tifffile(path: Path) -> np.ndarray:
    import tifffile

    return tifffile.imread(path)


def decode_pillow(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def write_files(folder: Path, image: np.ndarray) -> dict[str, Path]:
    """The test image in each container / compression under test."""
    files = {}
    files["PNG (cv2 default)"] = folder / "img.png"
    cv2.imwrite(str(files["PNG (cv2 default)"]), image)
    files["TIFF LZW (cv2 default)"] = folder / "img_lzw.tif"
    cv2.imwrite(str(files["TIFF LZW (cv2 default)"]), image)
    files["TIFF uncompressed (cv2)"] = folder / "img_raw.tif"
    cv2.imwrite(str(files["TIFF uncompressed (cv2)"]), image, [cv2.IMWRITE_TIFF_COMPRESSION, 1])
    try:
        import tifffile

        files["TIFF deflate (tifffile)"] = folder / "img_deflate.tif"
        tifffile.imwrite(files["TIFF deflate (tifffile)"], image, compression="zlib")
    except Exception as exc:  # benchmark only: report, do not stop
        print(f"tifffile deflate writer unavailable: {exc}", file=sys.stderr)
    return files


def time_decoder(
    decoder: Decoder, path: Path, reference: np.ndarray
) -> tuple[float, float, str]:
    """Minimum and median decode time in ms, and an exactness verdict."""
    try:
        out = decoder(path)
    except Exception as exc:
        return float("nan"), float("nan"), f"cannot read ({type(exc).__name__}: {str(exc)[:60]})"
    if out is None:
        return float("nan"), float("nan"), "cannot read (returned None)"
    exact = (out.shape == reference.shape and out.dtype == reference.dtype
             and np.array_equal(out, reference))
    verdict = "exact" if exact else f"NOT exact ({out.dtype}, {out.shape})"
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        decoder(path)
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000, verdict


def main() -> int:
    image = synthetic_radiograph()
    decoders: dict[str, Decoder] = {
        "opencv": decode_cv2,
        "tifffile": decode_tifffile,
        "pillow": decode_pillow,
    }
    versions = {"opencv": cv2.__version__}
    for name, module in (("tifffile", "tifffile"), ("pillow", "PIL")):
        try:
            versions[name] = __import__(module).__version__
        except ImportError:
            versions[name] = "not installed"
    lines = [
        "# 16-bit greyscale decode benchmark (benchmarks/decode_png.py)",
        f"# image: {SHAPE[0]} x {SHAPE[1]} = {image.size / 1e6:.2f} MP, uint16, 12-bit content",
        f"# min and median of {REPEATS} runs, file read included; "
        f"python {platform.python_version()}, {platform.machine()}",
        "# versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        f"{'file':26s} {'MB':>6s}  {'decoder':9s} {'min ms':>8s} {'med ms':>8s}  result",
    ]
    exact_counts = {name: 0 for name in decoders}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), image)
        for label, path in files.items():
            size_mb = path.stat().st_size / 1e6
            for name, decoder in decoders.items():
                if name == "tifffile" and path.suffix != ".tif":
                    continue
                best, median, verdict = time_decoder(decoder, path, image)
                exact_counts[name] += verdict == "exact"
                best_text = "-" if best != best else f"{best:.1f}"
                median_text = "-" if median != median else f"{median:.1f}"
                lines.append(f"{label:26s} {size_mb:6.2f}  {name:9s} {best_text:>8s} "
                             f"{median_text:>8s}  {verdict}")
    lines.append("")
    lines.append(f"# files decoded exactly (of {len(files)}): "
                 + ", ".join(f"{k} {v}" for k, v in exact_counts.items()))
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
