"""Change-only sync for the upsert: its arguments checked up front, the state located and
opened for the task, the optional bootstrap from the vendor, and what happens to keys that
vanished from the source (``on_removed``). The fingerprints themselves: ``rows/sync_state.py``."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_contacts._args import as_bool, is_template
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.outputs import open_text, output_path, storage_base
from airflow_provider_contacts.rows.refs import normalise_key
from airflow_provider_contacts.rows.rejects import allowed_by, parse_max_rejected
from airflow_provider_contacts.rows.spool import chunked
from airflow_provider_contacts.rows.sync_state import (
    SyncState,
    default_location,
    fingerprint,
    state_identity,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

ON_REMOVED = ("ignore", "do_not_contact", "report")
BOOTSTRAP = (None, "vendor")
#: ``max_removed`` when not given: at most 10 % of the state's keys opted out by one run
MAX_REMOVED = 0.1


def run_options(
    only_changed: bool, on_removed: str, full_sync: Any, max_removed: Any
) -> tuple[bool, int | float]:
    """``full_sync`` and ``max_removed`` as rendered (both templated, e.g. from the trigger
    form), checked: (full sync?, the do-not-contact limit)."""
    full = as_bool(full_sync, "full_sync")
    if full and not only_changed:
        raise ContactsConfigError(
            "full_sync=True only applies with only_changed=True (without it every row is sent anyway)"
        )
    if max_removed is not None and on_removed != "do_not_contact":
        raise ContactsConfigError(
            f"max_removed only applies with on_removed='do_not_contact' (got on_removed={on_removed!r}): "
            "reporting or ignoring vanished keys changes nothing at the vendor"
        )
    limit = (
        MAX_REMOVED
        if max_removed is None
        else parse_max_rejected(max_removed, "max_removed", "the state's keys")
    )
    return full, limit


def check_arguments(
    only_changed: Any,
    sync_state: Any,
    bootstrap: Any,
    on_removed: Any,
    key: Any,
    full_sync: Any = False,
    max_removed: Any = None,
) -> None:
    """The change-only arguments, refused when the task is built (before any request);
    ``full_sync`` and ``max_removed`` again once rendered (:func:`run_options`)."""
    if not isinstance(only_changed, bool):
        raise ContactsConfigError(f"only_changed={only_changed!r}: use True or False")
    if sync_state is not None and (not isinstance(sync_state, str) or not sync_state.strip()):
        raise ContactsConfigError(
            f"sync_state={sync_state!r}: give a state name (kept under [contacts] storage_base) or a path/URI"
        )
    if bootstrap not in BOOTSTRAP:
        raise ContactsConfigError(
            f"sync_state_bootstrap={bootstrap!r}: use None or 'vendor' (read the vendor's contacts on the first run)"
        )
    if on_removed not in ON_REMOVED:
        raise ContactsConfigError(f"on_removed={on_removed!r}: use one of {', '.join(map(repr, ON_REMOVED))}")
    given = [
        name
        for name, value, default in (
            ("sync_state", sync_state, None),
            ("sync_state_bootstrap", bootstrap, None),
            ("on_removed", on_removed, "ignore"),
        )
        if value != default
    ]
    if given and not only_changed:
        raise ContactsConfigError(
            f"{', '.join(given)} only apply with only_changed=True; set only_changed=True"
        )
    if only_changed and (not isinstance(key, str) or not key.strip()):
        raise ContactsConfigError(
            f"only_changed=True needs key to name the field that identifies a contact (got {key!r}), e.g. key='email'"
        )
    if (
        on_removed == "do_not_contact"
        and isinstance(key, str)
        and not is_template(key)
        and key.strip() != "email"
    ):
        raise ContactsConfigError(
            f"on_removed='do_not_contact' finds the vanished contacts by email, so it needs key='email' (got key={key!r})"
        )
    if not is_template(full_sync) and not is_template(max_removed):
        run_options(only_changed, on_removed, full_sync, max_removed)


def check_hook(hook: Any, bootstrap: str | None, on_removed: str, key: str) -> None:
    """What the vendor must be able to do, checked before any request."""
    if bootstrap == "vendor" and not callable(getattr(hook, "iter_contact_fields", None)):
        raise ContactsConfigError(
            f"sync_state_bootstrap='vendor' reads the vendor's current contacts, which {type(hook).__name__} cannot "
            "list with their fields (Mautic can); leave sync_state_bootstrap unset for this connection",
        )
    if on_removed == "do_not_contact":
        from airflow_provider_contacts.capabilities import DoNotContactCapable

        if not isinstance(hook, DoNotContactCapable):
            raise ContactsConfigError(
                f"on_removed='do_not_contact' needs a vendor with do-not-contact (Mautic); {type(hook).__name__} has "
                "none: use on_removed='report' or 'ignore'"
            )
        if key != "email":
            raise ContactsConfigError(
                f"on_removed='do_not_contact' finds the vanished contacts by email, so it needs key='email' (got key={key!r})"
            )


def open_state(context: Context, hook: Any, conn_id: str, key: str, sync_state: str | None) -> SyncState:
    """The task's state. Identity = connection id + the vendor's host (and path prefix) + key field + the state's
    name (``sync_state`` when it is a name, else ``<dag_id>.<task_id>[.<map_index>]``) or URI."""
    url = urlsplit(str(hook.base_url))
    host = url.netloc.lower() + url.path.rstrip("/")  # the instance: host and path prefix
    if sync_state and ("/" in sync_state or "\\" in sync_state):
        identity = state_identity(conn_id, host, key, sync_state)
        location = sync_state
    else:
        name = sync_state or _task_name(context)
        identity = state_identity(conn_id, host, key, name)
        location = default_location(storage_base(), identity)
    # Mautic's blank_values="keep": an empty value is sent as if the field were absent
    state = SyncState(location, identity, blank_is_missing=getattr(hook, "blank_is_missing", False) is True)
    log.info(
        "change-only sync: state %s (%s; %s)",
        location,
        "found" if state.existed else "new",
        json.dumps(identity, sort_keys=True),
    )
    return state


def _task_name(context: Context) -> str:
    ti = context.get("ti") or context.get("task_instance")
    map_index = getattr(ti, "map_index", -1)
    suffix = f".{map_index}" if isinstance(map_index, int) and map_index >= 0 else ""
    return f"{getattr(ti, 'dag_id', None) or 'dag'}.{getattr(ti, 'task_id', None) or 'task'}{suffix}"


def bootstrap(state: SyncState, hook: Any, key: str, columns: list[str]) -> int:
    """Fingerprint the vendor's current contacts over the input's columns (keyset paging by the
    hook), keeping those the input names; returns how many. A row whose values equal the
    vendor's is then not sent; a row lacking some of the columns is (never a missed change)."""
    fields = sorted(set(columns) | {key})

    def pairs():
        for values in hook.iter_contact_fields(fields):
            norm = normalise_key(key, values.get(key))
            if norm is not None:
                yield norm, fingerprint({f: values.get(f) for f in columns}, state.blank_is_missing)

    loaded = state.load(pairs())
    log.info("change-only sync: %d contacts of the input found in the vendor and fingerprinted", loaded)
    return loaded


