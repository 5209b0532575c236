"""Write a file so that readers see the old content or the new, never a part: write a
temporary file beside it, then rename it into place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

Buffer = bytes | bytearray | memoryview


def write_atomic(path: str | os.PathLike[str], parts: Iterable[Buffer]) -> None:
    """Temporary names start with ``.`` so folder listings can skip them."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        f = open(tmp, "wb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        f = open(tmp, "wb")  # noqa: SIM115
    try:
        with f:
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
