"""Source files as users have them, through UpsertContactsOperator into the Mautic emulator:
a CSV separated by ``;`` or in Latin-1 (``csv_delimiter``, ``source_encoding``), gzip files
(local and object storage) and the compressions that are refused by name, an NDJSON file with a
BOM or without a last newline, a rejects file replayed over itself, and a SQL connection whose
provider is not installed. Exact rows read, stored contacts, requests and rejects."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import zipfile
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.operator_support import context, emails, read_ndjson

CSV = "email;firstname;city\nann@example.com;Ann;Zoë-Town\nbob@example.com;Bob;Oslo\n"


@pytest.fixture
def memory_store():
    """``memory://`` object storage (fsspec's in-memory filesystem, attached to Airflow's
    ObjectStoragePath): a store whose files have no ``peek``, as S3's."""
    import fsspec  # type: ignore[import-untyped]
    from airflow.sdk.io import attach

    fs = fsspec.filesystem("memory")
    attach("memory", fs=fs)
    yield fs
    if fs.exists("/contacts-bucket"):
        fs.rm("/contacts-bucket", recursive=True)


def upsert(tmp_path, **kw: Any) -> dict:
    kw.setdefault("rejects_path", str(tmp_path / "rejects.ndjson"))
    return UpsertContactsOperator(task_id="up", conn_id="mautic_default", **kw).execute(context(tmp_path))


def writes(sandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in sandbox.requests("mautic") if r["method"] != "GET"]


def stored(sandbox) -> dict[str, dict]:
    return {email: c["values"] for email, c in emails(sandbox.emulator("mautic")).items()}


# ---- csv_delimiter and source_encoding -------------------------------------------------------
def test_semicolon_csv_in_latin1_is_read_with_csv_delimiter_and_source_encoding(sandbox, tmp_path):
    sandbox.reset(empty=True)
    path = tmp_path / "contacts.csv"
    path.write_bytes(CSV.encode("latin-1"))
    summary = upsert(tmp_path, source_path=str(path), csv_delimiter=";", source_encoding="latin-1")
    assert (summary["rows_read"], summary["created"], summary["rejected"], summary["batches"]) == (2, 2, 0, 1)
    assert {e: (v["firstname"], v["city"]) for e, v in stored(sandbox).items()} == {
        "ann@example.com": ("Ann", "Zoë-Town"),
        "bob@example.com": ("Bob", "Oslo"),
    }


def test_the_wrong_encoding_names_source_encoding_before_any_request(sandbox, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(CSV.encode("latin-1"))
    with pytest.raises(ContactsConfigError, match="is not UTF-8 text .*set source_encoding"):
        upsert(tmp_path, source_path=str(path), csv_delimiter=";")
    assert writes(sandbox) == []


def test_csv_delimiter_and_source_encoding_are_templated_and_checked_once_rendered(sandbox, tmp_path):
    sandbox.reset(empty=True)
    path = tmp_path / "contacts.tsv.csv"
    path.write_text(CSV.replace(";", "\t"), encoding="utf-16")
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_path=str(path),
        csv_delimiter="{{ params.sep }}",
        source_encoding="{{ params.enc }}",
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    assert {"csv_delimiter", "source_encoding"} <= set(op.template_fields)
    op.render_template_fields({"params": {"sep": "\\t", "enc": "utf-16"}})  # \t typed in a trigger form
    assert op.execute(context(tmp_path))["created"] == 2
    assert stored(sandbox)["ann@example.com"]["city"] == "Zoë-Town"
    op.source_encoding = "klingon"  # rendered to something that is no encoding
    with pytest.raises(
        ContactsConfigError, match="source_encoding='klingon' is not an encoding Python knows"
    ):
        op.execute(context(tmp_path))


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"csv_delimiter": ";;"}, "csv_delimiter=';;' must be one character"),
        ({"csv_delimiter": ""}, "csv_delimiter='' must be one character"),
        ({"csv_delimiter": '"'}, "csv_delimiter='\"' must be one character other than a quote"),
        ({"source_encoding": "utf-9"}, "source_encoding='utf-9' is not an encoding Python knows"),
        ({"source_encoding": "base64"}, "source_encoding='base64' is not a text encoding"),
    ],
)
def test_a_bad_delimiter_or_encoding_is_refused_when_the_task_is_built(kwargs, needle):
    with pytest.raises(ContactsConfigError) as err:
        UpsertContactsOperator(task_id="up", conn_id="mautic_default", source_path="x.csv", **kwargs)
    assert needle in str(err.value)


