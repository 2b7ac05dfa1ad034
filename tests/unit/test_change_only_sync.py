"""Change-only sync (``UpsertContactsOperator(only_changed=True)``) against the Mautic emulator:
exact batch requests per run, the state after rejections and crashes, state identity,
bootstrap from the vendor, vanished keys, and arguments refused before any request."""

from __future__ import annotations

import sqlite3

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.rows import sync_state as sync_state_module
from airflow_provider_contacts.rows.sync_state import SyncState, fingerprint, state_identity


def test_a_crash_while_the_state_file_is_written_keeps_the_old_file_valid(tmp_path, monkeypatch):
    location = str(tmp_path / "state.sqlite")
    identity = state_identity("c", "h", "email", "s")
    state = SyncState(location, identity)
    state.see("a")
    state.load([("a", b"1" * 16)])
    state.commit()
    state.close()
    state = SyncState(location, identity)
    state.load([])
    real_copy = sync_state_module.shutil.copyfile

    def torn(src, dst):
        with open(dst, "wb") as out:
            out.write(open(src, "rb").read()[:100])
        raise OSError("disk full")

    monkeypatch.setattr(sync_state_module.shutil, "copyfile", torn)
    with pytest.raises(OSError):
        state.commit()
    monkeypatch.setattr(sync_state_module.shutil, "copyfile", real_copy)
    state.close()
    with sqlite3.connect(location) as db:
        assert db.execute("select key, fp from state").fetchall() == [("a", b"1" * 16)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"only_changed": "yes"}, "only_changed='yes'"),
        ({"only_changed": True, "on_removed": "delete"}, "on_removed='delete'"),
        ({"only_changed": True, "sync_state_bootstrap": "warehouse"}, "sync_state_bootstrap='warehouse'"),
        ({"on_removed": "report"}, "on_removed only apply with only_changed=True"),
        ({"sync_state": "s"}, "sync_state only apply with only_changed=True"),
        ({"only_changed": True, "key": " "}, "only_changed=True needs key"),
        ({"only_changed": True, "sync_state": ""}, "sync_state=''"),
        ({"only_changed": True, "on_removed": "do_not_contact", "key": "phone"}, "needs key='email'"),
    ],
)
def test_bad_arguments_are_refused_when_the_task_is_built(kwargs, message):
    with pytest.raises(ContactsConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        UpsertContactsOperator(task_id="x", conn_id="mautic_default", rows=[], **kwargs)


def test_fingerprint_is_the_vendor_echo_of_what_was_sent():
    sent = {"email": "a@x.com", "newsletter": True, "lifetime_value": 5.0, "company": ""}
    echoed = {"company": None, "lifetime_value": 5, "newsletter": 1, "email": "a@x.com"}
    assert fingerprint(sent) == fingerprint(echoed)
    assert fingerprint(sent) != fingerprint({**echoed, "lifetime_value": 5.5})


@pytest.mark.parametrize("storage_kind", ["local", "object storage"])
def test_two_writers_at_once_keep_no_fingerprint_of_the_second_writers_keys(
    tmp_path, caplog, monkeypatch, storage_kind
):
    """Runs A and B read the same state; A stores first. B finds the state stored since it read
    it, so it keeps A's state without the keys B sent (their last write at the vendor is
    unknown): the next run sends them again."""
    location = str(tmp_path / "state.sqlite")
    if storage_kind == "object storage":  # through ObjectStoragePath and the .generation marker
        monkeypatch.setattr(sync_state_module, "_local", lambda location: None)
        location = f"file://{location}"
    identity = state_identity("c", "h", "email", "s")

    def run(state, emails, firstname):
        for index, _row in state.changed(
            [(i, {"email": e, "firstname": firstname}) for i, e in enumerate(emails)], "email"
        ):
            state.settle(index, accepted=True)

    base = SyncState(location, identity)
    run(base, ["a", "b", "c"], "base")
    base.commit()
    base.close()
    a, b = SyncState(location, identity), SyncState(location, identity)
    run(a, ["a"], "from A")
    a.commit()
    run(b, ["a", "b"], "from B")
    b.commit()
    a.close()
    b.close()
    assert "stored by another run while this one ran" in caplog.text
    with sqlite3.connect(str(tmp_path / "state.sqlite")) as db:
        assert db.execute("select key, fp from state").fetchall() == [
            ("c", fingerprint({"email": "c", "firstname": "base"}))
        ]
    # a third run reads B's state and stores without any warning
    caplog.clear()
    c = SyncState(location, identity)
    run(c, ["a", "b"], "from C")
    c.commit()
    c.close()
    assert "another run" not in caplog.text


def test_two_local_writers_storing_at_the_same_instant_take_turns(tmp_path):
    """B stores while A holds the state's write lock (A between its generation check and its
    rename): B waits for the lock, then sees A's generation and rebases; it does not replace
    the file A stored after B had checked."""
    import fcntl
    import threading

    location = str(tmp_path / "state.sqlite")
    identity = state_identity("c", "h", "email", "s")

    def run(state, email, firstname):
        for index, _row in state.changed([(0, {"email": email, "firstname": firstname})], "email"):
            state.settle(index, accepted=True)

    base = SyncState(location, identity)
    run(base, "a", "base")
    base.commit()
    base.close()
    a = SyncState(location, identity)
    run(a, "x", "from A")
    ready = threading.Event()

    def writer_b():  # SQLite connections stay in the thread that made them
        b = SyncState(location, identity)
        run(b, "a", "from B")
        ready.set()
        try:
            b.commit()
        finally:
            b.close()

    with open(f"{location}.lock", "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # A is inside its commit
        storing = threading.Thread(target=writer_b)
        storing.start()
        assert ready.wait(10)
        storing.join(timeout=1.0)
        assert storing.is_alive()  # B waits for the lock
        a.db.execute("commit")  # A's commit(), its lock being the one held here
        a._store(location)
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    storing.join(timeout=10)
    assert not storing.is_alive()
    a.close()
    with sqlite3.connect(location) as db:
        # A's key kept; "a", sent by B after A's run read it, is left for the next run to send
        assert db.execute("select key, fp from state").fetchall() == [
            ("x", fingerprint({"email": "x", "firstname": "from A"}))
        ]
