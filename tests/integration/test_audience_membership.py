"""SetAudienceMembershipOperator against the Mautic emulator over real HTTP: exact requests
(batches), exact membership left in the sandbox, exact rows in the rejects file, the errors
raised before any change, and a retry after a crash mid-run."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsConnectionError,
    RejectedRowsError,
    UnsupportedActionError,
)
from airflow_provider_contacts.hooks.mautic.audience import MauticAudience
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator

COUNTS = ("rows_read", "added", "removed", "already", "not_found", "duplicates", "rejected", "requests")


def context(try_number: int = 1) -> Any:
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="aud", map_index=-1, try_number=try_number)
    return {"ti": ti, "task_instance": ti}


def read_ndjson(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture
def emu(sandbox):
    return sandbox.emulator("mautic")


@pytest.fixture
def small(sandbox, monkeypatch) -> str:
    """``mautic_small``: the sandbox with ``batch_limit`` 4, so a few rows make several batches."""
    conn = sandbox.emulator("mautic").connection(sandbox.url)
    conn["extra"] = {**conn["extra"], "batch_limit": 4, "max_retries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_MAUTIC_SMALL", json.dumps(conn))
    return "mautic_small"


def run(conn_id: str, tmp_path, try_number: int = 1, **kwargs) -> dict:
    kwargs.setdefault("rejects_path", str(tmp_path / f"rejects{try_number}.ndjson"))
    op = SetAudienceMembershipOperator(task_id="aud", conn_id=conn_id, **kwargs)
    return op.execute(context(try_number))


def counts(summary: dict) -> dict:
    return {k: summary[k] for k in COUNTS}


def calls(sandbox) -> list[tuple[str, str]]:
    """(method, path under /api) of every Mautic request, in order."""
    return [(r["method"], r["path"].split("/api/", 1)[1]) for r in sandbox.requests("mautic")]


def ids_asked(sandbox, column: str = "id") -> list[list[int]]:
    """The ids of each GET whose first ``where`` clause is ``<column> in …``, in order."""
    out = []
    for r in sandbox.requests("mautic"):
        query = parse_qs(r["query"])
        if r["method"] == "GET" and query.get("where[0][col]") == [column]:
            out.append([int(i) for i in query["where[0][val]"][0].split(",")])
    return out


def segment_members(emu, segment_id: int) -> set[int]:
    return {cid for cid, c in emu.contacts.items() if segment_id in c["segments"]}


def campaign_members(emu, campaign_id: int) -> set[int]:
    return {
        cid
        for cid, c in emu.contacts.items()
        if campaign_id in c["campaigns"] and not c["campaigns"][campaign_id]["manuallyRemoved"]
    }


def labels(emu, event_type: str) -> list[tuple[int, str]]:
    return sorted((e["contactId"], e["eventLabel"]) for e in emu.state.events if e["event"] == event_type)


def email_of(emu, cid: int) -> str:
    return emu.contacts[cid]["values"]["email"]


def test_segment_add_in_batches_exact_requests_state_and_rejects(sandbox, emu, small, tmp_path):
    before = segment_members(emu, 1)  # "Newsletter": seeded members
    members, others = sorted(before), sorted(set(emu.contacts) - before)
    rows = [members[0], {"id": members[1]}, *others[:4], {"email": email_of(emu, others[4]).upper()}]
    rows += [
        {"contact_id": others[0]},
        {"email": "nobody@example.com"},
        99999,
        "not a contact",
        {"email": ""},
    ]
    summary = run(small, tmp_path, rows=rows, audience="newsletter", action="add", max_rejected=10)
    assert counts(summary) == {
        "rows_read": 12,
        "added": 5,
        "removed": 0,
        "already": 2,
        "not_found": 2,
        "duplicates": 1,
        "rejected": 4,
        "requests": 7,
    }
    assert (summary["audience_type"], summary["audience_id"], summary["audience_name"]) == (
        "segment",
        "1",
        "Newsletter",
    )
    assert segment_members(emu, 1) == before | set(others[:5])
    # 1 name look-up, 1 email look-up, then per batch of 4 ids: who is a member, the batch add
    # of the others; the unknown id failed in the batch add: one look-up says it does not exist
    assert calls(sandbox) == [
        ("GET", "segments"),
        ("GET", "contacts"),
        ("GET", "contacts"),
        ("POST", "segments/1/contacts/add"),
        ("GET", "contacts"),
        ("POST", "segments/1/contacts/add"),
        ("GET", "contacts"),
    ]
    # contacts in input order (a repeated contact where it was named last): the batches of 4
    m0, m1, o0, o1, o2, o3, o4 = members[0], members[1], *others[:5]
    assert ids_asked(sandbox) == [[m0, m1, o1, o2], [o3, o4, o0, 99999], [99999]]
    assert sorted((r["index"], r["reason"]) for r in read_ndjson(summary["rejects_path"])) == [
        (8, "contact not found"),
        (9, "contact not found"),
        (10, "'not a contact' is neither a contact id nor an email"),
        (11, 'row has no "id", "contact_id" or "email"'),
    ]
    # each contact added once: one membership event each
    added = [cid for cid, label in labels(emu, "segment_membership") if label.startswith("Contact added")]
    assert sorted(added) == sorted(others[:5])


def test_segment_remove_non_members_are_already_unknown_ids_rejected(sandbox, emu, small, tmp_path):
    before = segment_members(emu, 2)  # "Customers"
    members, others = sorted(before), sorted(set(emu.contacts) - before)
    rows = [members[0], {"email": email_of(emu, members[1])}, others[0], {"email": email_of(emu, others[1])}]
    rows += [424242, members[0]]
    summary = run(small, tmp_path, rows=rows, audience=2, action="remove", max_rejected=1)
    assert counts(summary) == {
        "rows_read": 6,
        "added": 0,
        "removed": 2,
        "already": 2,
        "not_found": 1,
        "duplicates": 1,
        "rejected": 1,
        "requests": 7,
    }
    assert segment_members(emu, 2) == before - {members[0], members[1]}
    # a number (audience_by="auto"): the segments are listed (is 2 an id, a name, or both?);
    # per batch: members, the existence of the non-members named by id (a non-member named by
    # email exists), one removal per member
    assert calls(sandbox) == [
        ("GET", "segments"),
        ("GET", "contacts"),
        ("GET", "contacts"),
        ("GET", "contacts"),
        ("POST", f"segments/2/contact/{members[1]}/remove"),
        ("GET", "contacts"),
        ("POST", f"segments/2/contact/{members[0]}/remove"),
    ]
    assert ids_asked(sandbox) == [
        [members[1], others[0], others[1], 424242],
        [others[0], 424242],
        [members[0]],
    ]
    assert [(r["index"], r["row"], r["reason"]) for r in read_ndjson(summary["rejects_path"])] == [
        (4, 424242, "contact not found")
    ]
    removed = [cid for cid, label in labels(emu, "segment_membership") if label.startswith("Contact removed")]
    assert sorted(removed) == sorted(members[:2])


def test_campaign_add_and_remove_by_name_change_only_the_differences(sandbox, emu, tmp_path):
    emu.state.campaigns[2]["allowRestart"] = True  # "Re-engagement": a re-add would restart it
    ids = sorted(emu.contacts)[:6]
    first = run(
        "mautic_default",
        tmp_path,
        rows=ids[:2],
        audience="Re-engagement",
        audience_type="campaign",
        action="add",
    )
    assert (first["added"], first["already"]) == (2, 0)
    done = len(sandbox.requests("mautic"))
    summary = run(
        "mautic_default", tmp_path, rows=ids, audience="re-engagement", audience_type="campaign", action="add"
    )
    assert counts(summary) == {
        "rows_read": 6,
        "added": 4,
        "removed": 0,
        "already": 2,
        "not_found": 0,
        "duplicates": 0,
        "rejected": 0,
        "requests": 6,
    }
    assert calls(sandbox)[done:] == [
        ("GET", "campaigns"),
        ("GET", "campaigns/2/contacts"),
        *[("POST", f"campaigns/2/contact/{cid}/add") for cid in ids[2:]],
    ]
    assert ids_asked(sandbox, "lead_id")[-1] == ids
    assert campaign_members(emu, 2) == set(ids)
    # the members of the first run were not re-added: no new rotation, one "added" event each
    assert {cid: emu.contacts[cid]["campaigns"][2]["rotation"] for cid in ids} == dict.fromkeys(ids, 1)
    assert labels(emu, "campaign_membership") == [
        (cid, "Contact added to campaign, Re-engagement") for cid in ids
    ]
    gone = run(
        "mautic_default",
        tmp_path,
        rows=[ids[0], ids[1], ids[1]],
        audience="Re-engagement",
        audience_type="campaign",
        action="remove",
    )
    assert (gone["removed"], gone["already"], gone["duplicates"], gone["rejected"]) == (2, 0, 1, 0)
    assert campaign_members(emu, 2) == set(ids[2:])
    again = run(
        "mautic_default", tmp_path, rows=ids[:2], audience=2, audience_type="campaign", action="remove"
    )
    assert (again["removed"], again["already"], again["requests"]) == (
        0,
        2,
        3,
    )  # campaign, members, existence
    assert len(labels(emu, "campaign_membership")) == 8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"audience": "Nope"},
            "no segment named 'Nope' in Mautic (segments: 'Customers', 'Draft', 'Newsletter', 'Twin', 'Twin', 'Webinar attendees')",
        ),
        ({"audience": "twin"}, "segment name 'twin' matches 2 segments (ids 4, 5); give the id instead"),
        ({"audience": 77}, "segment id 77 does not exist in Mautic"),
        ({"audience": "Draft"}, "is unpublished: Mautic refuses membership changes to it"),
        (
            {"audience": "Welcome", "audience_type": "list"},
            "audience_type='list': Mautic has segment, campaign",
        ),
        (
            {"audience": "Nope", "audience_type": "campaign"},
            "no campaign named 'Nope' in Mautic (campaigns: 'Re-engagement', 'Welcome')",
        ),
        ({"audience": ""}, "audience '': give the segment's id or name"),
    ],
)
def test_audience_resolution_errors_come_before_any_change(sandbox, emu, tmp_path, kwargs, message):
    for name in ("Twin", "Twin"):
        emu.state.create_segment({"name": name})
    hidden = emu.state.create_segment({"name": "Draft", "isPublished": False})
    if kwargs["audience"] == "Draft":
        kwargs = {**kwargs, "audience": hidden["id"]}
    with pytest.raises(ContactsConfigError) as err:
        run("mautic_default", tmp_path, rows=sorted(emu.contacts)[:3], action="add", **kwargs)
    assert message in str(err.value)
    assert [m for m, _ in calls(sandbox) if m != "GET"] == []
    assert not (tmp_path / "rejects1.ndjson").exists()


def test_unknown_action_and_vendors_without_audiences(sandbox, tmp_path):
    with pytest.raises(ContactsConfigError, match="action='move': use 'add' or 'remove'"):
        SetAudienceMembershipOperator(task_id="a", conn_id="mautic_default", audience=1, action="move")
    with pytest.raises(UnsupportedActionError) as err:
        run("engagelab_default", tmp_path, rows=[1], audience="vip", action="add")
    assert "connection types that can: mautic" in str(err.value)
    assert sandbox.requests("engagelab") == []


def test_threshold_fails_before_any_change_with_every_reject_written(sandbox, emu, tmp_path):
    rows = [sorted(emu.contacts)[0]] + [{"email": f"ghost{i}@example.com"} for i in range(3)] + ["??"]
    with pytest.raises(RejectedRowsError):
        run(
            "mautic_default",
            tmp_path,
            rows=rows,
            audience="Webinar attendees",
            action="add",
            max_rejected=3,
            send_valid_rows=False,
        )
    assert [m for m, _ in calls(sandbox) if m != "GET"] == []
    assert segment_members(emu, 3) == set()
    rejects = read_ndjson(tmp_path / "rejects1.ndjson")
    assert [(r["index"], r["reason"]) for r in rejects] == [
        (4, "'??' is neither a contact id nor an email"),
        (1, "contact not found"),
        (2, "contact not found"),
        (3, "contact not found"),
    ]
    # a fraction works too, and within it the run goes on
    summary = run(
        "mautic_default", tmp_path, try_number=2, rows=rows, audience=3, action="add", max_rejected=0.8
    )
    assert (summary["added"], summary["rejected"]) == (1, 4)


def test_a_retry_after_a_crash_mid_run_leaves_the_exact_state(sandbox, emu, small, tmp_path, monkeypatch):
    """Membership changes are idempotent and each batch reads the membership first: the retry
    counts the crashed run's changes as ``already`` and every contact is changed exactly once."""
    ids = sorted(emu.contacts)[:10]
    real = MauticAudience.change_membership
    sent: list[list[str]] = []

    def crash_on_the_third_batch(self, audience, contact_ids, action):
        if len(sent) == 2:
            raise KeyboardInterrupt("worker killed")  # not an HTTP error: the process dies here
        sent.append(list(contact_ids))
        return real(self, audience, contact_ids, action)

    monkeypatch.setattr(MauticAudience, "change_membership", crash_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run(small, tmp_path, rows=ids, audience="Webinar attendees", action="add")
    assert segment_members(emu, 3) == set(ids[:8])
    monkeypatch.setattr(MauticAudience, "change_membership", real)
    summary = run(small, tmp_path, try_number=2, rows=ids, audience="Webinar attendees", action="add")
    assert (summary["added"], summary["already"], summary["rejected"]) == (2, 8, 0)
    assert segment_members(emu, 3) == set(ids)
    assert labels(emu, "segment_membership") == [
        (cid, "Contact added to segment, Webinar attendees") for cid in ids
    ]
    # the retry sent only the batch that never went out
    posts = [p for m, p in calls(sandbox) if m == "POST"]
    assert posts == ["segments/3/contacts/add"] * 3


def test_a_lost_answer_to_a_campaign_add_is_not_repeated_and_the_retry_does_not_restart(
    sandbox, emu, tmp_path
):
    emu.state.campaigns[2]["allowRestart"] = True
    ids = sorted(emu.contacts)[:3]
    sandbox.set_faults(sequence=["drop_after"], paths=[f"/campaigns/2/contact/{ids[1]}/add"])
    with pytest.raises(ContactsConnectionError):
        run("mautic_default", tmp_path, rows=ids, audience=2, audience_type="campaign", action="add")
    # applied by Mautic, answer lost: the transport did not send it again (it would restart)
    assert [p for m, p in calls(sandbox) if m == "POST"] == [
        f"campaigns/2/contact/{ids[0]}/add",
        f"campaigns/2/contact/{ids[1]}/add",
    ]
    assert campaign_members(emu, 2) == set(ids[:2])
    summary = run(
        "mautic_default", tmp_path, try_number=2, rows=ids, audience=2, audience_type="campaign", action="add"
    )
    assert (summary["added"], summary["already"]) == (1, 2)
    assert {cid: emu.contacts[cid]["campaigns"][2]["rotation"] for cid in ids} == dict.fromkeys(ids, 1)
    assert labels(emu, "campaign_membership") == [
        (cid, "Contact added to campaign, Re-engagement") for cid in ids
    ]


@pytest.mark.slow  # runs an example DAG with dag.test()
def test_scheduled_campaign_example_puts_this_runs_targets_in_and_takes_the_previous_out(
    sandbox, emu, airflow_db, DagBag
):
    from datetime import datetime, timedelta, timezone
    from pathlib import Path

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    now = datetime.now(timezone.utc)
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = day_end - timedelta(days=1)
    events = [e for e in emu.state.events if day_start <= e["timestamp"] < day_end and e["contactId"]]
    bounced = {e["contactId"] for e in events if e["event"] == "email.failed"}
    scored = {e["contactId"] for e in events if e["event"] in ("email.read", "page.hit", "form.submitted")}
    targets = scored - bounced
    assert targets, "the seeded timeline has activity yesterday"
    quiet = sorted(set(emu.contacts) - scored)[:2]
    segment = emu.state.segment(3)
    for cid in [min(targets), *quiet]:  # last run's audience: one engaged again, two not
        emu.state.add_to_segment(segment, emu.contacts[cid])

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "example_dags"))
    run = bag.get_dag("example_mautic_scheduled_campaign").test(logical_date=now)
    assert run.state == "success"
    assert segment_members(emu, 3) == targets
    with create_session() as session:
        summaries = {
            x.task_id: XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter_by(
                dag_id=run.dag_id, run_id=run.run_id, key="return_value"
            )
        }
    assert (summaries["plan_targets"]["targets"], summaries["plan_targets"]["previous"]) == (len(targets), 2)
    added, dropped = summaries["add_targets"], summaries["drop_previous_targets"]
    assert (added["added"], added["already"], added["rejected"]) == (len(targets) - 1, 1, 0)
    assert (dropped["removed"], dropped["already"], dropped["rejected"]) == (2, 0, 0)


