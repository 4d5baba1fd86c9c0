"""The PostgreSQL journal's plumbing: a connection pool, the schema on first use, retries.

Each unit of work runs in one short transaction on a pooled connection. A connection lost
mid-call (a restarted server, a proxy dropping idle connections) is retried on a fresh one a
few times; the journal's writes are written to be safe to repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, TypeVar

import anyio

from .._errors import IcaTapisError
from .._redact import ambiguous_user_info, redact_url
from ._journal_rows import CHUNK_COLUMNS
from ._journal_rows import chunk_of as chunk_row
from ._journal_rows import run_of as run_row
from ._postgres_schema import migrate

__all__ = (
    "CHUNK_COLUMNS",
    "JournalUnavailableError",
    "NOW",
    "OUTCOME_COLUMNS",
    "RUN_COLUMNS",
    "PostgresStore",
    "chunk_row",
    "one",
    "run_row",
)

log = logging.getLogger("ica_tapis_async.journal")
T = TypeVar("T")

NOW: Final = "extract(epoch from clock_timestamp())::float8"
RUN_COLUMNS: Final = "run_id, kind, project_id, fingerprint, started, finished"
OUTCOME_COLUMNS: Final = (
    "run_id, idx, pos, kind, key, status, ok, info, batch_id, item_id, resubmitted, analysis_id"
)


class JournalUnavailableError(IcaTapisError):
    """The PostgreSQL journal cannot be used: its server cannot be reached (after the
    configured retries), or refuses the connection for good (no such database or role, bad
    password).

    Attributes:
        permanent: retrying cannot help (the URL or the credentials are wrong).
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled (a worker process's error) with its flag: the default passes only args.
        return (_unavailable, (str(self), self.permanent))


def _unavailable(message: str, permanent: bool) -> JournalUnavailableError:
    return JournalUnavailableError(message, permanent=permanent)


#: What a server says when retrying cannot help: the URL or the credentials are wrong.
_PERMANENT = (
    "does not exist",
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "permission denied",
)


async def one(conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of ``sql``'s result, or ``None``."""
    cursor = await conn.execute(sql, params)
    return await cursor.fetchone()


class PostgresStore:
    """A pool of connections to one database, with the journal's schema in it.

    Args: as :class:`PostgresJournal`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        retries: int = 4,
        stall_timeout: float = 5.0,
    ) -> None:
        if not isinstance(dsn, str) or not dsn.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"dsn must be a postgresql:// URL, not {redact_url(str(dsn))!r}")
        if min_size < 0 or max_size < 1 or min_size > max_size:
            raise ValueError(f"need 0 <= min_size <= max_size and max_size >= 1, not "
                             f"{min_size}, {max_size}")  # fmt: skip
        if not stall_timeout > 0:
            raise ValueError(f"stall_timeout must be > 0, not {stall_timeout!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, not {retries!r}")
        try:
            import psycopg
            import psycopg.conninfo
            import psycopg.errors
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise ImportError(
                "PostgresJournal needs psycopg 3: pip install 'ica_tapis_async[postgres]'"
            ) from exc
        self.url = redact_url(dsn)
        if (ambiguous := ambiguous_user_info(dsn)) is not None:
            raise ValueError(f"dsn {self.url!r}: {ambiguous}")
        try:
            # Parsed here, not by the pool: libpq's parse errors quote the whole URL, and the
            # pool logs them, password and all.
            psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            raise ValueError(f"dsn {self.url!r} is not a valid PostgreSQL URL") from None
        # A session the server ended for idling in a transaction (this process was frozen
        # past stall_timeout) is a lost connection too, though psycopg files it elsewhere.
        # So is a database that cannot write (a failover left the URL on a standby, which a
        # promotion may turn writable again): nothing was committed, and retrying is safe.
        self._retryable: tuple[type[BaseException], ...] = (
            psycopg.OperationalError,
            psycopg.errors.IdleInTransactionSessionTimeout,
            psycopg.errors.ReadOnlySqlTransaction,
        )
        self._lost = psycopg.OperationalError
        # A user who may connect but not create or use the journal's tables: no retry helps.
        self._refusals: tuple[type[BaseException], ...] = (psycopg.errors.InsufficientPrivilege,)
        self._check_connection = AsyncConnectionPool.check_connection
        self._retries = retries
        # How long one transaction may keep a caller's cancellation waiting (see _shielded):
        # well past the server-side stall limits below, so only a silent server reaches it.
        self._shield_s = max(10.0, 3 * stall_timeout)
        stall_ms = max(1, round(stall_timeout * 1000))
        self._dsn = dsn
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(connect_timeout)),
            # A worker frozen mid-transaction (SIGSTOP, a paused VM) would hold its chunk's
            # row lock, and SKIP LOCKED claimers would skip the chunk, for as long as it
            # stays frozen: the server ends such a session, and a fenced write stops
            # waiting for a row lock, after stall_timeout.
            "options": f"-c idle_in_transaction_session_timeout={stall_ms} "
            f"-c lock_timeout={stall_ms}",
        }
        self._pool: Any = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=connect_timeout,
            kwargs=self._connect_kwargs,
            check=self._check,
            name="ica_tapis_async.journal",
        )
        # Heartbeats and fenced writes have connections of their own: however many claims,
        # surveys and reads queue for the pool above (a slow server, a crowded fleet), a
        # worker's own leases are renewed and its batch ids recorded without waiting behind
        # them. Starving them is what turns a slow journal into lapsed leases and resends.
        self._priority_pool: Any = AsyncConnectionPool(
            dsn,
            min_size=min(min_size, 1),
            max_size=max(1, max_size // 2),
            open=False,
            timeout=connect_timeout,
            kwargs=self._connect_kwargs,
            check=self._check,
            name="ica_tapis_async.journal.leases",
        )
        self._ready = False
        self._opening = anyio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- use -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the pool and create or migrate the schema (once; later calls return at once)."""
        async with self._opening:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            if self._ready:
                return
            await self._first_connection()
            await self._pool.open(wait=False)
            await self._priority_pool.open(wait=False)
            async with self._pool.connection() as conn:
                try:
                    await migrate(conn)
                except self._refusals as exc:
                    raise self._refused(exc) from None
            self._ready = True

    async def _first_connection(self) -> None:
        """Connect once before the pool does, so that a wrong URL fails at once with the
        server's reason and an unreachable server after a few tries, not after the pool's
        timeout for every retry."""
        import psycopg

        attempt = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, **self._connect_kwargs)
            except psycopg.OperationalError as exc:
                reason = _first_line(exc)
                permanent = any(word in reason for word in _PERMANENT)
                attempt += 1
                if permanent or attempt > self._retries:
                    raise JournalUnavailableError(
                        f"journal {self.url}: cannot connect: {reason}", permanent=permanent
                    ) from None
                log.warning("journal %s: cannot connect (%s); retrying", self.url, reason)
                await anyio.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                await conn.close()
                return

    async def call(
        self,
        work: Callable[[Any], Awaitable[T]],
        retry_work: Callable[[Any], Awaitable[T]] | None = None,
        *,
        priority: bool = False,
    ) -> T:
        """Run ``work(conn)`` in one transaction; retried on a fresh connection if one drops.

        ``retry_work`` replaces ``work`` on retries, for a write that must recognise its own
        earlier commit (one whose answer the dropped connection lost). ``priority`` runs it on
        the connections kept for heartbeats and fenced writes.
        """
        attempt = 0
        while True:
            try:
                if not self._ready:  # the schema step meets dropped connections too
                    await self.open()
                pool = self._priority_pool if priority else self._pool
                async with pool.connection() as conn:
                    return await self._shielded(conn, work if not attempt else retry_work or work)
            except self._refusals as exc:
                raise self._refused(exc) from None
            except self._retryable as exc:
                if self._closed:
                    # Closed on purpose while this call waited: no connection will come back.
                    raise RuntimeError(f"{self!r} is closed") from None
                attempt += 1
                if attempt > self._retries:
                    raise await self._given_up(exc) from None
                log.warning(
                    "journal %s: %s (%s); retrying on a fresh connection",
                    self.url,
                    type(exc).__name__,
                    _first_line(exc),
                )
                await anyio.sleep(min(0.05 * 2**attempt, 1.0))

    def _refused(self, exc: BaseException) -> JournalUnavailableError:
        return JournalUnavailableError(
            f"journal {self.url}: refused: {_first_line(exc)}", permanent=True
        )

    async def _given_up(self, exc: BaseException) -> JournalUnavailableError:
        """The error of a call that ran out of retries: the server's reason, never the pool's
        bare timeout (which says only that no connection came)."""
        from psycopg_pool import PoolTimeout

        if not isinstance(exc, PoolTimeout):
            reason = _first_line(exc)
        else:
            # The pool keeps its connection errors to itself: connect once to learn why.
            reason = await self._reason_no_connection_came()
        permanent = any(word in reason for word in _PERMANENT)
        return JournalUnavailableError(
            f"journal {self.url}: unavailable after {self._retries + 1} tries: {reason}",
            permanent=permanent,
        )

    async def _reason_no_connection_came(self) -> str:
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(self._dsn, **self._connect_kwargs)
        except psycopg.OperationalError as probe:
            return f"cannot connect: {_first_line(probe)}"
        await conn.close()
        return "the server accepts connections, but none of the pool's came free in time"

    async def _shielded(self, conn: Any, work: Callable[[Any], Awaitable[T]]) -> T:
        return await _to_the_end(self._transaction(conn, work))

    async def _check(self, conn: Any) -> None:
        # The pool's check of a connection it hands out is a query too: run it to its end
        # like a transaction (a caller cancelled meanwhile gets the cancellation after it, and
        # the pool keeps the connection).
        await _to_the_end(self._checked(conn))

    async def _checked(self, conn: Any) -> None:
        with anyio.move_on_after(self._shield_s) as scope:
            await self._check_connection(conn)
        if scope.cancelled_caught:
            raise self._lost(f"no answer within {self._shield_s:g} s")

    async def _transaction(self, conn: Any, work: Callable[[Any], Awaitable[T]]) -> T:
        # Journal transactions are short; one the server does not finish within the deadline
        # is handled as a lost connection.
        deadline = anyio.current_time() + self._shield_s
        result: list[T] = []
        with anyio.CancelScope(deadline=deadline) as scope:
            async with conn.transaction():
                result.append(await work(conn))
        if scope.cancelled_caught or not result:
            raise self._lost(f"no answer within {self._shield_s:g} s")
        return result[0]

    async def aclose(self) -> None:
        """Close the pool's connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._pool.close()
        await self._priority_pool.close()


async def _to_the_end(step: Coroutine[Any, Any, T]) -> T:
    """Await ``step`` to its end even if the caller is cancelled meanwhile; the cancellation
    is raised after it.

    Cancelled mid-query, psycopg cancels the query on the server and, interrupted again (anyio
    delivers a cancellation at every await), closes the connection: a warning and a reconnect
    each time. So the step runs in a task of its own (an anyio shield alone does not stop
    asyncio's own ``task.cancel()``, Ctrl-C or ``asyncio.timeout``), and the wait for it is
    shielded (so anyio does not cancel it again and again meanwhile). Every step bounds its own
    time.
    """
    task = asyncio.ensure_future(step)
    cancelled: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError as exc:
                if task.cancelled():
                    raise  # the step's own task was cancelled (the loop is closing)
                cancelled = exc
            except BaseException:
                break  # the step failed: its error is raised below
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the caller's cancellation wins
        raise cancelled
    return task.result()


def _first_line(exc: BaseException) -> str:
    # libpq's messages can quote the connection string; show only what names the cause.
    text = str(exc).strip()
    return redact_url(text.splitlines()[0]) if text else type(exc).__name__
