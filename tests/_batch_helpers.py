"""Small stand-ins shared by the batch / render tests (not the real detector)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from calcidetect.radiograph import Radiograph
from calcidetect.result import PATTERNS, Focus, Result


def synthetic_pixels(shape=(300, 400), seed=0, n_spots=6) -> np.ndarray:
    """A soft-tissue 'limb' with a bone band and a few bright spots."""
    rng = np.random.default_rng(seed)
    h, w = shape
    rr, cc = np.mgrid[0:h, 0:w]
    img = np.full(shape, 0.05, np.float32)
    body = ((rr - h / 2) / (h * 0.4)) ** 2 + ((cc - w / 2) / (w * 0.45)) ** 2 < 1
    img[body] = 0.35
    bone = (np.abs(rr - h / 2) < h * 0.08) & (np.abs(cc - w / 2) < w * 0.35)
    img[bone] = 0.75
    for _ in range(n_spots):
        r = rng.integers(int(h * 0.25), int(h * 0.75))
        c = rng.integers(w // 4, w - w // 4)
        rad = rng.uniform(2, 9)
        img[(rr - r) ** 2 + (cc - c) ** 2 < rad**2] = 0.95
    img += rng.normal(0, 0.01, shape).astype(np.float32)
    return img


def fake_detect(image, *, pixel_spacing_mm=None, config=None) -> Result:
    """Threshold-and-label: deterministic foci with every Result field filled."""
    pixels = image.pixels if isinstance(image, Radiograph) else np.asarray(image, np.float32)
    sp = (0.2, 0.2)
    source = "assumed"
    if isinstance(image, Radiograph) and image.pixel_spacing_mm is not None:
        sp, source = tuple(image.pixel_spacing_mm), image.spacing_source
    lo, hi = np.percentile(pixels, [1, 99.9])
    norm = (pixels - lo) / max(hi - lo, 1e-6)
    labels, n = ndi.label(norm > 0.9)
    labels = labels.astype(np.int32)
    foci = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        m = labels[sl] == i
        area = int(m.sum())
        r, c = ndi.center_of_mass(m)
        pattern = PATTERNS[i % len(PATTERNS)]
        scores = {p: (0.8 if p == pattern else 0.1) for p in PATTERNS}
        foci.append(
            Focus(i, pattern, scores, (r + sl[0].start, c + sl[1].start),
                  (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop), area,
                  area * sp[0] * sp[1], {"diameter_mm": 2 * np.sqrt(area / np.pi) * sp[0]})
        )
    counts = {p: sum(f.pattern == p for f in foci) for p in PATTERNS}
    summary = {"counts": counts, "distribution": "localized" if len(foci) < 3 else "diffuse",
               "hints": ["pattern consistent with test"]}
    return Result(foci, labels, norm > 0.6, norm > 0.2, summary, sp, source)


# ---------------------------------------------------------------------------
# writing inputs


def to_uint16(pixels: np.ndarray) -> np.ndarray:
    p = np.clip(pixels, 0, 1)
    return np.round(p * 4000).astype(np.uint16)


def write_png(path, pixels: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), to_uint16(pixels))


def write_dicom(path, pixels: np.ndarray, *, canary: bool = True, spacing=(0.2, 0.2)) -> None:
    """A minimal DX DICOM (Explicit VR Little Endian), optionally with canary identifiers."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    arr = to_uint16(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # DX for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    if canary:
        ds.PatientName = "CANARY^SECRET"
        ds.PatientID = "CANARY123"
        ds.PatientBirthDate = "19000101"
        ds.InstitutionName = "CANARY HOSPITAL"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{spacing[0]:g}", f"{spacing[1]:g}"]
    ds.PixelData = arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


def write_rgb_png(path, shape=(120, 160)) -> None:
    import cv2

    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
    img[..., 0] = 10  # channels clearly differ: a colour photo
    assert cv2.imwrite(str(path), img)


def read_tables(out_dir):
    return {name: (out_dir / name).read_bytes() for name in ("foci.csv", "images.csv")}


def all_output_bytes(out_dir):
    for p in sorted(out_dir.rglob("*")):
        if p.is_file():
            yield p, p.read_bytes()
