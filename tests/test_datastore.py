"""flowc.datastore used directly: blobs round-trip, are keyed by content, go out of band and
compress only when it pays; the Datastore stores each distinct value once, names unstorable
artifacts, works through fsspec URLs, writes atomically and reports unwritable locations."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flowc.datastore import ArtifactError, Datastore, DatastoreError
from flowc.datastore.serialize import Serialized, deserialize, serialize
from flowc.datastore.storage import FsspecStorage, LocalStorage

MIB = 2**20


def blob_of(value) -> bytes:
    s = serialize(value)
    assert isinstance(s, Serialized)
    return b"".join(bytes(chunk) for chunk in s.blob())


def round_trip(value):
    return deserialize(io.BytesIO(blob_of(value)))


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def big_noise() -> np.ndarray:
    return np.random.default_rng(42).random(MIB)  # 8 MiB of float64


# --- serialize / deserialize ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -7, 2**100, 3.25, "héllo", b"\x00\xff", (1, "a"), [1, [2, [3]]], {4, 5}],
)
def test_plain_values_round_trip(value):
    back = round_trip(value)
    assert back == value and type(back) is type(value)


def test_a_dict_of_mixed_types_round_trips():
    value = {
        "int": 1,
        "float": 1.5,
        "str": "x",
        "none": None,
        "list": [1, "two", 3.0],
        "nested": {"t": (1, 2), "s": frozenset({"a"})},
        "arr": np.arange(12).reshape(3, 4),
    }
    back = round_trip(value)
    assert back.keys() == value.keys()
    np.testing.assert_array_equal(back.pop("arr"), value.pop("arr"))
    assert back == value


def test_a_large_array_comes_back_equal_and_writeable():
    a = big_noise()
    assert a.nbytes == 8 * MIB
    back = round_trip(a)
    assert back.dtype == a.dtype and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
    assert back.flags.writeable
    back[0] = -1.0  # writing must work and must not touch the original
    assert a[0] != -1.0


def test_a_large_array_loaded_from_a_blob_file_is_writeable(tmp_path):
    # the file path maps big buffers copy-on-write instead of reading them
    a = big_noise()
    ds = Datastore(str(tmp_path))
    ref = ds.put("a", a)
    back = ds.get(ref["sha"])
    np.testing.assert_array_equal(back, a)
    assert back.flags.writeable
    back[:] = 0.0
    assert ds.get(ref["sha"])[0] == a[0]  # the blob itself did not change


def test_a_pandas_frame_round_trips():
    n = 50_000
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "i": np.arange(n),
            "f": rng.random(n),
            "s": [f"row{k % 7}" for k in range(n)],
            "c": pd.Categorical(["x", "y"] * (n // 2)),
        }
    )
    back = round_trip(df)
    pd.testing.assert_frame_equal(back, df)
    assert len(serialize(df).parts) > 1  # its column buffers go out of band


def test_a_non_contiguous_view_round_trips_and_is_writeable():
    a = big_noise()
    view = a[::2]
    assert not view.flags.c_contiguous
    back = round_trip(view)
    np.testing.assert_array_equal(back, view)
    assert back.flags.writeable
    two_d = np.arange(200_000, dtype=np.int64).reshape(400, 500)[:, 1::3]
    np.testing.assert_array_equal(round_trip(two_d), two_d)


def test_equal_values_share_a_sha_and_different_values_do_not():
    assert serialize({"k": [1, 2, 3]}).sha == serialize({"k": [1, 2, 3]}).sha
    assert serialize({"k": [1, 2, 3]}).sha != serialize({"k": [1, 2, 4]}).sha
    assert serialize(1).sha != serialize("1").sha
    a = big_noise()
    assert serialize(a).sha == serialize(a.copy()).sha
    b = a.copy()
    b[MIB // 2] += 1.0  # one float in the middle of 8 MiB
    assert serialize(a).sha != serialize(b).sha
    assert serialize(a).sha != serialize(a.reshape(1024, 1024)).sha  # same bytes, other shape


def test_a_big_random_array_goes_out_of_band_uncompressed():
    s = serialize(big_noise())
    assert len(s.parts) > 1
    assert sum(p.nbytes for p in s.parts[1:]) == 8 * MIB
    assert all(c == "raw" for c in s.codecs[1:])
    assert s.size >= 8 * MIB


def test_a_compressible_big_array_is_compressed_on_disk(tmp_path):
    zeros = np.zeros(MIB)
    s = serialize(zeros)
    assert len(s.parts) > 1
    assert s.codecs[1:] == ["zlib"] * (len(s.parts) - 1)
    assert len(blob_of(zeros)) < zeros.nbytes // 50
    ds = Datastore(str(tmp_path))
    ref = ds.put("zeros", zeros)
    (blob,) = files_under(tmp_path / "blobs")
    assert blob.stat().st_size < zeros.nbytes // 50
    assert ref["size"] >= zeros.nbytes  # the ref reports the uncompressed size
    back = ds.get(ref["sha"])
    np.testing.assert_array_equal(back, zeros)
    assert back.flags.writeable


# --- Datastore ------------------------------------------------------------------------------


def test_put_returns_a_reference_and_get_returns_an_equal_value(tmp_path):
    ds = Datastore(str(tmp_path))
    value = {"a": [1, 2], "b": "text"}
    ref = ds.put("thing", value)
    assert set(ref) >= {"sha", "size", "type", "repr"}
    assert ref["sha"] == serialize(value).sha
    assert ref["type"] == "dict"
    assert ref["size"] > 0
    assert "text" in ref["repr"]
    back = ds.get(ref["sha"])
    assert back == value and back is not value


def test_the_same_value_is_stored_once(tmp_path):
    ds = Datastore(str(tmp_path))
    a = big_noise()
    r1 = ds.put("a", a)
    r2 = ds.put("a", a)
    r3 = ds.put("other_name", a.copy())
    assert r1["sha"] == r2["sha"] == r3["sha"]
    assert len(files_under(tmp_path / "blobs")) == 1
    # a second Datastore on the same folder (another task) does not write it again either
    Datastore(str(tmp_path)).put("again", a.copy())
    assert len(files_under(tmp_path / "blobs")) == 1
    ds.put("different", a[:-1])
    assert len(files_under(tmp_path / "blobs")) == 2


def test_the_repr_in_a_reference_is_short(tmp_path):
    ref = Datastore(str(tmp_path)).put("long", "x" * 10_000)
    assert len(ref["repr"]) <= 80 and "\n" not in ref["repr"]


@pytest.mark.parametrize(
    ("value", "type_word"),
    [(lambda x: x, "function"), (threading.Lock(), "lock")],
    ids=["lambda", "lock"],
)
def test_an_unpicklable_value_names_the_artifact_and_its_type(tmp_path, value, type_word):
    ds = Datastore(str(tmp_path))
    with pytest.raises(ArtifactError) as info:
        ds.put("my_artifact", value)
    message = str(info.value)
    assert "my_artifact" in message
    assert type_word in message
    assert not files_under(tmp_path)  # nothing half-written


def test_an_unpicklable_value_inside_a_container_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="holder"):
        Datastore(str(tmp_path)).put("holder", {"ok": 1, "bad": threading.Lock()})


def test_a_fsspec_url_round_trips_artifacts_and_records(tmp_path):
    ds = Datastore("file://" + str(tmp_path))
    assert isinstance(ds.storage, FsspecStorage)
    small = {"x": 1}
    a = big_noise()
    r_small = ds.put("small", small)
    r_big = ds.put("big", a)
    ds.put("big_again", a.copy())
    assert ds.get(r_small["sha"]) == small
    back = ds.get(r_big["sha"])
    np.testing.assert_array_equal(back, a)
    assert back.flags.writeable
    assert len(files_under(tmp_path / "blobs")) == 2
    doc = {"status": "ok", "n": [1, 2, 3], "nested": {"k": None}}
    ds.write_json("runs/F/1/run.json", doc)
    assert ds.read_json("runs/F/1/run.json") == doc
    assert (tmp_path / "runs" / "F" / "1" / "run.json").is_file()
    assert ds.read_json("runs/F/1/missing.json") is None
    # a plain-path Datastore on the same folder reads the same things
    plain = Datastore(str(tmp_path))
    assert plain.read_json("runs/F/1/run.json") == doc
    assert plain.get(r_small["sha"]) == small


def test_fsspec_writes_leave_no_temporary_files(tmp_path):
    ds = Datastore("file://" + str(tmp_path))
    for i in range(3):
        ds.write_json(f"a/b/{i}.json", {"i": i})
    ds.put("v", list(range(1000)))
    names = [p.name for p in files_under(tmp_path)]
    assert not [n for n in names if n.startswith(".")]
    assert sorted(ds.storage.listdir("a/b")) == ["0.json", "1.json", "2.json"]


# --- LocalStorage ---------------------------------------------------------------------------


def test_local_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    storage = LocalStorage(str(tmp_path))
    storage.write("deep/folder/key", [b"one ", memoryview(b"two "), bytearray(b"three")])
    assert storage.read("deep/folder/key") == b"one two three"
    storage.write("deep/folder/key", [b"replaced"])
    assert storage.read("deep/folder/key") == b"replaced"
    ds = Datastore(str(tmp_path))
    ds.put("arr", big_noise())
    ds.write_json("r/x.json", {"a": 1})
    everything = [p.name for p in tmp_path.rglob("*")]
    assert not [n for n in everything if n.startswith(".")], everything


def test_a_failed_local_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    storage = LocalStorage(str(tmp_path))
    storage.write("key", [b"old"])

    def parts():
        yield b"new data "
        raise RuntimeError("the producer died")

    with pytest.raises(RuntimeError):
        storage.write("key", parts())
    assert storage.read("key") == b"old"  # readers still see the old content, whole
    assert sorted(os.listdir(tmp_path)) == ["key"]


def test_claim_succeeds_once_per_key(tmp_path):
    for storage in (LocalStorage(str(tmp_path / "local")), FsspecStorage(f"file://{tmp_path}/fs")):
        assert storage.claim("runs/Flow/123") is True
        assert storage.claim("runs/Flow/123") is False
        assert storage.claim("runs/Flow/124") is True


def test_listdir_skips_temporary_names(tmp_path):
    storage = LocalStorage(str(tmp_path))
    storage.write("d/real", [b"x"])
    (tmp_path / "d" / ".real.123.tmp").write_bytes(b"partial")
    assert storage.listdir("d") == ["real"]
    assert storage.listdir("nope") == []


# --- check_writable -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_an_unwritable_datastore_is_reported_in_one_line(tmp_path, scheme):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    ds = Datastore(scheme + str(blocker / "ds"))
    with pytest.raises(DatastoreError) as info:
        ds.check_writable()
    message = str(info.value)
    assert "--datastore" in message
    assert "\n" not in message
    assert str(blocker) in message


def test_a_writable_datastore_passes_the_check_and_leaves_no_probe(tmp_path):
    Datastore(str(tmp_path / "new" / "ds")).check_writable()
    assert (tmp_path / "new" / "ds").is_dir()
    assert os.listdir(tmp_path / "new" / "ds") == []
