"""``s3://bucket/prefix`` through botocore, the S3 client s3fs and boto3 are built on.

Why not s3fs here: importing it (aiobotocore, aiohttp) costs ~0.75 s, three times all the rest
of a ``flowc task``; plain botocore costs ~0.25 s. Configuration is botocore's own, so the
standard AWS variables and files apply unchanged (``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``,
``AWS_PROFILE``, ``~/.aws/credentials``, ``AWS_DEFAULT_REGION``...).

Fork-safe: a client is made per process (the executor forks its workers after the parent has
used the datastore); the loaded service model is shared through the session. Large writes are
multipart uploads of slices of the artifact's own buffers (never one joined copy), uploaded in
parallel; the object appears only when the upload completes, so a writer killed half-way leaves
nothing visible. Large reads are parallel ranged GETs straight into the caller's buffer.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flowc.datastore.storage import OPTIONS_VAR, Buffer, StorageError, storage_options

PART = 16 * 1024 * 1024  # multipart part and ranged-read chunk size
THREADS = 8  # parallel requests for one large object
HEAD = 1024 * 1024  # the first GET of a blob reads this much (all of a small blob)
OPTIONS = ("endpoint_url", "region_name", "profile", "addressing_style")  # $FLOWC_STORAGE_OPTIONS

_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or ~/.aws/credentials"
)


def missing_extra(url: str) -> StorageError:
    return StorageError(f"datastore {url}: S3 support is not installed; pip install 'flowc[s3]'")


class S3Storage:
    """An S3 bucket and prefix. Keys are ``/``-separated paths below the prefix."""

    def __init__(self, url: str):
        try:
            import botocore.session  # noqa: F401
        except ImportError:
            raise missing_extra(url) from None
        self.url = url.rstrip("/")
        rest = self.url[len("s3://") :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise StorageError(f"datastore {url}: name a bucket, like s3://bucket/prefix")
        self._prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        options = storage_options(self.url)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise StorageError(
                f"datastore {url}: {OPTIONS_VAR} has unknown option(s) {', '.join(unknown)} "
                f"for s3:// (known: {', '.join(OPTIONS)})"
            )
        self._options = options
        self._session: Any = None
        self._client: Any = None
        self._pid = -1

    # --- the client ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """This process's client: one made before a fork is never used after it."""
        if self._pid != os.getpid():
            import botocore.config
            import botocore.session

            opts = self._options
            s3 = (
                {"addressing_style": opts["addressing_style"]}
                if "addressing_style" in opts
                else None
            )
            try:
                if self._session is None:
                    self._session = botocore.session.Session(profile=opts.get("profile"))
                config = botocore.config.Config(
                    max_pool_connections=THREADS * 2,
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    s3=s3,
                )
                self._client = self._session.create_client(
                    "s3",
                    config=config,
                    endpoint_url=opts.get("endpoint_url"),
                    region_name=opts.get("region_name"),
                )
            except Exception as e:  # noqa: BLE001 - botocore's configuration errors
                raise self._error(e, "connect") from None
            self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def _call(self, op: str, **kw: Any) -> Any:
        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kw)
        except StorageError:
            raise
        except Exception as e:  # noqa: BLE001 - botocore errors are configuration, not bugs
            raise self._error(e, op, kw.get("Key")) from None

    def _error(self, e: BaseException, op: str, key: str | None = None) -> BaseException:
        return translate(e, self.url, op, key, self.bucket)

    # --- Storage ------------------------------------------------------------------------------

    def read(self, key: str) -> bytes:
        return self._call("get_object", Key=self._key(key))["Body"].read()

    def open_read(self, key: str) -> S3Reader:
        return S3Reader(self, self._key(key))

    def write(self, key: str, parts: Iterable[Buffer]) -> None:
        """One PUT for a small object; a multipart upload (visible only once complete) for a
        large one."""
        k = self._key(key)
        it = iter(parts)
        head: list[Buffer] = []
        size = 0
        for part in it:
            head.append(part)
            size += memoryview(part).nbytes
            if size >= PART:
                break
        else:
            self._call("put_object", Key=k, Body=b"".join(head))
            return
        self._multipart(k, _chunks([*head], it))

    def _multipart(self, key: str, chunks: Iterator[Buffer]) -> None:
        upload = self._call("create_multipart_upload", Key=key)["UploadId"]
        done: list[dict] = []
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                pending = []
                for n, chunk in enumerate(chunks, 1):
                    pending.append(pool.submit(self._part, key, upload, n, chunk))
                    if len(pending) >= THREADS:  # bounded: never more than this in flight
                        done.append(pending.pop(0).result())
                done.extend(f.result() for f in pending)
            self._call(
                "complete_multipart_upload",
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": done},
            )
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            except Exception:  # noqa: BLE001 - the original error matters, not this one
                pass
            raise

    def _part(self, key: str, upload: str, n: int, chunk: Buffer) -> dict:
        body = _Body(chunk)
        r = self._call("upload_part", Key=key, UploadId=upload, PartNumber=n, Body=body)
        return {"PartNumber": n, "ETag": r["ETag"]}

    def is_file(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except Exception as e:  # noqa: BLE001
            if _code(e) not in ("404", "NoSuchKey", "NotFound"):
                raise self._error(e, "head_object", self._key(key)) from None
        return False

    def exists(self, key: str) -> bool:
        if self.is_file(key):
            return True
        # a "folder": any key below it
        r = self._call("list_objects_v2", Prefix=self._key(key) + "/", MaxKeys=1)
        return bool(r.get("KeyCount"))

    def folder_version(self, key: str) -> int | None:
        return None  # object stores have no folder mtime: always list

    def listdir(self, key: str) -> list[str]:
        prefix = self._key(key).rstrip("/") + "/"
        names: set[str] = set()
        token: dict = {}
        while True:
            r = self._call("list_objects_v2", Prefix=prefix, Delimiter="/", **token)
            for p in r.get("CommonPrefixes", ()):
                names.add(p["Prefix"][len(prefix) :].rstrip("/"))
            for o in r.get("Contents", ()):
                names.add(o["Key"][len(prefix) :])
            if not r.get("IsTruncated"):
                break
            token = {"ContinuationToken": r["NextContinuationToken"]}
        return sorted(n for n in names if n and not n.startswith("."))

    def claim(self, key: str) -> bool:
        """A conditional PUT (``If-None-Match: *``): of two writers, exactly one creates it."""
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(f"{key}/.claimed"), Body=b"", IfNoneMatch="*"
            )
            return True
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            if _code(e) not in ("NotImplemented", "501"):
                raise self._error(e, "put_object", self._key(key)) from None
        # a server without conditional writes: the run id's random suffix keeps runs apart
        if self.is_file(f"{key}/.claimed"):
            return False
        self.write(f"{key}/.claimed", [b""])
        return True

    def check_writable(self) -> None:
        probe = self._key(f".probe.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        self._call("put_object", Key=probe, Body=b"")
        self._call("delete_object", Key=probe)


class _Body(io.RawIOBase):
    """A buffer as the seekable stream botocore wants (it rewinds to retry), without a copy."""

    def __init__(self, data: Buffer):
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._view.nbytes - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, n: int = -1) -> bytes:
        end = self._view.nbytes if n is None or n < 0 else min(self._pos + n, self._view.nbytes)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._view.nbytes)[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return self._view.nbytes


def _chunks(head: list[Buffer], rest: Iterator[Buffer]) -> Iterator[Buffer]:
    """Parts of at least :data:`PART` bytes (except the last): slices of the given buffers
    where one is large enough, small neighbours joined."""
    pending: list[memoryview] = []
    size = 0

    def parts() -> Iterator[memoryview]:
        yield from (memoryview(p).cast("B") for p in head)
        yield from (memoryview(p).cast("B") for p in rest)

    for view in parts():
        while view.nbytes:
            take = min(view.nbytes, PART - size) if pending else view.nbytes
            if not pending and take >= PART:
                whole = (take // PART) * PART
                for i in range(0, whole, PART):
                    yield view[i : i + PART]
                view = view[whole:]
                continue
            pending.append(view[:take])
            size += take
            view = view[take:]
            if size >= PART:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


class S3Reader(io.RawIOBase):
    """A blob read as a file: the first GET fetches the header (all of a small blob); a large
    ``readinto`` fetches its range in parallel chunks straight into the caller's buffer."""

    def __init__(self, store: S3Storage, key: str):
        self._store = store
        self._key = key
        self._pos = 0
        self._head = b""
        self._size: int | None = None
        self._fetch_head()

    def _fetch_head(self) -> None:
        r = self._store._call("get_object", Key=self._key, Range=f"bytes=0-{HEAD - 1}")
        self._head = r["Body"].read()
        total = r.get("ContentRange", "").rpartition("/")[2]
        self._size = int(total) if total.isdigit() else len(self._head)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._size or 0)[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        size = self._size or 0
        n = size - self._pos if n is None or n < 0 else min(n, size - self._pos)
        buf = bytearray(max(n, 0))
        got = self.readinto(buf)
        return bytes(buf[:got]) if got != len(buf) else bytes(buf)

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        size = self._size or 0
        n = min(view.nbytes, size - self._pos)
        if n <= 0:
            return 0
        start, end = self._pos, self._pos + n
        done = 0
        if start < len(self._head):  # served from what the first GET brought
            k = min(end, len(self._head)) - start
            view[:k] = self._head[start : start + k]
            done = k
        if done < n:
            self._ranged(start + done, view[done:n])
        self._pos = end
        return n

    def _ranged(self, offset: int, view: memoryview) -> None:
        spans = [(i, min(i + PART, view.nbytes)) for i in range(0, view.nbytes, PART)]

        def fetch(span: tuple[int, int]) -> None:
            a, b = span
            r = self._store._call(
                "get_object", Key=self._key, Range=f"bytes={offset + a}-{offset + b - 1}"
            )
            body = r["Body"]
            got = a
            while got < b:
                data = body.read(min(b - got, 1 << 20))
                if not data:
                    raise StorageError(
                        f"datastore {self._store.url}: {self._key} ended early (a blob changed "
                        "or the store dropped the connection); run again"
                    )
                view[got : got + len(data)] = data
                got += len(data)

        if len(spans) == 1:
            fetch(spans[0])
            return
        with ThreadPoolExecutor(min(THREADS, len(spans))) as pool:
            list(pool.map(fetch, spans))

    def fileno(self) -> int:
        raise OSError("an S3 object has no file descriptor")


# --- errors -------------------------------------------------------------------------------------


def _code(e: BaseException) -> str:
    response = getattr(e, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate(
    e: BaseException, url: str, op: str, key: str | None = None, bucket: str | None = None
) -> BaseException:
    """A botocore error as one line naming the datastore and what to set. A missing key stays
    FileNotFoundError (readers expect it); anything else becomes :class:`StorageError`."""
    name = type(e).__name__
    code = _code(e)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if code in ("NoSuchKey", "404", "NotFound") and key is not None:
        return FileNotFoundError(2, "no such key", f"{url}/{key}")
    if name == "NoCredentialsError" or name == "PartialCredentialsError":
        why = f"no AWS credentials found; {_CREDENTIALS}"
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        where = endpoint or getattr(e, "kwargs", {}).get("endpoint_url") or "the S3 endpoint"
        why = (
            f"cannot reach {where}; set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) to the "
            "S3 server's address and check that it is running"
        )
    elif name == "ProfileNotFound":
        why = f"{e}; set AWS_PROFILE to a profile in ~/.aws/config or ~/.aws/credentials"
    elif code == "NoSuchBucket":
        why = (
            f"the bucket {bucket!r} does not exist; create it (aws s3 mb s3://{bucket}) or "
            "pick another with --datastore or FLOWC_DATASTORE"
        )
    elif code in ("AccessDenied", "403", "AllAccessDisabled"):
        why = (
            f"access denied ({op}); give these credentials read and write access to it, or "
            "use others (AWS_PROFILE, AWS_ACCESS_KEY_ID)"
        )
    elif code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        why = f"the credentials were rejected ({code}); {_CREDENTIALS}"
    elif name in ("NoRegionError",):
        why = "no AWS region; set AWS_DEFAULT_REGION"
    elif code:
        message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
        why = f"S3 said {code} on {op}: {message}".rstrip(": ")
    else:
        why = f"{op} failed: {name}: {' '.join(str(e).split())}"
    return StorageError(f"datastore {url}: {why}")
