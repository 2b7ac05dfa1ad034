"""The bad-input catalogue: every bad argument, row, file or connection setting is the
provider's error naming the field (and the fix), and the sandbox receives no write request.

Each case builds a task (or hook call) against the running sandbox and runs it; the error
must be a :class:`ContactsError` (an ``AirflowException``; the config errors are also
``ValueError``), its message must contain the case's ``needle``, and no vendor may have
received a POST, PUT, PATCH or DELETE.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    RejectedRowsError,
    UnsupportedActionError,
)
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

VENDORS = ("mautic", "dmartech", "engagelab", "which50")
WINDOW = {"data_interval_start": "2026-11-01T00:00:00Z", "data_interval_end": "2026-11-02T00:00:00Z"}


def context(**extra: Any) -> Context:
    """The part of a task's context the operators read."""
    ti = SimpleNamespace(dag_id="catalogue", run_id="manual__1", task_id="t", map_index=-1, try_number=1)
    return cast("Context", {"ti": ti, "task_instance": ti, **extra})


def writes(sandbox) -> list[tuple[str, str, str]]:
    return [
        (vendor, r["method"], r["path"])
        for vendor in VENDORS
        for r in sandbox.requests(vendor)
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
    ]


class Env:
    """What a case may use: files, the sandbox's connections with a changed extra."""

    def __init__(self, sandbox, tmp_path, monkeypatch) -> None:
        self.sandbox, self.tmp, self.monkeypatch = sandbox, tmp_path, monkeypatch

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def conn(self, vendor: str, **extra: Any) -> str:
        base = self.sandbox.emulator(vendor).connection(self.sandbox.url)
        conn_id = f"bad_{vendor}"
        self.monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**base, "extra": {**base["extra"], **extra}})
        )
        return conn_id

    def rejects(self) -> str:
        return str(self.tmp / "rejects.ndjson")


def upsert(**kw: Any) -> Callable[[Env], Any]:
    return lambda env: UpsertContactsOperator(
        task_id="t", conn_id=kw.pop("conn_id", "mautic_default"), rejects_path=env.rejects(), **kw
    ).execute(context())


def dnc(**kw: Any) -> Callable[[Env], Any]:
    return lambda env: DoNotContactOperator(
        task_id="t",
        conn_id=kw.pop("conn_id", "mautic_default"),
        rejects_path=env.rejects(),
        **{"action": "add", **kw},
    ).execute(context())


def points(**kw: Any) -> Callable[[Env], Any]:
    return lambda env: AdjustPointGroupsOperator(
        task_id="t",
        conn_id="mautic_default",
        rejects_path=env.rejects(),
        ledger_path=str(env.tmp / "ledgers"),
        **kw,
    ).execute(context())


def activity(**kw: Any) -> Callable[[Env], Any]:
    ctx = kw.pop("context", WINDOW)
    return lambda env: FetchContactActivityOperator(
        task_id="t",
        conn_id=kw.pop("conn_id", "mautic_default"),
        output_path=str(env.tmp / "out.ndjson"),
        **kw,
    ).execute(context(**ctx))


def sensor(**kw: Any) -> Callable[[Env], Any]:
    ctx = kw.pop("context", WINDOW)
    return lambda env: ContactEventsSensor(
        task_id="t",
        conn_id=kw.pop("conn_id", "mautic_default"),
        deferrable=False,
        timeout=1,
        poke_interval=0.1,
        **kw,
    ).poke(context(**ctx))


def with_conn(vendor: str, action: Callable[..., Callable[[Env], Any]], extra: dict[str, Any], **kw: Any):
    return lambda env: action(conn_id=env.conn(vendor, **extra), **kw)(env)


ADJ = {"contact": 1, "group": 1, "op": "plus", "value": 1}
ROWS = [{"email": "fine@example.com"}]

