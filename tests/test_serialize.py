"""Artifact blobs: values round-trip; equal values share one key; big buffers go out of band,
are compressed only when that pays, come back writeable without copies (mapped copy-on-write),
and a loaded value the step did not change is recognised without hashing it again."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest

from flowc.datastore import ArtifactError, Datastore
from flowc.datastore.serialize import ALIGN, deserialize, serialize, unchanged


def blob_bytes(value) -> bytes:
    return b"".join(bytes(p) for p in serialize(value).blob())


@pytest.mark.parametrize(
    "value",
    [None, 3, 2.5, "text", b"bytes", [1, (2, 3)], {"a": {1, 2}, "b": None}, np.arange(10)],
)
def test_round_trip(value):
    back = deserialize(io.BytesIO(blob_bytes(value)))
    if isinstance(value, np.ndarray):
        assert (back == value).all()
    else:
        assert back == value


def test_equal_values_share_a_key_and_different_ones_do_not():
    assert serialize({"x": [1, 2]}).sha == serialize({"x": [1, 2]}).sha
    assert serialize({"x": [1, 2]}).sha != serialize({"x": [2, 1]}).sha
    a = np.random.default_rng(1).random(2**20)
    assert serialize(a).sha == serialize(a.copy()).sha
    b = a.copy()
    b[-1] += 1
    assert serialize(a).sha != serialize(b).sha


def test_big_buffers_go_out_of_band_and_compress_only_when_it_pays():
    noise = serialize(np.random.default_rng(0).random(2**20))
    assert len(noise.parts) == 2 and noise.codecs[1] == "raw"
    zeros = serialize(np.zeros(2**20))
    assert len(zeros.parts) == 2 and zeros.codecs[1] == "zlib"
    assert len(blob_bytes(np.zeros(2**20))) < 8 * 2**20 // 100  # 8 MiB of zeros: ~36 KiB


def test_parts_are_aligned_in_the_blob():
    data = blob_bytes(np.random.default_rng(0).random(2**20))
    # the raw buffer (the last 8 MiB) starts on an aligned offset
    assert (len(data) - 8 * 2**20) % ALIGN == 0


def test_loaded_arrays_are_writeable_mapped_and_change_detection_is_exact(tmp_path):
    ds = Datastore(str(tmp_path))
    a = np.random.default_rng(0).random(2**20)
    ref = ds.put("a", a)
    b, loaded = ds.load(ref["sha"])
    assert loaded.mapped and b.flags.writeable and b.flags.aligned
    assert (b == a).all()
    assert unchanged(b, loaded)
    b.sum()
    assert unchanged(b, loaded)  # reading is not changing
    b[12345] = -1.0
    assert not unchanged(b, loaded)
    again = ds.get(ref["sha"])
    assert again[12345] == a[12345]  # the write went to a private copy, not to the blob
    c, loaded_c = ds.load(ref["sha"])
    c.shape = (2, -1)
    assert not unchanged(c, loaded_c)  # same buffer, different value
    assert not unchanged(c.copy(), loaded_c)


def test_pandas_frames_round_trip_with_their_buffers_out_of_band(tmp_path):
    df = pd.DataFrame(
        {"x": np.arange(200_000), "y": np.random.default_rng(0).random(200_000), "s": "a"}
    )
    s = serialize(df)
    assert len(s.parts) > 1  # the numeric columns are not copied into the pickle stream
    ds = Datastore(str(tmp_path))
    assert ds.get(ds.put("df", df)["sha"]).equals(df)


def test_a_value_is_stored_once_however_many_names_hold_it(tmp_path):
    ds = Datastore(str(tmp_path))
    value = {"k": list(range(1000))}
    r1, r2 = ds.put("a", value), ds.put("b", dict(value))
    assert r1["sha"] == r2["sha"]
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1
    assert r1["type"] == "dict" and r1["size"] > 0 and r1["repr"].startswith("{'k': [0, 1")


def test_unpicklable_value_names_the_artifact_and_type(tmp_path):
    with pytest.raises(ArtifactError, match=r"artifact 'lock' of type _thread.lock"):
        Datastore(str(tmp_path)).put("lock", threading.Lock())


def test_fsspec_url_round_trip(tmp_path):
    ds = Datastore(f"file://{tmp_path}/remote")
    ref = ds.put("a", np.arange(2**20))
    assert (ds.get(ref["sha"]) == np.arange(2**20)).all()
    ds.write_json("runs/x.json", {"a": 1})
    assert ds.read_json("runs/x.json") == {"a": 1}
    assert not list((tmp_path / "remote").rglob(".*"))
