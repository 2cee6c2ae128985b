"""The SQLite connection under every part of the store: WAL mode, one connection,
short transactions, errors from sqlite3 translated to StoreError.

:meth:`Database.batch` makes the writes of a whole batch of work one transaction (the
stories stage: a batch of matches, their stories and outbox rows): each write inside it
is a savepoint, atomic on its own as outside a batch, and all of them are durable, or
none, when the batch commits. The thread holding a batch holds the store."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from monitor.errors import StoreError
from monitor.store.schema import MIGRATIONS

log = logging.getLogger("monitor.store")


class Database:
    """Open with ``Store(path)``; use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()  # re-entered by the writes of a batch
        self._batch = 0  # depth of the open batches of this connection
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
            if self.path != ":memory:":
                info = os.stat(self.path)
                self._identity = (info.st_dev, info.st_ino)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows a read returns, read under the connection's lock."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row a read returns (None if none), read under the lock."""
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._batch:  # one write inside a batch: undone alone if it fails
                with self._undoable("SAVEPOINT write", ("ROLLBACK TO write", "RELEASE write"),
                                    "RELEASE write"):  # fmt: skip
                    yield self._db
                return
            with self._undoable("BEGIN IMMEDIATE", ("ROLLBACK",), "COMMIT"):
                yield self._db

    @contextmanager
    def _undoable(self, begin: str, undo: Sequence[str], end: str) -> Iterator[None]:
        """``begin``, the body, then ``end``; ``undo`` if the body raises. A database
        error is a :class:`StoreError` naming the file."""
        try:
            self._db.execute(begin)
            try:
                yield
            except BaseException:
                for statement in undo:
                    self._db.execute(statement)
                raise
            self._db.execute(end)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction, committed at the end (see the module
        docstring); an exception out of it rolls them all back. Nested: the outer one."""
        with self._lock:
            if self._batch:
                self._batch += 1
                try:
                    yield
                finally:
                    self._batch -= 1
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.path}: {exc}") from exc
            self._batch = 1
            try:
                yield
            except BaseException:
                self._batch = 0
                self._rollback()
                raise
            self._batch = 0
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"store {self.path}: {exc}") from exc

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the transaction is gone already (SQLite rolled it back itself)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if current > len(MIGRATIONS):
            raise StoreError(
                f"store {self.path} has schema {current}, newer than this newsmon "
                f"({len(MIGRATIONS)}); upgrade newsmon or use another state path"
            )
        for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            self._db.execute("BEGIN IMMEDIATE")
            for statement in statements:
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {version}")
            self._db.execute("COMMIT")

    def intact(self) -> bool:
        """Whether the state file's path still names the file this store has open: a
        state file deleted or replaced under a running daemon would take every write
        to a file nobody will ever read again."""
        if self._identity is None:
            return True
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def writable(self) -> bool:
        """Whether a write goes through now, to the file at the state path (/readyz)."""
        if not self.intact():
            return False
        try:
            with self._tx() as db:
                db.execute("PRAGMA user_version = " + str(len(MIGRATIONS)))
            return True
        except StoreError:
            return False


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def retention_cutoff(days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


class StateLock:
    """An exclusive lock beside the state file (``<state>.lock``), held by the daemon
    while it runs, so two daemons never share one state file (both would poll and
    alert). Released by the kernel however the process ends, so a crash never leaves
    it stale. Readers (``newsmon alerts``) take no lock: SQLite serialises writes."""

    def __init__(self, state_path: str) -> None:
        self.path = f"{state_path}.lock"
        self._fd: int | None = None

    def __enter__(self) -> StateLock:
        if self.path.startswith(":memory:"):
            return self
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the state lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"the state file {self.path.removesuffix('.lock')} is in use by another newsmon"
                f" (pid {holder}); stop that one, or give this one its own state.path"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


async def watch_intact(store: Database, every: float = 5.0) -> None:
    """Say once when the state file is deleted or replaced under the daemon (its
    writes would go to a file nobody reads again; /readyz turns not ready)."""
    intact = True
    while True:
        await asyncio.sleep(every)
        if store.intact() != intact:
            intact = not intact
            if intact:
                log.info("state_file_back path=%s", store.path)
            else:
                log.error("state_file_gone path=%s (deleted or replaced while running:"
                          " what newsmon writes now is lost; restart it)", store.path)  # fmt: skip