# (id, case, needle in the message)
CONFIG_CASES: list[tuple[str, Callable[[Env], Any], str]] = [
    # upsert arguments and sources
    ("upsert-empty-key", upsert(rows=ROWS, key=" "), "key must name the field"),
    ("upsert-batch-size-0", lambda env: upsert(rows=ROWS, batch_size=0)(env), "batch_size=0"),
    (
        "upsert-concurrency-0",
        lambda env: upsert(rows=ROWS, max_active_requests=0)(env),
        "max_active_requests=0",
    ),
    ("upsert-max-rejected-1.5", lambda env: upsert(rows=ROWS, max_rejected=1.5)(env), "max_rejected=1.5"),
    ("upsert-max-rejected-negative", lambda env: upsert(rows=ROWS, max_rejected=-1)(env), "max_rejected=-1"),
    (
        "upsert-max-rejected-text",
        lambda env: upsert(rows=ROWS, max_rejected="some")(env),
        "max_rejected='some'",
    ),
    ("upsert-two-inputs", upsert(rows=ROWS, source_path="x.csv"), "give exactly one input"),
    ("upsert-no-input", upsert(), "give exactly one input: rows"),
    ("upsert-rows-not-json", upsert(rows="{nope"), "rows is a string but not a JSON list"),
    ("upsert-rows-not-a-list", upsert(rows=42), "rows must be a list of objects"),
    ("upsert-missing-file", lambda env: upsert(source_path=str(env.tmp / "none.ndjson"))(env), "source_path"),
    (
        "upsert-unknown-format",
        lambda env: upsert(source_path=env.file("rows.txt", "x"))(env),
        "set source_format",
    ),
    (
        "upsert-bad-source-format",
        lambda env: upsert(source_path=env.file("r.csv", "email\n"), source_format="xml")(env),
        "source_format 'xml'",
    ),
    ("upsert-sql-without-conn", upsert(source_sql="select 1"), "source_sql needs source_conn_id"),
    (
        "upsert-sql-unknown-conn",
        upsert(source_sql="select 1", source_conn_id="no_such_db"),
        "source_conn_id 'no_such_db'",
    ),
    (
        "upsert-empty-csv",
        lambda env: upsert(source_path=env.file("e.csv", ""))(env),
        "a CSV source needs a header line",
    ),
    (
        "upsert-empty-json",
        lambda env: upsert(source_path=env.file("e.json", ""))(env),
        "a .json source must be a JSON array",
    ),
    (
        "upsert-json-object",
        lambda env: upsert(source_path=env.file("o.json", '{"email": "a@b.c"}'))(env),
        "a .json source must be a JSON array",
    ),
    (
        "upsert-json-not-closed",
        lambda env: upsert(source_path=env.file("c.json", '[{"email": "a@b.c"}'))(env),
        "source_path",
    ),
    (
        "upsert-csv-bad-header",
        lambda env: upsert(source_path=env.file("h.csv", "email,,email\na,b,c\n"))(env),
        "the CSV header is not usable",
    ),
    (
        "upsert-csv-over-limit",
        lambda env: upsert(source_path=env.file("l.csv", "email,n\na@b.c," + "x" * 200_000 + "\n"))(env),
        "line 2 has a value longer than the CSV limit",
    ),
    (
        "upsert-not-utf8",
        lambda env: upsert(
            source_path=str((env.tmp / "b.ndjson").write_bytes(b'{"email": "\xff"}') and env.tmp / "b.ndjson")
        )(env),
        "is not UTF-8 text",
    ),
    ("upsert-hook-params-not-dict", upsert(rows=ROWS, hook_params=["x"]), "hook_params must be a dict"),
    (
        "upsert-hook-params-unknown",
        upsert(rows=ROWS, hook_params={"colour": "red"}),
        "hook_params ['colour']",
    ),
    (
        "upsert-key-not-unique-in-mautic",
        upsert(rows=[{"firstname": "A", "email": "a@b.co"}], key="firstname"),
        'key "firstname" is not a unique identifier',
    ),
    ("upsert-on-dmartech", upsert(conn_id="dmartech_default", rows=ROWS), "connection types that can"),
    ("upsert-unknown-conn", upsert(conn_id="no_such_conn", rows=ROWS), "no_such_conn"),
    # do-not-contact arguments
    ("dnc-action", dnc(rows=[1], action="block"), "action='block'"),
    ("dnc-reason-double-minus", lambda env: dnc(rows=[1], reason="--1")(env), "reason='--1'"),
    ("dnc-reason-superscript", lambda env: dnc(rows=[1], reason="²")(env), "reason='²'"),
    ("dnc-reason-zero", lambda env: dnc(rows=[1], reason=0)(env), "reason=0"),
    ("dnc-reason-word", lambda env: dnc(rows=[1], reason="spam")(env), "reason='spam'"),
    ("dnc-on-engagelab", dnc(conn_id="engagelab_default", rows=[1]), "connection types that can: mautic"),
    # point groups
    ("points-chunk-size-0", lambda env: points(rows=[ADJ], chunk_size=0)(env), "chunk_size=0"),
    (
        "points-ledger-path-is-a-file",
        lambda env: AdjustPointGroupsOperator(
            task_id="t", conn_id="mautic_default", rows=[ADJ], ledger_path=env.file("ledger.ndjson", "")
        ).execute(context()),
        "ledger_path",
    ),
    (
        "points-on-which50",
        lambda env: AdjustPointGroupsOperator(
            task_id="t", conn_id="which50_default", rows=[ADJ], rejects_path=env.rejects()
        ).execute(context()),
        "connection types that can: mautic",
    ),
    # activity
    (
        "activity-empty-window",
        activity(since="2026-11-20T00:00:00Z", until="2026-11-20T00:00:00Z"),
        "must be before until",
    ),
    (
        "activity-since-not-a-date",
        activity(since="yesterday"),
        "since='yesterday' is not an ISO 8601 date-time",
    ),
    (
        "activity-since-overflow",
        activity(since="0001-01-01T00:00:00+05:00"),
        "since='0001-01-01T00:00:00+05:00' is outside",
    ),
    (
        "activity-until-overflow",
        activity(until="9999-12-31T23:00:00-05:00"),
        "until='9999-12-31T23:00:00-05:00' is outside",
    ),
    ("activity-no-interval", activity(context={}), "since and until are needed"),
    (
        "activity-unknown-event-filter",
        activity(event_filters={"label": "vip"}),
        "event filter(s) 'label' are not filters of Mautic",
    ),
    (
        "activity-unknown-dmartech-filter",
        activity(conn_id="dmartech_default", event_filters={"label": "vip"}),
        "it takes: include_types, exclude_types, contact_ids, page_size, label_sn",
    ),
    ("activity-event-filters-not-dict", activity(event_filters="vip"), "event_filters must be a dict"),
    ("activity-page-size-0", lambda env: activity(page_size=0)(env), "page_size=0"),
    (
        "activity-page-size-which50",
        activity(conn_id="which50_default", page_size=10, contact_ids=["x"]),
        "event filter(s) 'page_size' are not filters of Which50",
    ),
    ("activity-event-types-number", activity(event_types=5), "event_types must be a list"),
    ("activity-which50-without-contacts", activity(conn_id="which50_default"), "give contact_ids"),
    # sensor
    ("sensor-min-events-0", sensor(min_events=0), "min_events=0"),
    ("sensor-min-events-text", sensor(min_events="many"), "min_events='many'"),
    ("sensor-min-events-fraction", sensor(min_events=2.5), "min_events=2.5"),
    ("sensor-since-not-a-date", sensor(since="last week"), "since='last week'"),
    (
        "sensor-since-overflow",
        sensor(since="0001-01-01T00:00:00+05:00"),
        "since='0001-01-01T00:00:00+05:00' is outside",
    ),
    (
        "sensor-window-reversed",
        sensor(since="2026-11-20T00:00:00Z", until="2026-11-19T00:00:00Z"),
        "must be before until",
    ),
    ("sensor-event-types-number", sensor(event_types=7), "event_types must be a list"),
    ("sensor-which50-without-contacts", sensor(conn_id="which50_default"), "give contact_ids"),
    # connection extras (checked when the hook first needs them, before any request)
    (
        "extra-timeout-word",
        lambda env: with_conn("mautic", upsert, {"timeout": "soon"}, rows=ROWS)(env),
        'extra field "timeout"',
    ),
    (
        "extra-max-retries-word",
        lambda env: with_conn("mautic", upsert, {"max_retries": "lots"}, rows=ROWS)(env),
        'extra field "max_retries"',
    ),
    (
        "extra-max-retries-negative",
        lambda env: with_conn("mautic", dnc, {"max_retries": -1}, rows=[1])(env),
        'extra field "max_retries"',
    ),
    (
        "extra-auth-type",
        lambda env: with_conn("mautic", upsert, {"auth_type": "magic"}, rows=ROWS)(env),
        'extra field "auth_type"',
    ),
    (
        "extra-verify-ssl",
        lambda env: with_conn("engagelab", upsert, {"allow_insecure_http": "perhaps"}, rows=ROWS)(env),
        'extra field "allow_insecure_http"',
    ),
    (
        "extra-timeout-nan",
        lambda env: with_conn("mautic", upsert, {"timeout": "nan"}, rows=ROWS)(env),
        'extra field "timeout"',
    ),
    (
        "extra-timeout-inf",
        lambda env: with_conn("which50", upsert, {"timeout": "inf"}, rows=ROWS)(env),
        'extra field "timeout"',
    ),
    (
        "extra-batch-limit-zero",
        lambda env: with_conn("mautic", upsert, {"batch_limit": 0}, rows=ROWS)(env),
        'extra field "batch_limit"',
    ),
    (
        "extra-page-size-huge",
        lambda env: with_conn("dmartech", activity, {"list_page_size": 10**9})(env),
        'extra field "list_page_size"',
    ),
    (
        "extra-which50-masked-header",
        lambda env: with_conn("which50", upsert, {"header_name": "***"}, rows=ROWS)(env),
        "header_name",
    ),
    (
        "extra-dmartech-timezone",
        lambda env: with_conn("dmartech", activity, {"timezone": "Mars/Olympus"})(env),
        "timezone",
    ),
]

