"""Where job outputs (and an import's uploaded file) are kept: a small interface whose
default, `DatabaseStorage`, keeps them in `job_output_chunk` rows, so any app server can
serve them with no shared disk.

Streamed both ways: a writer buffers up to CHUNK_BYTES and stores each full chunk in a
short transaction of its own (so a long render never holds a write transaction open);
a reader yields one chunk at a time from its own short-lived connections, so it keeps
working after the request's app context is gone (a streaming response).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from flask import Flask
from sqlalchemy import Engine, String, delete, func, insert, literal, select

from ..extensions import db, real_app
from ..models.job import JobOutputChunk

CHUNK_BYTES = 1024 * 1024
INPUT = 0  # the `attempt` that holds a job's input file


class OutputStorage(Protocol):
    """What job code needs from a store of job files (`part`: 0 input, n ≥ 1 attempt n)."""

    def writer(self, job_id: str, part: int) -> ChunkWriter: ...
    def read(self, job_id: str, part: int) -> Iterator[bytes]: ...
    def read_all(self, job_id: str, part: int) -> bytes: ...
    def delete(self, job_id: str, keep: int | None = None) -> int: ...
    def copy(self, source_job: str, target_job: str, part: int) -> None: ...


class ChunkWriter:
    """A write-only binary stream storing CHUNK_BYTES pieces as it goes."""

    def __init__(self, engine: Engine, job_id: str, part: int,
                 chunk_bytes: int | None = None) -> None:
        self.engine, self.job_id, self.part = engine, job_id, part
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.buffer = bytearray()
        self.seq = 0
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.size += len(data)
        while len(self.buffer) >= self.chunk_bytes:
            with memoryview(self.buffer) as view:
                piece = bytes(view[:self.chunk_bytes])
            del self.buffer[:self.chunk_bytes]
            self._store(piece)
            del piece
        return len(data)

    def _store(self, data: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(JobOutputChunk).values(job_id=self.job_id, attempt=self.part,
                                                       seq=self.seq, data=data))
        self.seq += 1

    def flush(self) -> None:
        """Store what is buffered now (a short final chunk once the file is complete)."""
        if self.buffer:
            self._store(bytes(self.buffer))
            self.buffer.clear()

    def close(self) -> None:
        """Store what is left; `chunks` and `size` then describe the whole file."""
        if not self.closed:
            if self.buffer or self.seq == 0:
                self._store(bytes(self.buffer))
                self.buffer.clear()
            self.closed = True

    @property
    def chunks(self) -> int:
        return self.seq


class DatabaseStorage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def writer(self, job_id: str, part: int) -> ChunkWriter:
        self.delete_part(job_id, part)  # what a killed run of this attempt left
        return ChunkWriter(self.engine, job_id, part)

    def read(self, job_id: str, part: int) -> Iterator[bytes]:
        """The stored file, one chunk at a time (each chunk read on a short connection)."""
        with self.engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(JobOutputChunk).where(
                JobOutputChunk.job_id == job_id, JobOutputChunk.attempt == part)) or 0
        for seq in range(count):
            with self.engine.connect() as conn:
                data = conn.scalar(select(JobOutputChunk.data).where(
                    JobOutputChunk.job_id == job_id, JobOutputChunk.attempt == part,
                    JobOutputChunk.seq == seq))
            if data is None:  # pruned meanwhile
                return
            yield bytes(data)

    def read_all(self, job_id: str, part: int) -> bytes:
        return b"".join(self.read(job_id, part))

    def delete_part(self, job_id: str, part: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(JobOutputChunk).where(JobOutputChunk.job_id == job_id,
                                                      JobOutputChunk.attempt == part))

    def delete(self, job_id: str, keep: int | None = None) -> int:
        """Drop the job's output chunks (all, or all but attempt `keep` and the input)."""
        stmt = delete(JobOutputChunk).where(JobOutputChunk.job_id == job_id)
        if keep is not None:
            stmt = stmt.where(JobOutputChunk.attempt.not_in([keep, INPUT]))
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def copy(self, source_job: str, target_job: str, part: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(JobOutputChunk).from_select(
                ["job_id", "attempt", "seq", "data"],
                select(literal(target_job, String(32)), JobOutputChunk.attempt,
                       JobOutputChunk.seq, JobOutputChunk.data)
                .where(JobOutputChunk.job_id == source_job, JobOutputChunk.attempt == part)))


def storage(app: Flask | None = None) -> OutputStorage:
    """The app's job file store (`app.extensions["job_storage"]` replaces the default)."""
    app = app or real_app()
    store = app.extensions.get("job_storage")
    if store is None:
        with app.app_context():
            store = DatabaseStorage(db.engine)
        app.extensions["job_storage"] = store
    return store
