"""Tests of batch runs: discovery, bad inputs, exit status, resume, determinism, privacy.

Unit tests run in-process (``workers=1``) with a small stand-in detector
(:func:`_batch_helpers.fake_detect`) so they are fast and exercise the batch
machinery; the tests marked ``e2e`` use the real loader and detector.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from _batch_helpers import (
    all_output_bytes,
    fake_detect,
    read_tables,
    synthetic_pixels,
    write_dicom,
    write_png,
    write_rgb_png,
)
from calcidetect import batch, cli, worker
from calcidetect.config import Config
from calcidetect.discover import discover
from calcidetect.errors import LoadError

JPLY = Path("/work/shared/realdata/dicom/wg04_RG2_JPLY.dcm")


@pytest.fixture
def fake(monkeypatch):
    """Replace the detector (only) with the fast stand-in, in this process."""
    monkeypatch.setattr(worker, "detect", fake_detect)


def _good_inputs(root: Path, n: int = 3, shape=(160, 220)) -> None:
    for i in range(n):
        write_png(root / f"png/img{i:02d}.png", synthetic_pixels(shape, seed=i))
    write_dicom(root / "dicom/scan.dcm", synthetic_pixels(shape, seed=99))


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# ---------------------------------------------------------------------------
# discovery


def test_discover_rules(tmp_path):
    root = tmp_path / "in"
    outside = tmp_path / "outside"
    outside.mkdir()
    write_png(outside / "elsewhere.png", synthetic_pixels((20, 20)))
    write_png(root / "a.png", synthetic_pixels((20, 20)))
    write_png(root / "sub/B.PNG", synthetic_pixels((20, 20)))
    write_png(root / ".hidden.png", synthetic_pixels((20, 20)))
    write_png(root / ".cache/x.png", synthetic_pixels((20, 20)))
    write_dicom(root / "sub/noext", synthetic_pixels((20, 20)))  # DICOM without extension
    write_dicom(root / "sub/scan.weird", synthetic_pixels((20, 20)))  # unknown extension, DICM magic
    (root / "sub/notes.bin").write_bytes(b"\0" * 300)  # unknown extension, no magic
    (root / "a.truth.json").write_text("{}")
    (root / "readme.txt").write_text("hello")
    (root / "tiff.tif").write_bytes(b"not really")
    os.symlink(outside / "elsewhere.png", root / "link_out.png")
    os.symlink(outside, root / "linkdir_out")
    os.symlink(root / "a.png", root / "link_in.png")
    os.symlink(root / "sub", root / "linkdir_in")  # in-tree dir link: not followed (no duplicates)
    out = root / "results"
    write_png(out / "overlays/a.png.png", synthetic_pixels((20, 20)))

    rels = [i.rel for i in discover(root, exclude=out)]
    assert rels == ["a.png", "link_in.png", "sub/B.PNG", "sub/noext", "sub/scan.weird", "tiff.tif"]
    assert "results/overlays/a.png.png" in [i.rel for i in discover(root)]


def test_discover_missing_dir(tmp_path):
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "nope")


# ---------------------------------------------------------------------------
# bad inputs, exit status


def _bad_inputs(root: Path) -> dict[str, str]:
    """Write the nasty files; return rel -> the reason the loader gives."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "bad/empty.png").parent.mkdir(parents=True, exist_ok=True)
    (root / "bad/empty.png").write_bytes(b"")
    write_dicom(root / "bad/truncated.dcm", synthetic_pixels((80, 90)))
    data = (root / "bad/truncated.dcm").read_bytes()
    (root / "bad/truncated.dcm").write_bytes(data[: len(data) // 2])
    (root / "bad/text.png").write_text("this is not an image\n" * 20)
    write_rgb_png(root / "bad/photo.png")
    if JPLY.is_file():
        shutil.copy(JPLY, root / "bad/jply.dcm")
    reasons = {}
    for p in sorted((root / "bad").iterdir()):
        with pytest.raises(LoadError) as info:
            worker.load_image(str(p))
        reasons[f"bad/{p.name}"] = info.value.reason
    return reasons


def test_mixed_folder_errors_are_rows_not_crashes(tmp_path, fake, capsys):
    root = tmp_path / "in"
    _good_inputs(root)
    reasons = _bad_inputs(root)
    out = tmp_path / "out"
    status = cli.main(["batch", str(root), str(out), "--workers", "1", "--quiet"])
    assert status == 1
    rows = {r["image"]: r for r in _rows(out / "images.csv")}
    assert len(rows) == 4 + len(reasons)
    for rel, reason in reasons.items():
        assert rows[rel]["status"] == "error", rel
        assert rows[rel]["reason"] == " ".join(reason.split())
        assert rows[rel]["n_foci"] == ""
        assert not (out / "json" / f"{rel}.json").exists()
    good = [r for r in rows.values() if r["status"] == "ok"]
    assert len(good) == 4 and all(r["reason"] == "" for r in good)
    assert rows["dicom/scan.dcm"]["spacing_source"] == "PixelSpacing"
    assert rows["png/img00.png"]["spacing_source"] == "assumed"
    if JPLY.is_file():
        assert "JPEG" in rows["bad/jply.dcm"]["reason"]
    report = (out / "report.html").read_text()
    assert "Failed inputs" in report and "bad/photo.png" in report
    assert "4 of 9" in capsys.readouterr().err or not JPLY.is_file()


def test_unexpected_exception_is_recorded(tmp_path, monkeypatch):
    def flaky(image, **kw):
        if image.pixels.shape[0] == 170:
            raise ZeroDivisionError("boom")
        return fake_detect(image, **kw)

    monkeypatch.setattr(worker, "detect", flaky)
    root = tmp_path / "in"
    _good_inputs(root)
    write_png(root / "z.png", synthetic_pixels((170, 200)))
    summary = batch.run(root, tmp_path / "out", workers=1, quiet=True)
    assert (summary.n_total, summary.n_ok, summary.n_failed) == (5, 4, 1)
    rows = {r["image"]: r for r in _rows(tmp_path / "out/images.csv")}
    assert rows["z.png"]["reason"] == "internal error: ZeroDivisionError: boom"


def test_exit_0_when_all_good(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=2)
    assert cli.main(["batch", str(root), str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 0


def test_usage_errors_exit_2(tmp_path, fake, capsys):
    root = tmp_path / "in"
    _good_inputs(root, n=1)
    assert cli.main(["batch", str(tmp_path / "missing"), str(tmp_path / "out"), "--quiet"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("min_area_mm2 = 0.1\nnot_a_parameter = 3\n")
    capsys.readouterr()
    assert cli.main(["batch", str(root), str(tmp_path / "out"), "--config", str(bad), "--quiet"]) == 2
    assert "not_a_parameter" in capsys.readouterr().err
    assert cli.main(["batch", str(root), str(root), "--quiet"]) == 2
    assert cli.main(["batch", str(root), str(tmp_path / "out"), "--workers", "0", "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_config_file_is_used_and_written(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=1)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("[calcidetect]\nmin_area_mm2 = 0.5\n")
    assert cli.main(["batch", str(root), str(tmp_path / "out"), "--config", str(cfg_file), "--quiet", "--workers", "1"]) == 0
    used = Config.from_toml(tmp_path / "out/config.toml")
    assert used.min_area_mm2 == 0.5
    doc = json.loads((tmp_path / "out/json/png/img00.png.json").read_text())
    assert doc["config"]["min_area_mm2"] == 0.5


def test_out_dir_inside_in_dir_is_not_walked(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=1)
    out = root / "results"
    s1 = batch.run(root, out, workers=1, quiet=True)
    s2 = batch.run(root, out, workers=1, quiet=True)
    assert s1.n_total == s2.n_total == 2


# ---------------------------------------------------------------------------
# outputs


def test_outputs_layout_and_content(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=2)
    out = tmp_path / "out"
    batch.run(root, out, workers=1, quiet=True)
    for rel in ("png/img00.png", "png/img01.png", "dicom/scan.dcm"):
        for sub, ext in (("json", ".json"), ("labels", ".png"), ("overlays", ".png"), ("thumbs", ".jpg"), ("done", ".json")):
            assert (out / sub / f"{rel}{ext}").is_file(), (sub, rel)
    doc = json.loads((out / "json/dicom/scan.dcm.json").read_text())
    assert doc["input"] == doc["source"] == "dicom/scan.dcm"
    assert doc["calcidetect_version"] and doc["spacing_source"] == "PixelSpacing"
    assert "sop_instance_uid" not in doc["image_meta"] and doc["image_meta"]["modality"] == "DX"
    # the label PNG is uint16 and matches the foci
    labels = cv2.imread(str(out / "labels/dicom/scan.dcm.png"), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16 and labels.shape == (160, 220)
    assert set(np.unique(labels)) - {0} == {f["id"] for f in doc["foci"]}
    foci = _rows(out / "foci.csv")
    header = (out / "foci.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["image", "focus_id", "pattern"] and header[-1] == "diameter_mm"
    assert [(r["image"], int(r["focus_id"])) for r in foci] == sorted((r["image"], int(r["focus_id"])) for r in foci)
    images = _rows(out / "images.csv")
    n_by_image = {r["image"]: int(r["n_foci"]) for r in images}
    for rel, n in n_by_image.items():
        assert sum(1 for r in foci if r["image"] == rel) == n
        counts = sum(int(images[[i["image"] for i in images].index(rel)][f"count_{p}"]) for p in batch.PATTERNS)
        assert counts == n
    html = (out / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") == 3 and "<svg" in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "not a diagnostic device" in html
    timings = _rows(out / "timings.csv")
    assert [r["image"] for r in timings] == sorted(n_by_image) and float(timings[0]["total"]) > 0


def test_no_overlays_flag(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=1)
    batch.run(root, tmp_path / "out", workers=1, quiet=True, overlays=False)
    assert not (tmp_path / "out/overlays").exists()
    assert (tmp_path / "out/thumbs/png/img00.png.jpg").is_file()


def test_determinism_two_runs(tmp_path, fake):
    root = tmp_path / "in"
    _good_inputs(root, n=3)
    batch.run(root, tmp_path / "a", workers=1, quiet=True)
    batch.run(root, tmp_path / "b", workers=1, quiet=True)
    assert read_tables(tmp_path / "a") == read_tables(tmp_path / "b")


def test_resume_skips_done_and_retries_errors(tmp_path, monkeypatch):
    calls = []

    def counting(image, **kw):
        calls.append(image.pixels.shape)
        return fake_detect(image, **kw)

    monkeypatch.setattr(worker, "detect", counting)
    root = tmp_path / "in"
    _good_inputs(root, n=3)
    (root / "broken.png").write_bytes(b"")
    out = tmp_path / "out"
    first = batch.run(root, out, workers=1, quiet=True)
    tables = read_tables(out)
    assert (first.n_failed, len(calls)) == (1, 4)
    (out / "done/png/img01.png.json").unlink()  # as if killed before this one finished
    calls.clear()
    again = batch.run(root, out, workers=1, quiet=True, resume=True)
    assert len(calls) == 1 and again.n_skipped == 3 and again.n_failed == 1
    assert read_tables(out) == tables
    # a missing overlay makes an input incomplete
    (out / "overlays/png/img02.png.png").unlink()
    calls.clear()
    batch.run(root, out, workers=1, quiet=True, resume=True)
    assert len(calls) == 1 and (out / "overlays/png/img02.png.png").is_file()
    # resuming with another configuration is refused
    with pytest.raises(batch.BatchUsageError, match="different configuration"):
        batch.run(root, out, workers=1, quiet=True, resume=True, config=Config(min_area_mm2=1.0))


def test_canary_identifiers_absent(tmp_path, fake):
    root = tmp_path / "in"
    write_dicom(root / "patient/CT1.dcm", synthetic_pixels((150, 150)), canary=True)
    write_dicom(root / "patient/noext", synthetic_pixels((150, 150), seed=5), canary=True)
    out = tmp_path / "out"
    assert batch.run(root, out, workers=1, quiet=True).n_ok == 2
    for path, data in all_output_bytes(out):
        for canary in (b"CANARY", b"SECRET", b"19000101", str(tmp_path).encode()):
            assert canary not in data, (path, canary)


# ---------------------------------------------------------------------------
# end to end: real loader and detector, worker processes, the CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calcidetect", *args], capture_output=True, text=True, timeout=300
    )


def test_e2e_pool_matches_serial_and_is_private(tmp_path):
    root = tmp_path / "in"
    _good_inputs(root, n=3)
    _bad_inputs(root)
    a = batch.run(root, tmp_path / "a", workers=1, quiet=True)
    b = batch.run(root, tmp_path / "b", workers=2, quiet=True)
    assert a == batch.BatchSummary(a.n_total, 4, a.n_total - 4, 0, str(tmp_path / "a"))
    assert (b.n_ok, b.n_failed) == (a.n_ok, a.n_failed)
    assert read_tables(tmp_path / "a") == read_tables(tmp_path / "b")
    for path, data in all_output_bytes(tmp_path / "b"):
        assert b"CANARY" not in data and str(tmp_path).encode() not in data, path


def test_e2e_sigkill_then_resume_equals_uninterrupted(tmp_path):
    root = tmp_path / "in"
    for i in range(8):
        write_png(root / f"s{i}.png", synthetic_pixels((220, 300), seed=10 + i))
    write_dicom(root / "scan.dcm", synthetic_pixels((220, 300), seed=7))
    (root / "empty.dcm").write_bytes(b"")
    ref = tmp_path / "ref"
    assert _cli("batch", str(root), str(ref), "--workers", "1", "--quiet").returncode == 1

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "calcidetect", "batch", str(root), str(out), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = list((out / "done").rglob("*.json")) if (out / "done").is_dir() else []
        if any(json.loads(p.read_text())["status"] == "ok" for p in done):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "images.csv").exists(), "killed too late to test anything"
    n_done = len(list((out / "done").rglob("*.json")))
    assert 1 <= n_done < 10

    res = _cli("batch", str(root), str(out), "--workers", "1", "--resume")
    assert res.returncode == 1, res.stderr
    assert "already done" in res.stderr
    assert read_tables(out) == read_tables(ref)


def test_pool_hands_out_the_largest_files_first(tmp_path):
    # longest-processing-time-first: big films first, so the pool does not
    # end waiting on one; equal sizes by name, a file gone missing last
    sizes = {"a.png": 10, "b.png": 300, "c.png": 300, "d.png": 5000}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    tasks = [worker.Task(str(tmp_path / n), n, str(tmp_path / "out"), Config()) for n in ["gone.png", *sorted(sizes)]]
    assert [t.rel for t in batch._largest_first(tasks)] == ["d.png", "b.png", "c.png", "a.png", "gone.png"]