def test_a_delimiter_for_a_source_that_is_not_csv_is_refused(sandbox, tmp_path):
    path = tmp_path / "rows.ndjson"
    path.write_text('{"email": "a@example.com"}\n')
    with pytest.raises(
        ContactsConfigError, match="csv_delimiter=';' is for CSV files and this input is an NDJSON file"
    ):
        upsert(tmp_path, source_path=str(path), csv_delimiter=";")
    with pytest.raises(ContactsConfigError, match="source_encoding='latin-1' is for files"):
        upsert(tmp_path, rows=[{"email": "a@example.com"}], source_encoding="latin-1")
    assert writes(sandbox) == []


# ---- compressed sources ---------------------------------------------------------------------
NDJSON = b'{"email": "g1@example.com", "firstname": "G1"}\n{"email": "g2@example.com", "firstname": "G2"}\n'


@pytest.mark.parametrize("name", ["rows.ndjson.gz", "rows.ndjson", "rows.jsonl.GZ"])
def test_a_gzip_source_is_read_decompressed_by_its_name_or_its_bytes(sandbox, tmp_path, name):
    sandbox.reset(empty=True)
    (tmp_path / name).write_bytes(gzip.compress(NDJSON))
    summary = upsert(tmp_path, source_path=str(tmp_path / name))
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (2, 2, 0)
    assert sorted(stored(sandbox)) == ["g1@example.com", "g2@example.com"]


def test_a_gzip_csv_in_object_storage_is_read_decompressed(sandbox, tmp_path, memory_store):
    from airflow.sdk import ObjectStoragePath

    sandbox.reset(empty=True)
    target = ObjectStoragePath("memory://contacts-bucket/in/contacts.csv.gz")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        handle.write(gzip.compress(CSV.encode("utf-8")))
    summary = upsert(tmp_path, source_path=str(target), csv_delimiter=";")
    assert (summary["rows_read"], summary["created"]) == (2, 2)
    assert stored(sandbox)["ann@example.com"]["city"] == "Zoë-Town"


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rows.ndjson", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, data, kind, tool",
    [
        ("rows.ndjson.bz2", bz2.compress(NDJSON), "bzip2", "bunzip2"),
        ("rows.ndjson", bz2.compress(NDJSON), "bzip2", "bunzip2"),
        ("rows.ndjson.xz", lzma.compress(NDJSON), "xz", "unxz"),
        ("rows.csv.zip", _zip(NDJSON), "zip", "unzip"),
        ("rows.ndjson.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 20, "zstd", "unzstd"),
    ],
)
def test_another_compression_is_refused_by_name_not_blamed_on_utf8(sandbox, tmp_path, name, data, kind, tool):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ContactsConfigError) as err:
        upsert(tmp_path, source_path=str(tmp_path / name))
    assert f"is {kind}-compressed" in str(err.value) and f"decompress it first (e.g. {tool})" in str(
        err.value
    )
    assert "UTF-8" not in str(err.value)
    assert writes(sandbox) == []


def test_a_truncated_gzip_file_is_a_clear_error(sandbox, tmp_path):
    (tmp_path / "rows.ndjson.gz").write_bytes(gzip.compress(NDJSON * 50)[:-30])
    with pytest.raises(ContactsConfigError, match="its gzip data is damaged or cut short"):
        upsert(tmp_path, source_path=str(tmp_path / "rows.ndjson.gz"))
    assert writes(sandbox) == []


# ---- NDJSON: a BOM, no newline at the end ---------------------------------------------------
def test_an_ndjson_file_starting_with_a_bom_loses_no_row(sandbox, tmp_path):
    sandbox.reset(empty=True)
    (tmp_path / "bom.ndjson").write_bytes(b"\xef\xbb\xbf" + NDJSON)
    summary = upsert(tmp_path, source_path=str(tmp_path / "bom.ndjson"))
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (2, 2, 0)
    assert read_ndjson(tmp_path / "rejects.ndjson") == []
    assert sorted(stored(sandbox)) == ["g1@example.com", "g2@example.com"]


