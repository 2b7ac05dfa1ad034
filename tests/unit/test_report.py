"""What the task log and the summary say: progress lines (total, share, time left; the last line
once), rejection reasons as short categories without personal data, the counts per reason
adding up to ``rejected``, the summary as short lines."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_contacts.operators.report import Progress, duration, rejected_row_lines, summary_lines
from airflow_provider_contacts.rows.reasons import OTHER, RejectTally, reason_category

PROGRESS_LOGGER = "airflow_provider_contacts.operators.report"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]


def test_progress_gives_the_total_the_share_and_the_time_left(caplog):
    clock = Clock()
    progress = Progress("upsert into mautic_default", clock=clock, total=20_000)
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        clock.now += 6
        progress.tick(6_000, 30)  # before every=10 s: nothing
        clock.now += 6
        progress.tick(12_000, 60)
        clock.now += 4
        progress.tick(16_000, 80)  # 4 s after the last line: nothing
        clock.now += 8
        progress.tick(20_000, 100)
        progress.finish(20_000, 100)  # the same as the last line: not logged again
    assert progress_lines(caplog) == [
        "upsert into mautic_default: 12,000 of 20,000 rows, 60 %, ~8 s left (60 batches, 1,000 rows/s)",
        "upsert into mautic_default: 20,000 of 20,000 rows, 100 %, done in 24 s (100 batches, 833 rows/s)",
    ]


def test_the_last_line_is_logged_once_and_says_done(caplog):
    clock = Clock()
    progress = Progress("do-not-contact add on m", clock=clock, total=450, unit="contacts")
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        clock.now += 15
        progress.tick(400, 2)
        clock.now += 1
        progress.finish(450, 3)
        progress.finish(450, 3)
    assert progress_lines(caplog) == [
        "do-not-contact add on m: 400 of 450 contacts, 88 %, ~2 s left (2 batches, 27 contacts/s)",
        "do-not-contact add on m: 450 of 450 contacts, 100 %, done in 16 s (3 batches, 28 contacts/s)",
    ]


def test_the_last_line_after_an_upper_bound_total_is_exact(caplog):
    """Once the upsert's keys spilled to disk, the total is the rows added (duplicates not yet
    collapsed): the last line gives the keys there were."""
    clock = Clock()
    progress = Progress("u", clock=clock, total=1_000)
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        clock.now += 10
        progress.tick(990, 5)
        progress.finish(990, 5)
    assert [line.split(" (")[0] for line in progress_lines(caplog)] == [
        "u: 990 of 1,000 rows, 99 %, ~0 s left",
        "u: 990 of 990 rows, 100 %, done in 10 s",
    ]


def test_nothing_to_do_logs_no_progress_and_no_total_logs_counts(caplog):
    clock = Clock()
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        Progress("empty", clock=clock, total=0).finish(0, 0)
        events = Progress("activity from m", clock=clock, unit="events")
        clock.now += 10
        events.tick(5_000, 0)
    assert progress_lines(caplog) == ["activity from m: 5,000 events (500 events/s)"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "0 s"), (4.4, "4 s"), (59.4, "59 s"), (125, "2 min 5 s"), (720, "12 min"), (4_800, "1 h 20 min")],
)
def test_durations_for_people(seconds, text):
    assert duration(seconds) == text


# ---- reasons ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ('missing key field "email" (or it is empty)', "missing key field"),
        ("email 'ann.smith@example' is not a valid address", "invalid email"),
        ("row is not an object (got str); each row must map field names to values", "row is not an object"),
        ("line 7 is not valid JSON (Expecting value)", "invalid JSON"),
        ("line 3 has 4 values for 2 columns", "wrong number of CSV values"),
        ("contact not found", "contact not found"),
        ("contact: 'Ann Smith' is neither a contact id nor an email", "not a contact id or email"),
        ('row has no "id", "contact_id" or "email"', "no contact id or email"),
        ("contact id -4 is not valid", "invalid contact id"),
        (
            "field 'score' is nan, which is not a number a vendor accepts (NaN/Infinity); give ...",
            "NaN or Infinity",
        ),
        ("field 'when' is a datetime, not a text, number, boolean or null value", "unsupported value type"),
        (
            "field 'tags' is a list; Mautic takes text, numbers and booleans there: flatten it",
            "list or object",
        ),
        ("op 'add' is not allowed; use one of plus, minus", "unknown op"),
        ("value '1.5' is not an integer; scores are whole numbers", "not a whole number"),
        ("divide by zero: value 0 with op divide", "divide by zero"),
        ("missing field(s) group, op", "missing field"),
        ("unknown group", "unknown group"),
        # a reason the table does not know: its words, without values
        (
            "field 'city' holds 'Zürich' for ann@example.com at line 12; fix it",
            "field … holds … for … at line …",
        ),
    ],
)
def test_each_reason_has_a_short_category_without_values(reason, category):
    assert reason_category(reason) == category


def test_a_vendor_rejection_is_named_by_status_and_code_never_by_its_message():
    assert reason_category("rejected by the vendor", 400, "400") == "rejected by the vendor (HTTP 400)"
    assert reason_category("rejected by the vendor", 422, "email,phone_number") == (
        "rejected by the vendor (HTTP 422, email,phone_number)"
    )
    message = "ann@example.com: This value is not a valid email address."
    assert reason_category(message, 422, None, from_vendor=True) == "rejected by the vendor (HTTP 422)"
    assert reason_category(message, None, "a code with spaces", from_vendor=True) == "rejected by the vendor"
    assert reason_category("contact not found", 404, None, from_vendor=True) == "contact not found"


def test_the_top_ten_reasons_and_the_rest_add_up_to_the_rejected_rows():
    tally = RejectTally()
    for kind in range(12):  # kind 0 once, kind 11 twelve times
        for _ in range(kind + 1):
            tally.add(None, {}, f"reason {chr(97 + kind)}", None, None, None)
    counts = tally.by_reason()
    assert list(counts) == [f"reason {chr(97 + k)}" for k in range(11, 1, -1)] + [OTHER]
    assert counts[OTHER] == 1 + 2
    assert sum(counts.values()) == sum(range(1, 13)) == 78
    assert len(tally.sample) == 10 and tally.sample[0] == (None, {}, "reason a")


def test_rejected_row_lines_are_bounded_and_escape_what_a_log_cannot_encode():
    lines = rejected_row_lines(
        [
            (0, {"name": "x" * 1000}, "r" * 1000),
            (1, {"name": "\ud800 and \x00"}, "bad text"),
            (2, "a,b", "csv"),
        ]
    )
    assert all(len(line) <= 400 for line in lines)
    assert lines[1] == 'index 1: bad text; row {"name": "\\ud800 and \\u0000"}'
    assert lines[2] == "index 2: csv; row a,b"
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    (line,) = rejected_row_lines([(3, deep, "nested too deep")])  # no RecursionError
    assert line == "index 3: nested too deep; row [[[[[[[...]]]]]]]"
    lines[1].encode("utf-8")  # no lone surrogate reaches the log


def test_summary_lines_give_each_count_and_the_rejected_by_reason():
    summary = {
        "conn_id": "m",
        "rows_read": 14_000,
        "created": 12,
        "dry_run": False,
        "reason_code": 1,
        "seconds": 1.5,
        "rejected": 2,
        "rejected_by_reason": {"missing key field": 2},
        "rejects_path": "/x",
    }
    assert summary_lines(summary) == [
        "rows_read: 14,000",
        "created: 12",
        "seconds: 1.5",
        "rejected: 2 (missing key field: 2)",
    ]


def test_rejected_row_lines_mask_secrets_at_any_depth_and_under_sensitive_names():
    from airflow.sdk.log import mask_secret

    secret = "zq-deep-secret-9137"
    mask_secret(secret)
    deep: dict = {"v": f"a {secret} b"}
    for _ in range(8):  # deeper than the masker walks a structure
        deep = {"n": deep}
    (line,) = rejected_row_lines([(0, {"email": "x", "deep": deep, "api_key": "plain-looking"}, secret)])
    assert secret not in line and "plain-looking" not in line
    assert line.startswith("index 0: ***; row ") and '"api_key": "***"' in line
