"""Artifact values to content-addressed blobs and back.

Pickle protocol 5 with out-of-band buffers: a numpy array or pandas frame pickles to a small
header plus its raw buffers, which are hashed and written straight from the object's memory.
Reading maps a large buffer copy-on-write from the blob file (writeable, nothing copied until
the step writes to it) or reads it into one fresh buffer; there are no intermediate copies. Each part is
compressed (zlib, fast level) only when a sample of it shrinks enough to pay for the CPU time;
random floats stay raw.

The key is a BLAKE3 digest of the uncompressed parts, so equal values get one blob whatever the
compression decided. BLAKE3 is a cryptographic hash several times faster than SHA-256 and uses
every core on large parts: hashing is most of the cost of storing a big array, and a loaded
array is hashed again when its task ends (to tell whether the step changed it).
"""

from __future__ import annotations

import json
import mmap
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
MAP_FROM = 4 * 1024 * 1024  # raw parts above this are mapped from the file, not read
ALIGN = 64  # parts start at multiples of this in a blob file (aligned arrays when mapped)
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
        prefix = MAGIC + struct.pack("<I", len(header)) + header
        yield prefix
        pos = len(prefix)
        for part in stored:
            pad = -pos % ALIGN
            if pad:
                yield bytes(pad)
            yield part
            pos += pad + (len(part) if isinstance(part, bytes) else part.nbytes)


def _pickle(obj: Any) -> tuple[bytes, list[memoryview]]:
    """The pickle stream and the large contiguous buffers kept out of it."""
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

    return pickle.dumps(obj, protocol=5, buffer_callback=out_of_band), buffers


def serialize(obj: Any) -> Serialized:
    try:
        main, buffers = _pickle(obj)
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


@dataclass
class Loaded:
    """What a load remembers so the task can tell, when it ends, whether the step changed the
    value: its pickle stream and the mapped regions its large buffers live in."""

    main: bytes
    regions: list[tuple[int, int]]  # (address, length) of every out-of-band buffer
    mapped: bool  # every out-of-band buffer is a copy-on-write file mapping


def deserialize(f: BinaryIO) -> Any:
    return load(f)[0]


def load(f: BinaryIO) -> tuple[Any, Loaded]:
    head = f.read(len(MAGIC) + 4)
    if head[: len(MAGIC)] != MAGIC:
        raise ValueError("not a flowc artifact blob")
    (n,) = struct.unpack("<I", head[len(MAGIC) :])
    parts = json.loads(f.read(n))["parts"]
    pos = len(MAGIC) + 4 + n
    data = []
    for part in parts:
        pad = -pos % ALIGN
        if pad:
            f.read(pad)
        pos += pad + part["z"]
        if part["c"] == "zlib":
            data.append(bytearray(zlib.decompress(f.read(part["z"]))))
            continue
        mapped = _map(f, pos - part["z"], part["n"]) if part["n"] >= MAP_FROM else None
        if mapped is not None:
            data.append(mapped)
            f.seek(pos)
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
    mapped = all(isinstance(d, memoryview) for d in data[1:])
    regions = [(_address(d), _nbytes(d)) for d in data[1:]] if mapped else []
    value = pickle.loads(data[0], buffers=data[1:])
    return value, Loaded(bytes(data[0]), regions, mapped and None not in (a for a, _ in regions))


def unchanged(value: Any, loaded: Loaded) -> bool:
    """True only when ``value`` is certainly what was loaded: the same pickle stream over the
    same mapped buffers, none of whose pages the step has written (Linux tells which pages of a
    private file mapping were copied on write). False means "hash it again", never wrong."""
    if not loaded.mapped or not loaded.regions:
        return False
    try:
        main, buffers = _pickle(value)
    except Exception:  # noqa: BLE001 - let the normal path report it
        return False
    if main != loaded.main or [(_address(b), b.nbytes) for b in buffers] != loaded.regions:
        return False
    return not any(_written(addr, n) for addr, n in loaded.regions)


def _nbytes(buf: Any) -> int:
    return memoryview(buf).nbytes


def _address(buf: Any) -> int | None:
    try:
        import numpy
    except ImportError:
        return None
    return int(numpy.frombuffer(buf, dtype=numpy.uint8).ctypes.data)


_PAGE = mmap.PAGESIZE


def _written(addr: int, n: int) -> bool:
    """Whether any page of a private file mapping holds data of its own: present but no longer
    the file's page (bit 61 clear), or swapped out (only private copies are). When the page map
    cannot be read, say yes."""
    import numpy

    first, last = addr // _PAGE, (addr + n - 1) // _PAGE
    try:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(first * 8)
            data = f.read((last - first + 1) * 8)
    except OSError:
        return True
    if len(data) != (last - first + 1) * 8:
        return True
    entries = numpy.frombuffer(data, dtype=numpy.uint64)
    present = (entries >> numpy.uint64(63)) & numpy.uint64(1)
    swapped = (entries >> numpy.uint64(62)) & numpy.uint64(1)
    file_page = (entries >> numpy.uint64(61)) & numpy.uint64(1)
    return bool(numpy.any(swapped | (present & (file_page ^ numpy.uint64(1)))))


def _map(f: BinaryIO, start: int, n: int) -> memoryview | None:
    """A copy-on-write mapping of ``n`` bytes of the blob file at ``start``: the value's
    buffer comes straight from the page cache (nothing is read or copied until touched, and
    only pages the step writes get copied). Blobs never change once written, so this is safe.
    ``None`` when the file cannot be mapped (not a local file)."""
    try:
        fd = f.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    base = start - start % mmap.ALLOCATIONGRANULARITY
    try:
        mm = mmap.mmap(fd, start - base + n, offset=base, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):
        return None
    return memoryview(mm)[start - base : start - base + n]


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