def test_the_last_ndjson_line_without_a_newline_is_read(sandbox, tmp_path):
    sandbox.reset(empty=True)
    text = NDJSON.decode() + '{"email": "last@example.com", "firstname": "Last"}'  # no "\n" at the end
    (tmp_path / "rows.ndjson").write_text(text)
    summary = upsert(tmp_path, source_path=str(tmp_path / "rows.ndjson"))
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (3, 3, 0)
    assert stored(sandbox)["last@example.com"]["firstname"] == "Last"


# ---- a rejects file replayed over itself ----------------------------------------------------
def _rejects_file(tmp_path) -> tuple[str, bytes]:
    path = tmp_path / "failed.ndjson"
    upsert(tmp_path, rows=[{"email": "broken@"}, {"email": "bad@"}], rejects_path=str(path), max_rejected=2)
    return str(path), path.read_bytes()


def test_replaying_a_rejects_file_into_itself_is_refused_and_it_is_kept(sandbox, tmp_path, monkeypatch):
    path, before = _rejects_file(tmp_path)
    assert len(before.splitlines()) == 2
    os.symlink(path, tmp_path / "link.ndjson")
    monkeypatch.chdir(tmp_path)
    for same in (
        path,
        "failed.ndjson",
        "./sub/../failed.ndjson",
        f"file://{path}",
        str(tmp_path / "link.ndjson"),
    ):
        sandbox.clear_requests()
        with pytest.raises(ContactsConfigError, match="is the file being read") as err:
            upsert(tmp_path, source_path=path, source_format="rejects", rejects_path=same)
        assert "rejects-{{ run_id }}.ndjson" in str(err.value)
        assert open(path, "rb").read() == before  # noqa: SIM115 - the bytes, intact
        assert sandbox.requests("mautic") == []
    with pytest.raises(ContactsConfigError, match="is the file being read"):  # the other way round too
        upsert(tmp_path, source_path="failed.ndjson", source_format="rejects", rejects_path=path)
    with pytest.raises(ContactsConfigError, match="is the file being read"):  # any source, any operator
        DoNotContactOperator(
            task_id="dnc", conn_id="mautic_default", action="add", source_path=path, rejects_path=path
        ).execute(context(tmp_path))
    assert open(path, "rb").read() == before  # noqa: SIM115


def test_replaying_an_object_storage_rejects_file_into_itself_is_refused(sandbox, tmp_path, memory_store):
    from airflow.sdk import ObjectStoragePath

    _, before = _rejects_file(tmp_path)
    target = ObjectStoragePath("memory://contacts-bucket/rejects/run1.ndjson")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(before)
    sandbox.clear_requests()
    for same in (str(target), "memory://contacts-bucket//rejects/run1.ndjson"):
        with pytest.raises(ContactsConfigError, match="is the file being read"):
            upsert(tmp_path, source_path=str(target), source_format="rejects", rejects_path=same)
    for source, same in [
        ("s3://bucket/rejects/run1.ndjson", "s3://aws_default@bucket/rejects/run1.ndjson"),
        ("gs://bucket/r.ndjson", "gcs://bucket/r.ndjson"),
    ]:  # refused before the object store is even opened
        with pytest.raises(ContactsConfigError, match="is the file being read"):
            upsert(tmp_path, source_path=source, source_format="rejects", rejects_path=same)
    assert target.read_bytes() == before and sandbox.requests("mautic") == []
    # another file is fine: the replay reads the two rows (rejected again, unchanged)
    summary = upsert(
        tmp_path,
        source_path=str(target),
        source_format="rejects",
        rejects_path="memory://contacts-bucket/rejects/run2.ndjson",
        max_rejected=2,
    )
    assert (summary["replayed"], summary["rejected"]) == (2, 2)


# ---- SQL: the provider of the connection type is not installed -------------------------------
@pytest.mark.parametrize(
    "conn_type, package",
    [
        ("postgres", "apache-airflow-providers-postgres"),
        ("mssql", "apache-airflow-providers-microsoft-mssql"),
    ],
)
def test_a_sql_source_without_its_provider_names_the_package(
    sandbox, tmp_path, monkeypatch, conn_type, package
):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": conn_type, "host": "db.internal"}))
    with pytest.raises(ContactsConfigError) as err:
        upsert(tmp_path, source_sql="select email from contacts", source_conn_id="warehouse")
    assert f"install {package} on the workers (pip install {package})" in str(err.value)
    assert f"connection type {conn_type!r}" in str(err.value)
    assert writes(sandbox) == []