def test_hook_lists_every_member_of_a_segment_and_a_campaign(sandbox, emu):
    from airflow_provider_contacts.hooks import get_hook

    hook: Any = get_hook("mautic_default")
    ids = sorted(emu.contacts)[:3]
    for cid in ids:
        emu.state.add_to_campaign(emu.state.campaign(1), emu.contacts[cid])
    emu.state.remove_from_campaign(emu.state.campaign(1), emu.contacts[ids[1]])
    campaign = hook.resolve_audience("campaign", "Welcome")
    assert sorted(hook.iter_members(campaign), key=int) == [str(ids[0]), str(ids[2])]
    segment = hook.resolve_audience("segment", "CUSTOMERS")  # a name matches case-insensitively
    assert sorted(hook.iter_members(segment), key=int) == [str(c) for c in sorted(segment_members(emu, 2))]
    assert hook.audience_members(campaign, [str(c) for c in ids]) == {str(ids[0]), str(ids[2])}


def test_a_failed_members_query_answered_with_http_200_is_an_error(sandbox, monkeypatch):
    """``StatsApiController::listAction`` answers a query the database refuses with HTTP 200 and
    ``errors``: the hook must not read that as "no members" (which would re-add everyone)."""
    import airflow_provider_contacts.hooks.mautic.audience as audience_module
    from airflow_provider_contacts.exceptions import ContactsError
    from airflow_provider_contacts.hooks import get_hook

    hook: Any = get_hook("mautic_default")
    campaign = hook.resolve_audience("campaign", 1)
    bad = {"where[0][col]": "no_such_column", "where[0][expr]": "eq", "where[0][val]": "1"}
    monkeypatch.setattr(audience_module, "where_params", lambda clauses: dict(bad))
    with pytest.raises(
        ContactsError, match="Mautic could not list campaign 1's members: An exception occurred"
    ):
        hook.audience_members(campaign, ["1", "2"])
