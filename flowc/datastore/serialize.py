"""Artifact values to content-addressed blobs and back.

Pickle protocol 5 with out-of-band buffers: a numpy array or pandas frame pickles to a small
header plus its raw buffers, which are hashed and written straight from the object's memory and
read back into one fresh ``bytearray`` each (writeable, no intermediate copies). Each part is
compressed (zlib, fast level) only when a sample of it shrinks enough to pay for the CPU time;
random floats stay raw.

The key is a SHA-256 over the uncompressed parts, so equal values get one blob whatever the
compression decided. Large parts are hashed as a list of chunk digests, computed on every core.
"""

from __future__ import annotations

import hashlib
import json
import os
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
CHUNK = 8 * 1024 * 1024  # parts above this are hashed as chunk digests, in parallel


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
            buf = bytearray(part["n"])
            view = memoryview(buf)
            got = 0
            while got < part["n"]:
                k = f.readinto(view[got:])
                if not k:
                    raise ValueError("artifact blob is truncated")
                got += k
            data.append(buf)
    return pickle.loads(data[0], buffers=data[1:])


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
    h = hashlib.sha256()
    for part in parts:
        h.update(struct.pack("<Q", part.nbytes))
        if part.nbytes <= CHUNK:
            h.update(part)
        else:
            for d in _chunk_digests(part):
                h.update(d)
    return h.hexdigest()


def _chunk_digests(part: memoryview) -> list[bytes]:
    chunks = [part[i : i + CHUNK] for i in range(0, part.nbytes, CHUNK)]
    workers = min(len(chunks), os.cpu_count() or 1)
    if workers < 2:
        return [hashlib.sha256(c).digest() for c in chunks]
    from concurrent.futures import ThreadPoolExecutor  # hashlib releases the GIL

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: hashlib.sha256(c).digest(), chunks))
