"""Release files being written: bytes hashed (sha256) and written to their sink on a background thread, in order.

One job: take the bytes of a release file as they are produced and pass them on — gathered into large pieces,
hashed and written by one background thread (``hashlib`` and file writes release the GIL, so hashing and writing
overlap with building the next text) — and give the file's sha256 and size for the manifest. At most
:data:`PENDING` pieces wait at a time, so memory stays bounded. It knows nothing about what the bytes mean.
"""

from __future__ import annotations

import hashlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import IO, Any

#: Writes smaller than this are gathered into one piece of at least this size before they go to the thread.
PIECE_BYTES = 1 << 20
#: Pieces handed to the thread and not yet written, per file, before ``write`` waits for the oldest.
PENDING = 2


class Writers:
    """The one background thread of a release's files (pieces run first in, first out: each file stays in order).

    A context manager: leaving it waits until every piece handed over is written (or has failed).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-release-write")

    def submit(self, out: Output, data: bytes | memoryview) -> Future[None]:
        return self._pool.submit(out.put, data)

    def __enter__(self) -> Writers:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        self._pool.shutdown(wait=True)


class Output:
    """A release file being written: bytes go on to ``sink`` (on the writers' thread); their sha256 and count are
    kept for the manifest. File-like enough for ``pyarrow.parquet.ParquetWriter`` (``write``, ``tell``, ``flush``).

    ``write`` keeps a reference to what it is given until it is written: pass bytes or views of immutable buffers.
    Call :meth:`entry` (or :meth:`drain`) before the sink is closed: it waits for the pending pieces.
    """

    closed = False

    def __init__(self, sink: IO[bytes], writers: Writers) -> None:
        self.sink, self.size, self._sha, self._writers = sink, 0, hashlib.sha256(), writers
        self._small = bytearray()
        self._pending: deque[Future[None]] = deque()

    def write(self, data: bytes | memoryview) -> int:
        n = memoryview(data).nbytes
        self.size += n
        if n < PIECE_BYTES:
            self._small += data
            if len(self._small) >= PIECE_BYTES:
                self._hand_over(bytes(self._small))
                self._small.clear()
        else:
            self._hand_over_small()
            self._hand_over(data)
        return n

    def put(self, data: bytes | memoryview) -> None:
        """Hash and write one piece (on the writers' thread)."""
        self._sha.update(data)
        self.sink.write(data)

    def _hand_over_small(self) -> None:
        if self._small:
            self._hand_over(bytes(self._small))
            self._small.clear()

    def _hand_over(self, data: bytes | memoryview) -> None:
        self._pending.append(self._writers.submit(self, data))
        while len(self._pending) > PENDING:
            self._pending.popleft().result()  # a failed write raises here, in the producing thread

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing to do: gathered bytes go to the thread when enough are there or at :meth:`drain`."""

    def drain(self) -> None:
        """Wait until every byte written so far is hashed and in the sink; a failed write raises here."""
        self._hand_over_small()
        while self._pending:
            self._pending.popleft().result()

    def entry(self, name: str) -> dict[str, Any]:
        self.drain()
        return {"path": name, "sha256": self._sha.hexdigest(), "bytes": self.size}
