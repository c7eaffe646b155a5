"""The same batch on a real Dask distributed cluster gives the local run's tables.

Starts a ``LocalCluster`` (scheduler + 2 worker processes on 127.0.0.1) in the
test.  Dask is in the ``test`` extra, so this runs in CI; it is skipped only
when ``distributed`` is missing.
"""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed")

from _batch_helpers import read_tables, synthetic_pixels, write_dicom, write_png  # noqa: E402
from calcidetect import batch, cli  # noqa: E402
from calcidetect.errors import CalcidetectError  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=40,
    ) as c:
        yield c


def test_dask_matches_local(tmp_path, cluster):
    root = tmp_path / "in"
    for i in range(4):
        write_png(root / f"p/img{i}.png", synthetic_pixels((160, 220), seed=20 + i))
    write_dicom(root / "d/scan", synthetic_pixels((160, 220), seed=30))
    (root / "d/empty.dcm").write_bytes(b"")
    local = batch.run(root, tmp_path / "local", workers=1, quiet=True)
    status = cli.main(["batch", str(root), str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address, "--quiet"])
    assert status == 1 and local.n_failed == 1 and local.n_ok == 5
    assert read_tables(tmp_path / "local") == read_tables(tmp_path / "dask")
    assert sorted(p.name for p in (tmp_path / "dask/overlays/p").iterdir()) == [f"img{i}.png.png" for i in range(4)]


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "DASK_CONNECT_TIMEOUT_S", 2.0)
    root = tmp_path / "in"
    write_png(root / "a.png", synthetic_pixels((60, 80)))
    with pytest.raises(CalcidetectError, match="cannot connect to the Dask scheduler"):
        batch.run(root, tmp_path / "out", scheduler="tcp://127.0.0.1:9", quiet=True)


def test_missing_dask_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith(("dask", "distributed")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    root = tmp_path / "in"
    write_png(root / "a.png", synthetic_pixels((60, 80)))
    with pytest.raises(CalcidetectError, match=r"pip install calcidetect\[dask\]"):
        batch.run(root, tmp_path / "out", scheduler="tcp://127.0.0.1:8786", quiet=True)