ROW_CASES: list[tuple[str, Callable[[Env], Any], str]] = [
    ("row-nan", upsert(rows=[{"email": "n@example.com", "points": float("nan")}]), "field 'points' is nan"),
    (
        "row-infinity",
        upsert(rows=[{"email": "n@example.com", "points": float("inf")}]),
        "field 'points' is inf",
    ),
    (
        "row-nested-object",
        upsert(rows=[{"email": "n@example.com", "address1": {"city": "Oslo"}}]),
        "field 'address1' is an object",
    ),
    (
        "row-list-in-list",
        upsert(rows=[{"email": "n@example.com", "tags": [["a"]]}]),
        "field 'tags' is a list",
    ),
    ("row-set-value", upsert(rows=[{"email": "n@example.com", "tags": {"a"}}]), "field 'tags' is a set"),
    (
        "row-missing-key",
        # a row with the key, so that the source has the key column; nothing sent all the same
        upsert(rows=[{"email": "k@example.com"}, {"firstname": "No key"}], send_valid_rows=False),
        'missing key field "email"',
    ),
    ("row-bad-email", upsert(rows=[{"email": "a@@b"}]), "email 'a@@b' is not a valid address"),
    ("row-not-an-object", upsert(rows=["just text"]), "row is not an object"),
    ("row-dnc-no-reference", dnc(rows=[{"email": ""}]), 'row has no "id", "contact_id" or "email"'),
    ("row-dnc-negative-id", dnc(rows=[-4]), "contact id -4 is not valid"),
    ("row-points-double-sign", points(rows=[{**ADJ, "value": "--5"}]), "value '--5' is not an integer"),
    ("row-points-sign-mix", points(rows=[{**ADJ, "value": "+-3"}]), "value '+-3' is not an integer"),
    ("row-points-superscript", points(rows=[{**ADJ, "value": "²"}]), "value '²' is not an integer"),
    ("row-points-op", points(rows=[{**ADJ, "op": "pow"}]), "op 'pow' is not allowed"),
    ("row-points-divide-by-zero", points(rows=[{**ADJ, "op": "divide", "value": 0}]), "divide by zero"),
    ("row-points-missing", points(rows=[{**ADJ, "group": ""}]), "missing field(s) group"),
    ("row-points-unknown-group", points(rows=[{**ADJ, "group": "No such group"}]), "unknown group"),
    (
        "row-points-unknown-contact",
        points(rows=[{**ADJ, "contact": "ghost@example.com"}]),
        "contact not found",
    ),
]


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch) -> Env:
    return Env(sandbox, tmp_path, monkeypatch)


def test_the_catalogue_is_large_and_distinct():
    ids = [case[0] for case in CONFIG_CASES + ROW_CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, needle", [(c, n) for _, c, n in CONFIG_CASES], ids=[i for i, _, _ in CONFIG_CASES]
)
def test_bad_argument_source_or_setting(env, case, needle):
    with pytest.raises(ContactsError) as err:
        case(env)
    assert isinstance(err.value, (ContactsConfigError, UnsupportedActionError)), repr(err.value)
    assert needle in str(err.value)
    assert writes(env.sandbox) == []


@pytest.mark.parametrize("case, needle", [(c, n) for _, c, n in ROW_CASES], ids=[i for i, _, _ in ROW_CASES])
def test_bad_row_is_rejected_with_its_reason_before_anything_is_sent(env, case, needle):
    with pytest.raises(RejectedRowsError, match="before anything was sent") as err:
        case(env)
    assert isinstance(err.value, ContactsError)
    with open(env.rejects(), encoding="utf-8") as handle:
        reasons = [json.loads(line)["reason"] + " " + str(json.loads(line)["message"]) for line in handle]
    assert len(reasons) == 1 and needle in reasons[0], reasons
    assert writes(env.sandbox) == []