def check_removed(state: SyncState | None, on_removed: str, max_removed: int | float, rows_read: int) -> None:
    """``on_removed="do_not_contact"``: refuse, before any change, a run that would opt out more
    of the state's keys than ``max_removed`` allows (a count, or a fraction of the state's keys
    rounded down), or any key at all when the source gave no row (a failed extract, far more
    often than an emptied audience). Reporting is harmless and never refused."""
    if state is None or on_removed != "do_not_contact":
        return
    removed, size = state.count_removed(), state.size()
    if not removed:
        return
    if rows_read == 0:
        raise ContactsConfigError(
            f"the source gave no rows, so on_removed='do_not_contact' would opt out all {removed} contacts of the "
            f"sync state {state.location!r}: refused whatever max_removed says (an empty source is far more often "
            "a failed extract than an emptied audience). Nothing was sent and the state is unchanged; check the "
            "source, or opt the contacts out with DoNotContactOperator if the audience really is empty"
        )
    allowed, shown = allowed_by(max_removed, size)
    if removed > allowed:
        raise ContactsConfigError(
            f"on_removed='do_not_contact' would opt out {removed} of the {size} contacts in the sync state "
            f"{state.location!r} (keys no row of this run names), more than max_removed ({shown}). Nothing was sent "
            f"and nobody opted out. If the source is right, raise max_removed for this run (e.g. max_removed={removed} "
            "or a fraction such as 0.5; templated, so a trigger form param can set it); else fix the source"
        )


def handle_removed(context: Context, state: SyncState, hook: Any, on_removed: str) -> dict[str, Any]:
    """Keys of the state no input row named: listed in ``removed.ndjson`` (``report``: the keys
    stay in the state until the task succeeds, :func:`forget_reported`, so a failed try's retry
    reports them again) or put on do-not-contact by email and forgotten; ``ignore`` keeps them."""
    if on_removed == "ignore":
        return {}
    if on_removed == "report":
        path = output_path(context, "removed.ndjson")
        count = 0
        with open_text(path, "w") as out:
            for chunk in chunked(state.removed(), 1000):
                out.write("".join(json.dumps({"key": k}) + "\n" for k in chunk))
                count += len(chunk)
        log.info("%d keys vanished from the source; listed in %s", count, path)
        return {"removed": count, "removed_path": path}
    counts = {"removed": 0, "removed_do_not_contact": 0, "removed_not_found": 0, "removed_failed": 0}
    for chunk in chunked(state.removed(), hook.dnc_batch_size):
        counts["removed"] += len(chunk)
        ids = hook.find_contact_ids_by_email(chunk)
        counts["removed_not_found"] += len(chunk) - len(ids)
        by_id = {cid: email for email, cid in ids.items()}
        done = [k for k in chunk if k not in ids]
        if ids:
            for outcome in hook.set_do_not_contact(
                list(by_id), action="add", reason="manual", comments="removed from the sync source"
            ):
                if outcome.accepted:
                    counts["removed_do_not_contact"] += 1
                    done.append(by_id[outcome.contact_id])
                else:
                    counts["removed_failed"] += 1
                    log.warning("do-not-contact of a vanished contact refused: %s", outcome.message)
        state.forget(done)  # a refused one stays, and is tried again next run
    return counts


def forget_reported(state: SyncState | None, on_removed: str, summary: dict[str, Any]) -> None:
    """Once the task succeeded: the keys ``report`` listed leave the state (stored again)."""
    if state is None or on_removed != "report" or not summary.get("removed"):
        return
    forgotten = state.forget_removed()
    state.commit()
    log.info("the %d reported keys are forgotten by the state now that the task succeeded", forgotten)
