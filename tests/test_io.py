"""Tests of :func:`calcidetect.load_image` (DICOM, PNG, TIFF, JPEG).

Real radiographs are read from ``/work/shared/realdata`` (see its
PROVENANCE.md); those tests skip when the folder is absent.  Everything else
uses tiny arrays written by the tests themselves.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

from calcidetect import LoadError, Radiograph, load_image

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"{REALDATA} not present")

#: Real files that must be refused, and the words their reason must contain.
MUST_FAIL = {"wg04_RG2_JPLY.dcm": ("JPEG Extended",)}
#: Real files that load only with the opt-in GPL codec installed.
GPL_CODEC = {"wg04_RG3_JPLL.dcm"}
#: JPEG-LS near-lossless may differ from the lossless original by this much.
JLSN_TOLERANCE = 4
#: Patient identifiers planted in synthetic files: none may reach meta.
CANARIES = {
    "PatientName": "Canary^Tweety",
    "PatientID": "CANARY-ID-4711",
    "PatientBirthDate": "19010203",
    "AccessionNumber": "CANARYACC99",
    "OtherPatientIDs": "CANARY-OTHER",
    "InstitutionName": "Canary Hospital",
    "ReferringPhysicianName": "Doctor^Canary",
}
IDENTIFYING_KEYWORDS = tuple(CANARIES)
#: Fast limit for fuzzing: no example may decode anything large.
FUZZ_MAX_PIXELS = 10_000


def realdata_files() -> list[Path]:
    if not REALDATA.is_dir():
        return []
    return sorted(p for p in REALDATA.rglob("*") if p.is_file() and p.name != "PROVENANCE.md")


@functools.lru_cache(maxsize=None)
def load_real(name: str) -> Radiograph:
    """Load a realdata file once per test session."""
    matches = [p for p in realdata_files() if p.name == name]
    assert matches, f"{name} missing from {REALDATA}"
    return load_image(matches[0])


def region(pixels: np.ndarray, rows: tuple[float, float], cols: tuple[float, float]) -> np.ndarray:
    """Sub-array given as fractions of the image height and width."""
    h, w = pixels.shape
    return pixels[int(rows[0] * h):int(rows[1] * h), int(cols[0] * w):int(cols[1] * w)]


# -- synthetic DICOM ----------------------------------------------------------


def make_dataset(pixels: np.ndarray, **attrs) -> Dataset:
    """A minimal greyscale DX dataset holding ``pixels`` (2-D or frames x 2-D)."""
    pixels = np.asarray(pixels)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.BodyPartExamined = "HAND"
    ds.Manufacturer = "TestCo"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes()
    return ds


def write_dicom(path: Path, pixels: np.ndarray, **attrs) -> Path:
    ds = make_dataset(pixels, **attrs)
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(shape=(6, 8), high=4095, dtype=np.uint16) -> np.ndarray:
    """A small non-constant test image with values in [0, high]."""
    n = shape[0] * shape[1]
    return (np.arange(n) * high // (n - 1)).astype(dtype).reshape(shape)


@functools.lru_cache(maxsize=1)
def valid_dicom_blob() -> bytes:
    """A small valid Part 10 file, byte-for-byte the same on every call."""
    ds = make_dataset(ramp(), BitsStored=12, HighBit=11, PixelSpacing=[0.1, 0.1],
                      SOPInstanceUID="1.2.826.0.1.3680043.8.498.1")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture
def valid_dicom_bytes() -> bytes:
    return valid_dicom_blob()


# -- real files -----------------------------------------------------------------


@needs_realdata
@pytest.mark.parametrize("path", realdata_files(), ids=lambda p: p.name)
def test_every_real_file_loads_or_raises_load_error(path):
    try:
        img = load_image(path)
    except LoadError as err:
        assert path.name in MUST_FAIL or path.name in GPL_CODEC, f"unexpected failure: {err}"
        assert err.path == str(path)
        return
    assert path.name not in MUST_FAIL, f"{path.name} must be refused"
    px = img.pixels
    assert px.ndim == 2 and px.dtype == np.float32 and px.flags.c_contiguous
    assert np.isfinite(px).all() and px.max() > px.min()
    assert img.source == str(path)
    assert img.spacing_source in ("PixelSpacing", "ImagerPixelSpacing",
                                  "ImagerPixelSpacing/magnification", "unknown")
    json.dumps(img.meta)  # plain, serialisable types only


@needs_realdata
@pytest.mark.parametrize("name, words", MUST_FAIL.items())
def test_undecodable_real_file_names_transfer_syntax(name, words):
    with pytest.raises(LoadError) as info:
        load_real(name)
    for word in words:
        assert word in info.value.reason
    assert "1.2.840.10008.1.2.4.51" in info.value.reason


@needs_realdata
@pytest.mark.parametrize(
    "name, rows, cols",
    [
        ("wg04_RG2_RLE.dcm", (0.40, 0.46), (0.46, 0.52)),  # femoral head
        ("wg04_RG2_J2KR.dcm", (0.40, 0.46), (0.46, 0.52)),
        ("wg04_RG3_RLE.dcm", (0.15, 0.45), (0.42, 0.48)),  # tibial shaft (MONOCHROME1)
    ],
)
def test_bone_brighter_than_air(name, rows, cols):
    """Higher = denser: bone well above the air beside the limb / hip."""
    air_regions = {
        "wg04_RG2": ((0.05, 0.35), (0.82, 0.86)),  # right of the pelvis, inside the field
        "wg04_RG3": ((0.05, 0.60), (0.27, 0.29)),  # beside the leg, inside the field
    }
    px = load_real(name).pixels
    air = np.median(region(px, *air_regions[name[:8]]))
    bone = np.median(region(px, rows, cols))
    lo, hi = np.percentile(px, [1, 99])
    assert bone - air > 0.25 * (hi - lo)


@needs_realdata
@pytest.mark.parametrize("name", ["wg04_RG3_J2KR.dcm", "wg04_RG3_JLSL.dcm"])
def test_rg3_lossless_encodings_identical(name):
    np.testing.assert_array_equal(load_real(name).pixels, load_real("wg04_RG3_RLE.dcm").pixels)


@needs_realdata
def test_rg3_jpeg_lossless_identical_or_clear_error():
    try:
        img = load_real("wg04_RG3_JPLL.dcm")
    except LoadError as err:
        assert "JPEG Lossless" in err.reason
        assert "1.2.840.10008.1.2.4.70" in err.reason
        assert "calcidetect[gpl-codecs]" in err.reason and "pylibjpeg-libjpeg" in err.reason
    else:
        np.testing.assert_array_equal(img.pixels, load_real("wg04_RG3_RLE.dcm").pixels)


@needs_realdata
def test_rg3_near_lossless_within_tolerance():
    near = load_real("wg04_RG3_JLSN").pixels  # no extension: sniffed by content
    exact = load_real("wg04_RG3_RLE.dcm").pixels
    assert np.abs(near - exact).max() <= JLSN_TOLERANCE


@needs_realdata
def test_rg2_rle_equals_j2k_lossless():
    np.testing.assert_array_equal(load_real("wg04_RG2_RLE.dcm").pixels,
                                  load_real("wg04_RG2_J2KR.dcm").pixels)


@needs_realdata
def test_real_spacing():
    rg1 = load_real("wg04_RG1_J2KI.dcm")  # PixelSpacing 0\0
    assert rg1.pixel_spacing_mm is None and rg1.spacing_source == "unknown"
    rg2 = load_real("wg04_RG2_RLE.dcm")
    assert rg2.pixel_spacing_mm == pytest.approx((0.2, 0.2))
    assert rg2.spacing_source == "PixelSpacing"
    assert load_real("wg04_RG3_RLE.dcm").pixel_spacing_mm is None


@needs_realdata
def test_real_monochrome1_inverted_and_meta():
    img = load_real("wg04_RG3_RLE.dcm")
    assert img.meta["photometric"] == "MONOCHROME1" and img.meta["inverted"] is True
    assert img.meta["transfer_syntax"] == "RLE Lossless"
    assert img.meta["window_center"] == 550.0 and img.meta["window_width"] == 1024.0
    assert load_real("wg04_RG2_RLE.dcm").meta["inverted"] is False


@needs_realdata
@pytest.mark.parametrize(
    "path", [p for p in realdata_files() if p.parent.name == "dicom"], ids=lambda p: p.name
)
def test_real_meta_has_no_patient_identifiers(path):
    header = pydicom.dcmread(path, stop_before_pixels=True)
    try:
        meta = load_real(path.name).meta
    except LoadError:
        pytest.skip("file is refused; no meta to check")
    text = json.dumps(meta)
    for keyword in IDENTIFYING_KEYWORDS:
        value = str(header.get(keyword, "") or "")
        if len(value) > 2:
            assert value not in text, keyword


# -- synthetic DICOM: pixel values ----------------------------------------------


def test_monochrome1_and_monochrome2_give_same_array(tmp_path):
    values = ramp()
    mono2 = write_dicom(tmp_path / "m2.dcm", values, BitsStored=12, HighBit=11)
    mono1 = write_dicom(tmp_path / "m1.dcm", (4095 - values).astype(np.uint16),
                        BitsStored=12, HighBit=11, PhotometricInterpretation="MONOCHROME1")
    a, b = load_image(mono2).pixels, load_image(mono1).pixels
    np.testing.assert_array_equal(a, values.astype(np.float32))
    np.testing.assert_array_equal(a, b)


def test_monochrome1_with_rescale_matches_monochrome2(tmp_path):
    values = ramp()
    rescale = {"RescaleSlope": 2, "RescaleIntercept": -1024, "BitsStored": 12, "HighBit": 11}
    a = load_image(write_dicom(tmp_path / "m2.dcm", values, **rescale)).pixels
    b = load_image(write_dicom(tmp_path / "m1.dcm", (4095 - values).astype(np.uint16),
                               PhotometricInterpretation="MONOCHROME1", **rescale)).pixels
    np.testing.assert_array_equal(a, values * 2.0 - 1024)
    np.testing.assert_array_equal(a, b)


def test_rescale_slope_intercept_applied(tmp_path):
    values = ramp()
    path = write_dicom(tmp_path / "r.dcm", values, RescaleSlope=0.5, RescaleIntercept=-100)
    img = load_image(path)
    np.testing.assert_allclose(img.pixels, values * 0.5 - 100)
    assert img.meta["rescale_slope"] == 0.5 and img.meta["rescale_intercept"] == -100
    raw = load_image(path, apply_modality_lut=False)
    np.testing.assert_array_equal(raw.pixels, values)


def test_signed_pixels_with_rescale(tmp_path):
    values = (ramp(high=2000).astype(np.int16) - 1000).astype(np.int16)
    img = load_image(write_dicom(tmp_path / "s.dcm", values, RescaleSlope=1, RescaleIntercept=24))
    np.testing.assert_array_equal(img.pixels, values + 24.0)


def test_no_voi_window_applied_but_kept_in_meta(tmp_path):
    values = ramp()
    img = load_image(write_dicom(tmp_path / "w.dcm", values, WindowCenter=100, WindowWidth=50))
    np.testing.assert_array_equal(img.pixels, values)  # not clipped to the window
    assert img.meta["window_center"] == 100 and img.meta["window_width"] == 50


@pytest.mark.parametrize(
    "photometric, shape, inverted",
    [
        ("MONOCHROME2", "INVERSE", True),
        ("MONOCHROME2", "IDENTITY", False),
        ("MONOCHROME1", "INVERSE", True),  # DX rule: INVERSE restates MONOCHROME1
        ("MONOCHROME1", None, True),
    ],
)
def test_presentation_lut_shape(tmp_path, photometric, shape, inverted):
    values = ramp(high=255, dtype=np.uint8)
    attrs = {"PhotometricInterpretation": photometric}
    if shape:
        attrs["PresentationLUTShape"] = shape
    img = load_image(write_dicom(tmp_path / "p.dcm", values, **attrs))
    expected = 255 - values.astype(np.float32) if inverted else values.astype(np.float32)
    np.testing.assert_array_equal(img.pixels, expected)
    assert img.meta["inverted"] is inverted


def test_bits_stored_masks_high_bits(tmp_path):
    values = ramp(high=4095)
    dirty = values | np.uint16(0xF000)  # garbage above Bits Stored 12
    img = load_image(write_dicom(tmp_path / "b.dcm", dirty, BitsStored=12, HighBit=11))
    np.testing.assert_array_equal(img.pixels, values)


def test_bits_stored_sign_extends_signed(tmp_path):
    values = np.array([[-5, 7], [-2048, 2047]], dtype=np.int16)
    stored = (values.view(np.uint16) & np.uint16(0x0FFF)) | np.uint16(0x5000)
    img = load_image(write_dicom(tmp_path / "s.dcm", stored.view(np.int16),
                                 BitsStored=12, HighBit=11, PixelRepresentation=1))
    np.testing.assert_array_equal(img.pixels, values)


def test_modality_lut_sequence_applied(tmp_path):
    values = np.array([[0, 1], [2, 3]], dtype=np.uint16)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = np.array([10, 20, 40, 80], dtype="<u2").tobytes()  # OW
    img = load_image(write_dicom(tmp_path / "lut.dcm", values, BitsStored=2, HighBit=1,
                                 ModalityLUTSequence=[item]))
    np.testing.assert_array_equal(img.pixels, [[10, 20], [40, 80]])


# -- synthetic DICOM: spacing -------------------------------------------------------


@pytest.mark.parametrize(
    "attrs, spacing, source",
    [
        ({"PixelSpacing": [0.1, 0.12], "ImagerPixelSpacing": [0.2, 0.2],
          "EstimatedRadiographicMagnificationFactor": 1.5}, (0.1, 0.12), "PixelSpacing"),
        ({"PixelSpacing": [0, 0], "ImagerPixelSpacing": [0.2, 0.3]}, (0.2, 0.3),
         "ImagerPixelSpacing"),
        ({"ImagerPixelSpacing": [0.2, 0.3], "EstimatedRadiographicMagnificationFactor": 1.25},
         (0.16, 0.24), "ImagerPixelSpacing/magnification"),
        ({"ImagerPixelSpacing": [0.2, 0.3], "EstimatedRadiographicMagnificationFactor": 0},
         (0.2, 0.3), "ImagerPixelSpacing"),
        ({"PixelSpacing": [-0.1, 0.1]}, None, "unknown"),
        ({"PixelSpacing": ["nan", 0.1]}, None, "unknown"),
        ({"PixelSpacing": [0.1]}, None, "unknown"),
        ({"PixelSpacing": [0.1, 0.1, 0.1]}, None, "unknown"),
        ({}, None, "unknown"),
    ],
    ids=["pixel-wins", "zero-pixel", "magnification", "zero-magnification", "negative", "nan",
         "one-value", "three-values", "none"],
)
def test_spacing_precedence(tmp_path, attrs, spacing, source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid DS "nan"
        img = load_image(write_dicom(tmp_path / "sp.dcm", ramp(), **attrs))
    assert img.spacing_source == source
    if spacing is None:
        assert img.pixel_spacing_mm is None
    else:
        assert img.pixel_spacing_mm == pytest.approx(spacing)


# -- synthetic DICOM: structure ---------------------------------------------------------


def test_multiframe_uses_first_frame_with_warning(tmp_path):
    frames = np.stack([ramp(), ramp()[::-1].copy(), ramp() * 0 + 7])
    with pytest.warns(UserWarning, match="only the first frame"):
        img = load_image(write_dicom(tmp_path / "mf.dcm", frames))
    np.testing.assert_array_equal(img.pixels, frames[0])
    assert img.meta["number_of_frames"] == 3


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_colour_dicom_refused(tmp_path, photometric):
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    ds = make_dataset(rgb[..., 0], PhotometricInterpretation=photometric, SamplesPerPixel=3,
                      PlanarConfiguration=0)
    ds.PixelData = rgb.tobytes()
    ds.save_as(tmp_path / "c.dcm", enforce_file_format=True)
    with pytest.raises(LoadError, match="colour"):
        load_image(tmp_path / "c.dcm")


def test_palette_colour_refused(tmp_path):
    path = write_dicom(tmp_path / "pal.dcm", ramp(high=255, dtype=np.uint8),
                       PhotometricInterpretation="PALETTE COLOR")
    with pytest.raises(LoadError, match="colour"):
        load_image(path)


def test_dicom_without_preamble_or_meta(tmp_path):
    """A bare implicit-VR data set (ACR-NEMA style), no extension."""
    ds = make_dataset(ramp())
    del ds.file_meta
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    path = tmp_path / "bare_no_extension"
    path.write_bytes(fp.getvalue())
    img = load_image(path)
    np.testing.assert_array_equal(img.pixels, ramp())
    assert img.meta["transfer_syntax"] == "Implicit VR Little Endian"


def test_dicom_without_preamble_but_with_meta(tmp_path, valid_dicom_bytes):
    path = tmp_path / "no_preamble.bin"
    path.write_bytes(valid_dicom_bytes[132:])  # starts at the (0002,0000) element
    np.testing.assert_array_equal(load_image(path).pixels, ramp())


def test_dicom_sniffed_by_content_not_extension(tmp_path, valid_dicom_bytes):
    path = tmp_path / "actually_dicom.png"
    path.write_bytes(valid_dicom_bytes)
    assert load_image(path).meta["file_format"] == "DICOM"


def test_meta_has_no_patient_identifiers(tmp_path):
    img = load_image(write_dicom(tmp_path / "id.dcm", ramp(), **CANARIES))
    text = json.dumps(img.meta)
    for value in CANARIES.values():
        assert value not in text and value.split("^")[0] not in text
    assert img.meta["modality"] == "DX" and img.meta["body_part"] == "HAND"
    assert img.meta["manufacturer"] == "TestCo"
    assert img.meta["sop_instance_uid"]
    assert img.meta["transfer_syntax"] == "Explicit VR Little Endian"


def test_dicom_without_pixel_data(tmp_path):
    ds = make_dataset(ramp())
    del ds.PixelData
    ds.save_as(tmp_path / "np.dcm", enforce_file_format=True)
    with pytest.raises(LoadError, match="no pixel data"):
        load_image(tmp_path / "np.dcm")


# -- raster formats -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype, high", [(np.uint8, 255), (np.uint16, 65535)])
def test_raster_grey_round_trip_exact(tmp_path, suffix, dtype, high):
    values = ramp(high=high, dtype=dtype)
    path = tmp_path / f"g{suffix}"
    assert cv2.imwrite(str(path), values)
    img = load_image(path)
    np.testing.assert_array_equal(img.pixels, values.astype(np.float32))
    assert img.pixel_spacing_mm is None and img.spacing_source == "unknown"
    assert img.meta["file_format"] == {".png": "PNG", ".tif": "TIFF"}[suffix]


def test_jpeg_grey_loads(tmp_path):
    values = ramp(shape=(32, 32), high=255, dtype=np.uint8)
    path = tmp_path / "g.jpg"
    assert cv2.imwrite(str(path), values)
    img = load_image(path)
    assert img.meta["file_format"] == "JPEG"
    assert np.abs(img.pixels - values).mean() < 4  # lossy, but close


@pytest.mark.parametrize("channels", [3, 4])
def test_rgb_with_equal_channels_becomes_grey(tmp_path, channels):
    grey = ramp(high=255, dtype=np.uint8)
    stack = np.dstack([grey] * 3 + ([np.full_like(grey, 255)] if channels == 4 else []))
    path = tmp_path / "rgb.png"
    assert cv2.imwrite(str(path), stack)
    np.testing.assert_array_equal(load_image(path).pixels, grey)


def test_true_colour_png_refused(tmp_path):
    colour = np.dstack([ramp(high=255, dtype=np.uint8)] * 3)
    colour[0, 0, 2] = 17
    path = tmp_path / "colour.png"
    assert cv2.imwrite(str(path), colour)
    with pytest.raises(LoadError, match="colour"):
        load_image(path)


def test_unicode_path(tmp_path):
    path = tmp_path / "röntgen_手.png"
    assert cv2.imencode(".png", ramp())[1].tofile(str(path)) is None
    np.testing.assert_array_equal(load_image(path).pixels, ramp())


# -- bad input --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match="not found") as info:
        load_image(tmp_path / "nope.dcm")
    assert info.value.path == str(tmp_path / "nope.dcm")


def test_directory(tmp_path):
    with pytest.raises(LoadError, match="directory"):
        load_image(tmp_path)


@pytest.mark.parametrize("name", ["empty.dcm", "empty.png", "empty"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(LoadError, match="empty"):
        load_image(tmp_path / name)


@pytest.mark.parametrize("name", ["notes.png", "notes.dcm", "notes.txt", "notes"])
def test_text_file_refused(tmp_path, name):
    (tmp_path / name).write_text("This is not an image.\n" * 20)
    with pytest.raises(LoadError):
        load_image(tmp_path / name)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.99])
def test_truncated_dicom(tmp_path, valid_dicom_bytes, keep):
    path = tmp_path / "cut.dcm"
    path.write_bytes(valid_dicom_bytes[: int(len(valid_dicom_bytes) * keep)])
    with pytest.raises(LoadError):
        load_image(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_png(tmp_path, keep):
    data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8))[1]
    path = tmp_path / "cut.png"
    path.write_bytes(data.tobytes()[: int(data.size * keep)])
    with pytest.raises(LoadError):
        load_image(path)


def _write_dicom_or_png(path, values):
    if path.suffix == ".dcm":
        write_dicom(path, values)
    else:
        assert cv2.imwrite(str(path), values)


@pytest.mark.parametrize("suffix", [".dcm", ".png"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 5)])
def test_tiny_image_refused(tmp_path, suffix, shape):
    values = np.arange(shape[0] * shape[1], dtype=np.uint16).reshape(shape)
    path = tmp_path / f"tiny{suffix}"
    _write_dicom_or_png(path, values)
    with pytest.raises(LoadError, match="at least"):
        load_image(path)


@pytest.mark.parametrize("suffix", [".dcm", ".png"])
def test_constant_image_refused(tmp_path, suffix):
    values = np.full((8, 8), 300, dtype=np.uint16)
    path = tmp_path / f"flat{suffix}"
    _write_dicom_or_png(path, values)
    with pytest.raises(LoadError, match="constant"):
        load_image(path)


def test_absurd_dicom_dimensions_refused_before_decoding(tmp_path):
    ds = make_dataset(ramp())  # 96 bytes of pixel data...
    ds.Rows, ds.Columns = 65535, 65535  # ...but 4.3 G pixels declared
    ds.save_as(tmp_path / "huge.dcm", enforce_file_format=True)
    with pytest.raises(LoadError, match="limit"):
        load_image(tmp_path / "huge.dcm")


def test_max_pixels_argument(tmp_path):
    path = write_dicom(tmp_path / "small.dcm", ramp())  # 48 pixels
    with pytest.raises(LoadError, match="limit of 40"):
        load_image(path, max_pixels=40)
    assert load_image(path, max_pixels=48).shape == (6, 8)
    with pytest.raises(ValueError):
        load_image(path, max_pixels=0)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def huge_tiff() -> bytes:
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 16), (277, 3, 1, 1)]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def huge_jpeg() -> bytes:
    sof = struct.pack(">BHHB", 8, 65535, 65535, 1) + bytes([1, 0x11, 0])
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


@pytest.mark.parametrize("name, data", [("huge.png", huge_png()), ("huge.tif", huge_tiff()),
                                        ("huge.jpg", huge_jpeg())])
def test_absurd_raster_header_refused_before_decoding(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(LoadError, match="limit"):
        load_image(tmp_path / name)


# -- fuzzing ----------------------------------------------------------------------------------

SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"\xff\xd8\xff",
              bytes(128) + b"DICM", b"\x08\x00\x05\x00CS"]


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(SIGNATURES), body=st.binary(max_size=600),
       suffix=st.sampled_from([".dcm", ".png", ""]))
def test_random_bytes_only_raise_load_error(tmp_path_factory, prefix, body, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    path.write_bytes(prefix + body)
    try:
        img = load_image(path, max_pixels=FUZZ_MAX_PIXELS)
    except LoadError:
        return
    assert img.pixels.dtype == np.float32 and np.isfinite(img.pixels).all()


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_truncated_or_corrupted_dicom_only_raises_load_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("trunc") / "t.dcm"
    valid = valid_dicom_blob()
    cut = data.draw(st.integers(0, len(valid) - 1), label="cut")
    blob = bytearray(valid[:cut])
    if blob and data.draw(st.booleans(), label="corrupt"):
        where = data.draw(st.integers(0, len(blob) - 1), label="where")
        blob[where] = data.draw(st.integers(0, 255), label="byte")
    path.write_bytes(bytes(blob))
    with pytest.raises(LoadError):
        load_image(path, max_pixels=FUZZ_MAX_PIXELS)


def test_loading_a_png_does_not_import_pydicom(tmp_path):
    # a batch of PNGs (and ``import calcidetect``) must not pay for pydicom's
    # import; a DICOM file still loads
    import subprocess
    import sys

    png = tmp_path / "ramp.png"
    assert cv2.imwrite(str(png), (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000))
    dcm = tmp_path / "ramp.dcm"
    code = (
        "import sys, calcidetect\n"
        f"img = calcidetect.load_image({str(png)!r})\n"
        "print(img.shape, 'pydicom' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["(8,", "8)", "False"]
    write_dicom(dcm, np.arange(64, dtype=np.uint16).reshape(8, 8))
    assert load_image(dcm).shape == (8, 8)
