"""Artifact values to content-addressed blobs and back.

Pickle protocol 5 with out-of-band buffers: a numpy array or pandas frame pickles to a small
header plus its raw buffers, which are hashed and written straight from the object's memory and
read back into one fresh ``bytearray`` each (writeable, no intermediate copies). Each part is
compressed (zlib, fast level) only when a sample of it shrinks enough to pay for the CPU time;
random floats stay raw.

The key is a BLAKE3 digest of the uncompressed parts, so equal values get one blob whatever the
compression decided. BLAKE3 is a cryptographic hash several times faster than SHA-256 and uses
every core on large parts: hashing is most of the cost of storing a big array, and a loaded
array is hashed again when its task ends (to tell whether the step changed it).
"""

from __future__ import annotations

import json
import pickle
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

MAGIC = b"FLOWCB1\n"
INLINE_BELOW = 64 * 1024  # buffers smaller than this stay inside the pickle stream
COMPRESS_FROM = 1024  # smaller parts are never worth compressing
SAMPLE = 64 * 1024
PAYS = 0.8  # compress when a sample shrinks to at most this fraction
THREADS_FROM = 4 * 1024 * 1024  # parts above this are hashed on every core
UNINITIALISED_FROM = 1024 * 1024  # raw parts above this are read into unzeroed memory


class SerializationError(Exception):
    """A value that cannot be pickled."""


@dataclass
class Serialized:
    sha: str
    size: int  # uncompressed bytes
    parts: list[memoryview]
    codecs: list[str]

    def blob(self) -> Iterator[bytes | memoryview]:
        """The blob file's bytes, part by part, compressing where the sample said it pays."""
        stored = []
        for part, codec in zip(self.parts, self.codecs, strict=True):
            stored.append(zlib.compress(part, 1) if codec == "zlib" else part)
        header = json.dumps(
            {
                "parts": [
                    {"n": p.nbytes, "c": c, "z": len(s) if isinstance(s, bytes) else s.nbytes}
                    for p, c, s in zip(self.parts, self.codecs, stored, strict=True)
                ]
            },
            separators=(",", ":"),
        ).encode()
        yield MAGIC + struct.pack("<I", len(header)) + header
        yield from stored


def serialize(obj: Any) -> Serialized:
    buffers: list[memoryview] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        try:
            raw = buf.raw()
        except BufferError:  # not contiguous: let pickle copy it in-band
            return True
        if raw.nbytes < INLINE_BELOW:
            return True
        buffers.append(raw)
        return False

    try:
        main = pickle.dumps(obj, protocol=5, buffer_callback=out_of_band)
    except RecursionError as e:
        raise SerializationError(f"it is nested too deeply to pickle ({e})") from None
    except Exception as e:  # noqa: BLE001 - pickle raises many types for unpicklable values
        raise SerializationError(f"{type(e).__name__}: {e}") from None
    parts = [memoryview(main), *buffers]
    return Serialized(
        sha=_digest(parts),
        size=sum(p.nbytes for p in parts),
        parts=parts,
        codecs=[_codec(p) for p in parts],
    )


def deserialize(f: BinaryIO) -> Any:
    head = f.read(len(MAGIC) + 4)
    if head[: len(MAGIC)] != MAGIC:
        raise ValueError("not a flowc artifact blob")
    (n,) = struct.unpack("<I", head[len(MAGIC) :])
    parts = json.loads(f.read(n))["parts"]
    data = []
    for part in parts:
        if part["c"] == "zlib":
            data.append(bytearray(zlib.decompress(f.read(part["z"]))))
        else:
            buf = _buffer(part["n"])
            view = memoryview(buf).cast("B")
            got = 0
            while got < part["n"]:
                k = f.readinto(view[got:])
                if not k:
                    raise ValueError("artifact blob is truncated")
                got += k
            data.append(buf)
    return pickle.loads(data[0], buffers=data[1:])


def _buffer(n: int) -> bytearray:
    """A writeable buffer of ``n`` bytes. Large ones come from numpy.empty when numpy is there
    (large out-of-band buffers almost always belong to numpy, pandas or arrow objects): zeroing
    half a gigabyte first would cost as much as reading it."""
    if n >= UNINITIALISED_FROM:
        try:
            import numpy
        except ImportError:
            pass
        else:
            return numpy.empty(n, dtype=numpy.uint8)  # type: ignore[return-value]
    return bytearray(n)


def _codec(part: memoryview) -> str:
    n = part.nbytes
    if n < COMPRESS_FROM:
        return "raw"
    if n <= 3 * SAMPLE:
        sample = part
    else:  # beginning, middle and end: headers, bodies and padding can differ
        mid = n // 2
        sample = b"".join((part[:SAMPLE], part[mid : mid + SAMPLE], part[n - SAMPLE :]))
    return "zlib" if len(zlib.compress(sample, 1)) <= PAYS * len(sample) else "raw"


def _digest(parts: list[memoryview]) -> str:
    from blake3 import blake3

    h = blake3()
    for part in parts:
        h.update(struct.pack("<Q", part.nbytes))
        if part.nbytes >= THREADS_FROM:
            h2 = blake3(max_threads=blake3.AUTO)
            h2.update(part)
            h.update(h2.digest())
        else:
            h.update(part)
    return h.hexdigest()
