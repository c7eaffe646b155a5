"""Regenerate ``sample_images/`` (committed): six small phantoms with ground truth.

Run from the repository root::

    python benchmarks/make_samples.py            # writes sample_images/
    python benchmarks/make_samples.py OUT_DIR    # somewhere else

Deterministic: the same calcidetect version writes byte-identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from calcidetect.phantom import generate, write_image

#: (file stem, body part, format, first pattern or None for a normal image, seed)
SAMPLES = [
    ("hand_mono1", "hand", "dcm-mono1", "punctate", 101),
    ("hip_mono2", "hip", "dcm-mono2", "lobular", 202),
    ("shoulder", "shoulder", "png", "periarticular", 303),
    ("forearm", "forearm", "png", "linear", 404),
    ("hand_plaque", "hand", "png", "plaque", 505),
    ("forearm_normal", "forearm", "png", None, 606),
]
SIZE_SCALE = 0.5


def main(out_dir: str = "sample_images") -> None:
    out = Path(out_dir)
    for stem, part, fmt, first, seed in SAMPLES:
        ph = generate(seed, part, normal=first is None, first_pattern=first, size_scale=SIZE_SCALE)
        ext = ".png" if fmt == "png" else ".dcm"
        img, _ = write_image(ph, out / f"{stem}{ext}", fmt)
        pats = sorted({f["pattern"] for f in ph.truth["foci"]})
        print(f"{img}  {ph.pixels.shape[1]}x{ph.pixels.shape[0]}  {len(ph.truth['foci'])} foci {pats}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
