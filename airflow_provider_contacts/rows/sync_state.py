"""The change-only sync state: per key, a fingerprint of the fields the vendor last accepted.

One embedded SQLite file (stdlib ``sqlite3``) per state, so memory stays flat at any number of
keys (a lookup is an index search on disk, never a dict of the whole state). The file lives at
a local path or any ObjectStoragePath URI; a task works on a private local copy and
:meth:`SyncState.commit` writes it back whole and atomically (a new local file renamed over the
old one; on object storage one upload, which the store makes visible only when complete), so a
crash at any point leaves the previous state valid.

Identity: a state belongs to (connection id, vendor host, key field, state name or URI). It is
written into the file, and a file of another identity is refused, so two DAGs (or two
connections) never read or overwrite each other's fingerprints.

Generations: each stored state carries a random generation. A run that finds, when it stores,
that another run stored the state after it read it (two writers at once) keeps the other
run's state without the keys it sent itself: those are sent again next run, never skipped. A
local state is checked and replaced under an exclusive lock on ``<state>.lock``, so two runs
storing at the same instant take turns; object storage has no lock (its ``.generation``
marker is checked just before the upload).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.outputs import URI_SCHEME
from airflow_provider_contacts.rows.refs import normalise_key
from airflow_provider_contacts.rows.spool import chunked

log = logging.getLogger(__name__)

FORMAT = "contacts-sync-state/1"
_CHUNK = 500  # keys per SQL statement (under SQLite's 999 variables of old builds)


def canonical(value: Any) -> Any:
    """The form a value is compared in: empty is None (vendors store "" as nothing), booleans
    and numbers as text (``True`` = ``1`` = ``"1"``), so a vendor's echo of what we sent
    fingerprints the same."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    return value if isinstance(value, str) else str(value)


