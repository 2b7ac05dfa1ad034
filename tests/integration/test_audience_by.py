"""``audience_by`` of SetAudienceMembershipOperator against the Mautic emulator: a number that is
one audience's id and another's name is refused before any change, naming both; ``"id"`` and
``"name"`` say which is meant; ``"auto"`` takes whichever exists."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator


def run(tmp_path, **kwargs) -> dict:
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="aud", map_index=-1, try_number=1)
    op = SetAudienceMembershipOperator(
        task_id="aud", conn_id="mautic_default", rejects_path=str(tmp_path / "r.ndjson"), **kwargs
    )
    context: Any = {"ti": ti, "task_instance": ti}
    return op.execute(context)


def calls(sandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"].split("/api/", 1)[1]) for r in sandbox.requests("mautic")]


def members(emu, kind: str, audience_id: int) -> set[int]:
    if kind == "segment":
        return {cid for cid, c in emu.contacts.items() if audience_id in c["segments"]}
    return {cid for cid, c in emu.contacts.items() if audience_id in c["campaigns"]}


@pytest.fixture
def segment_named_1(sandbox) -> Any:
    """Segment 1 is "Newsletter"; a new segment (id 4) is named "1"."""
    emu = sandbox.emulator("mautic")
    segment = emu.state.create_segment({"name": "1"})
    assert segment["id"] == 4 and emu.state.segments[1]["name"] == "Newsletter"
    sandbox.clear_requests()
    return emu


@pytest.mark.parametrize("audience", ["1", 1, " 1 "])
def test_an_id_of_one_segment_and_the_name_of_another_is_refused_before_any_change(
    sandbox, segment_named_1, tmp_path, audience
):
    emu = segment_named_1
    before = (members(emu, "segment", 1), members(emu, "segment", 4))
    with pytest.raises(ContactsConfigError) as raised:
        run(tmp_path, audience=audience, action="add", rows=[20, 21])
    assert str(raised.value) == (
        "[conn_id='mautic_default'] audience '1' is ambiguous: segment id 1 is 'Newsletter', and segment id 4 is named '1'; "
        "set audience_by='id' or audience_by='name'"
    )
    assert calls(sandbox) == [("GET", "segments")]  # one listing, no change
    assert (members(emu, "segment", 1), members(emu, "segment", 4)) == before


def test_audience_by_id_or_name_says_which(sandbox, segment_named_1, tmp_path):
    emu = segment_named_1
    newsletter = members(emu, "segment", 1)
    summary = run(tmp_path, audience="1", audience_by="name", action="add", rows=[20, 21])
    assert (summary["audience_id"], summary["audience_name"], summary["added"]) == ("4", "1", 2)
    assert members(emu, "segment", 4) == {20, 21} and members(emu, "segment", 1) == newsletter
    assert calls(sandbox)[0] == ("GET", "segments")  # names: the listing
    sandbox.clear_requests()
    summary = run(tmp_path, audience="1", audience_by="ID", action="add", rows=[20, 21])
    assert (summary["audience_id"], summary["audience_name"]) == ("1", "Newsletter")
    assert members(emu, "segment", 1) == newsletter | {20, 21}
    assert calls(sandbox)[0] == ("GET", "segments/1")  # an id: read, no listing


def test_auto_takes_the_one_that_exists(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.segments[2]["name"] = "2"  # its own id: the same segment both ways, not ambiguous
    assert run(tmp_path, audience="2", action="add", rows=[20])["audience_id"] == "2"
    assert emu.state.create_segment({"name": "0042"})["id"] == 4  # no segment has id 42
    summary = run(tmp_path, audience="0042", action="add", rows=[20])
    assert (summary["audience_id"], summary["audience_name"]) == ("4", "0042")
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError, match=r"segment id 99 does not exist in Mautic at .*, and no "):
        run(tmp_path, audience="99", action="add", rows=[20])
    assert calls(sandbox) == [("GET", "segments"), ("GET", "segments/99")]  # not listed: read to be sure


def test_campaigns_too(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.campaigns[2]["name"] = "1"  # campaign 1 is "Welcome"
    with pytest.raises(
        ContactsConfigError, match="campaign id 1 is 'Welcome', and campaign id 2 is named '1'"
    ):
        run(tmp_path, audience=1, audience_type="campaign", action="add", rows=[20])
    assert members(emu, "campaign", 1) == members(emu, "campaign", 2) == set()
    summary = run(tmp_path, audience=1, audience_type="campaign", audience_by="name", action="add", rows=[20])
    assert summary["audience_id"] == "2" and members(emu, "campaign", 2) == {20}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audience": 1, "audience_by": "alias"}, "audience_by='alias': use one of auto, id, name"),
        (
            {"audience": "Newsletter", "audience_by": "id"},
            r"audience 'Newsletter' with audience_by='id': give the segment's id \(a whole number\)",
        ),
        ({"audience": "²", "audience_by": "id"}, "audience '²' with audience_by='id'"),
    ],
)
def test_bad_audience_by_is_a_config_error_before_any_request(sandbox, tmp_path, kwargs, message):
    with pytest.raises(ContactsConfigError, match=message):
        run(tmp_path, action="add", rows=[20], **kwargs)
    assert calls(sandbox) == []