def fingerprint(row: dict[str, Any], blank_is_missing: bool = False) -> bytes:
    """16 bytes identifying the row's fields and values (field order does not matter). With
    ``blank_is_missing`` (the hook sends an empty value as if the field were absent: Mautic's
    ``blank_values="keep"``), a field whose value is empty ("" or null) is left out, so a row
    holding it fingerprints like the same row without that column."""
    pairs = ([str(k), canonical(v)] for k, v in sorted(row.items(), key=lambda kv: str(kv[0])))
    text = json.dumps(
        [pair for pair in pairs if pair[1] is not None] if blank_is_missing else list(pairs),
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def state_identity(conn_id: str, host: str, key: str, name: str) -> dict[str, str]:
    return {"conn_id": conn_id, "host": host, "key": key, "name": name}


def default_location(base: str, identity: dict[str, str]) -> str:
    """``<base>/sync_state/<name>-<digest of the identity>.sqlite``."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", identity["name"])[:100] or "_"
    return f"{base.rstrip('/')}/sync_state/{name}-{digest}.sqlite"


def _local(location: str) -> str | None:
    if location.startswith("file://"):
        return location[len("file://") :]
    return None if URI_SCHEME.match(location) else location


def _state_file_problem(path: str) -> str | None:
    """What makes the local copy of a stored state unusable, or None: empty, not an SQLite
    file, damaged or truncated (``pragma quick_check``: every page read once), or an SQLite file
    without a sync state's tables."""
    if os.path.getsize(path) == 0:
        return "the file is empty (0 bytes)"
    try:
        with closing(sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)) as db:
            check = db.execute("pragma quick_check(1)").fetchone()[0]
            tables = {name for (name,) in db.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return f"it is not a readable SQLite file ({exc}: damaged or truncated)"
    if check != "ok":
        return f"it is damaged or truncated (SQLite: {check})"
    if not {"meta", "state"} <= tables:
        return f"it is an SQLite file but not a sync state (tables: {', '.join(sorted(tables)) or 'none'})"
    return None


@contextmanager
def _write_lock(local: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<state>.lock`` while a local state is checked and replaced:
    a second run storing the same state waits, then finds the first one's generation. The
    kernel releases it when the process ends, a crash included. No lock where ``fcntl`` is
    missing (Windows, where Airflow does not run workers)."""
    os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        yield
        return
    with open(f"{local}.lock", "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class SyncState:
    """A working copy of one state. ``open`` reads the stored file (or starts empty), checks
    its identity; the operator then asks :meth:`changed` for the rows to send, reports each
    sent row with :meth:`settle`, and :meth:`commit` stores the fingerprints of the accepted
    rows. ``close`` removes the working copy."""

    def __init__(
        self,
        location: str,
        identity: dict[str, str],
        tmp_dir: str | None = None,
        *,
        blank_is_missing: bool = False,
    ) -> None:
        self.location = location
        self.identity = identity
        #: fingerprints leave empty values out (see :func:`fingerprint`)
        self.blank_is_missing = blank_is_missing
        self._dir = tempfile.mkdtemp(prefix="contacts-sync-state-", dir=tmp_dir)
        self.path = os.path.join(self._dir, "state.sqlite")
        self.existed = self._download(self.path)
        if self.existed:
            self._check_stored_file()
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            "pragma journal_mode=delete; pragma synchronous=off; pragma temp_store=file;"
            "create table if not exists meta (name text primary key, value text) without rowid;"
            "create table if not exists state (key text primary key, fp blob not null) without rowid;"
            "create temp table seen (key text primary key) without rowid;"
            "create temp table sent (key text primary key) without rowid;"
        )
        self._check_identity()
        self._generation = self._meta("main", "generation")
        self.unchanged = 0
        self.accepted = 0
        self._pending: dict[int, tuple[str, bytes]] = {}
        self._seen: list[tuple[str]] = []
        self.db.execute("begin")

    # ---- storage ------------------------------------------------------------------------
    def _download(self, dest: str) -> bool:
        local = _local(self.location)
        if local is not None:
            if not os.path.exists(local):
                return False
            shutil.copyfile(local, dest)
            return True
        from airflow.sdk import ObjectStoragePath

        source = ObjectStoragePath(self.location)
        if not source.exists():
            return False
        with source.open("rb") as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return True

    def _check_stored_file(self) -> None:
        """The stored state, read before any request: a file that is empty, truncated, damaged
        or not a sync state is refused, naming the state and the fix (SQLite would take an
        empty file for a new database and the run would send every row, then fail to store)."""
        problem = _state_file_problem(self.path)
        if problem is None:
            return
        self.close()
        raise ContactsConfigError(
            f"sync_state {self.location!r} cannot be used: {problem}. Nothing was sent. Delete it: the next run "
            "sends every row again and stores a new state (with sync_state_bootstrap='vendor' the next run "
            "rebuilds it from the vendor's contacts instead, sending only the rows that differ)"
        )

    def _meta(self, schema: str, name: str) -> str | None:
        row = self.db.execute(f"select value from {schema}.meta where name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _stored_generation(self) -> str | None:
        """The generation of the state stored now: another writer may have stored one since
        this run read it. Local: read from the file; object storage: its ``.generation`` marker."""
        local = _local(self.location)
        if local is not None:
            if not os.path.exists(local):
                return None
            try:
                with closing(
                    sqlite3.connect(f"{Path(os.path.abspath(local)).as_uri()}?mode=ro", uri=True)
                ) as db:
                    row = db.execute("select value from meta where name = 'generation'").fetchone()
            except sqlite3.DatabaseError as exc:  # damaged since this run read it: replaced by this run's
                log.warning(
                    "sync state %s is no longer readable (%s); storing this run's state over it", local, exc
                )
                return self._generation
            return row[0] if row else None
        from airflow.sdk import ObjectStoragePath

        marker = ObjectStoragePath(self.location + ".generation")
        return marker.read_text().strip() if marker.exists() else None

    def _rebase(self) -> None:
        """Another run stored this state since this one read it (two writers at once): start
        from the stored state without every key this run sent, whose last write at the vendor
        is now unknown, so the next run sends them again."""
        other = os.path.join(self._dir, "stored.sqlite")
        if not self._download(other):
            return
        log.warning(
            "sync state %s was stored by another run while this one ran (one writer at a time, please): "
            "keeping the other run's fingerprints, without the keys this run sent, which the next run sends again",
            self.location,
        )
        try:
            self.db.execute("attach database ? as other", (other,))
            try:
                self.db.execute("begin")
                if self._meta("other", "identity") == json.dumps(self.identity, sort_keys=True):
                    self.db.execute("delete from main.state")
                    self.db.execute(
                        "insert into main.state select key, fp from other.state where key not in (select key from sent)"
                    )
                self.db.execute("commit")
            finally:
                if self.db.in_transaction:
                    self.db.execute("rollback")
                self.db.execute("detach database other")
        except sqlite3.DatabaseError as exc:  # the stored one is damaged: this run's state replaces it
            log.warning(
                "sync state %s is not readable (%s); storing this run's state over it", self.location, exc
            )
        finally:
            os.remove(other)

    def _check_identity(self) -> None:
        stored = dict(self.db.execute("select name, value from meta").fetchall())
        mine = json.dumps(self.identity, sort_keys=True)
        if not stored:
            self.db.executemany("insert into meta values (?, ?)", [("format", FORMAT), ("identity", mine)])
            return
        if stored.get("format") != FORMAT or stored.get("identity") != mine:
            self.close()
            raise ContactsConfigError(
                f"sync_state {self.location!r} belongs to another sync ({stored.get('identity') or stored.get('format')}), "
                f"not to {mine}: a state is keyed by connection, host, key field and state name; give this task "
                "its own sync_state"
            )

    def commit(self) -> None:
        """Store the state: written whole to a new file, then renamed over the old one (local)
        or uploaded as one object; the previous state stays valid until then. A local state is
        checked and replaced under its write lock, so two runs storing it at once take turns."""
        self.db.execute("commit")
        local = _local(self.location)
        if local is not None:
            with _write_lock(local):
                self._store(local)
        else:
            self._store(None)
        self.db.execute("begin")
        log.info("sync state stored at %s (%d keys)", self.location, self.size())

    def _store(self, local: str | None) -> None:
        if self._stored_generation() != self._generation:
            self._rebase()
        generation = secrets.token_hex(8)
        self.db.execute("insert or replace into meta values ('generation', ?)", (generation,))
        if local is not None:
            partial = f"{local}.partial-{os.getpid()}"
            try:
                shutil.copyfile(self.path, partial)
                os.replace(partial, local)
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
        else:
            from airflow.sdk import ObjectStoragePath

            target = ObjectStoragePath(self.location)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            ObjectStoragePath(self.location + ".generation").write_text(generation)
        self._generation = generation

    def close(self) -> None:
        try:
            self.db.close()
        except (AttributeError, sqlite3.Error):
            pass
        shutil.rmtree(self._dir, ignore_errors=True)

    # ---- reading and updating -----------------------------------------------------------
    def size(self) -> int:
        return self.db.execute("select count(*) from state").fetchone()[0]

    def see(self, key: str) -> None:
        """Note that a row of this run names ``key`` (accepted or not): it has not vanished."""
        self._seen.append((key,))
        if len(self._seen) >= _CHUNK:
            self.flush_seen()

    def flush_seen(self) -> None:
        self.db.executemany("insert or ignore into seen values (?)", self._seen)
        self._seen = []

    def load(self, pairs: Iterable[tuple[str, bytes]]) -> int:
        """Put the (key, fingerprint) pairs whose key this run has seen in the state (a
        bootstrap from the vendor: its other contacts never were in the source); returns how many."""
        self.flush_seen()
        self.db.execute(
            "create temp table if not exists vendor (key text primary key, fp blob) without rowid"
        )
        for chunk in chunked(pairs, _CHUNK):
            self.db.executemany("insert or replace into vendor values (?, ?)", chunk)
        cursor = self.db.execute(
            "insert or replace into state select v.key, v.fp from vendor v join seen s on s.key = v.key"
        )
        self.db.execute("drop table vendor")
        return cursor.rowcount

    def changed(
        self, items: Iterable[tuple[int, Any]], key: str, *, every_row: bool = False
    ) -> Iterator[tuple[int, Any]]:
        """The ``(index, row)`` items whose fingerprint differs from the state's (or is new);
        the others are counted in ``unchanged``. ``every_row`` (a full sync) lets every item
        through, each fingerprint stored once the vendor accepts it."""
        blank_is_missing = self.blank_is_missing
        for chunk in chunked(items, _CHUNK):
            keyed = [
                (index, row, normalise_key(key, row.get(key)) or "", fingerprint(row, blank_is_missing))
                for index, row in chunk
            ]
            if every_row:
                for index, row, k, fp in keyed:
                    self._pending[index] = (k, fp)
                    yield index, row
                continue
            keys = [k for _, _, k, _ in keyed]
            marks = ",".join("?" * len(keys))
            known = dict(
                self.db.execute(f"select key, fp from state where key in ({marks})", keys).fetchall()
            )
            for index, row, k, fp in keyed:
                if known.get(k) == fp:
                    self.unchanged += 1
                    continue
                self._pending[index] = (k, fp)
                yield index, row

    def settle(self, index: int, accepted: bool) -> None:
        """The vendor's answer for a row :meth:`changed` let through: its fingerprint is stored
        only when accepted (a rejected row is sent again next run)."""
        key, fp = self._pending.pop(index)
        if accepted:
            self.db.execute("insert or replace into state values (?, ?)", (key, fp))
            self.db.execute("insert or ignore into sent values (?)", (key,))
            self.accepted += 1

    def removed(self) -> Iterator[str]:
        """Keys in the state that no row of this run named, in key order."""
        self.flush_seen()
        last = ""
        while True:
            rows = self.db.execute(
                "select key from state where key > ? and key not in (select key from seen) order by key limit ?",
                (last, 1000),
            ).fetchall()
            if not rows:
                return
            for (k,) in rows:
                yield k
            last = rows[-1][0]

    def forget(self, keys: Iterable[str]) -> None:
        self.db.executemany("delete from state where key = ?", ((k,) for k in keys))

    def count_removed(self) -> int:
        """How many keys :meth:`removed` yields."""
        self.flush_seen()
        return self.db.execute(
            "select count(*) from state where key not in (select key from seen)"
        ).fetchone()[0]

    def forget_removed(self) -> int:
        """Forget every key :meth:`removed` yields (once they were reported); returns how many."""
        self.flush_seen()
        return self.db.execute("delete from state where key not in (select key from seen)").rowcount
