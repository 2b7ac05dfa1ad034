"""Opening a source file: its text encoding (``source_encoding``), the CSV separator
(``csv_delimiter``), gzip read as it comes and the other compressions refused by name, and the
rule that the rejects file is never the file being read."""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.outputs import URI_SCHEME, open_binary

DEFAULT_DELIMITER = ","
DEFAULT_ENCODING = "utf-8"
#: the first bytes of each compressed format (bzip2: ``rows/source_files._BZIP2``)
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
)
#: "BZh", the block size, then the magic of a first block or of the end of an empty stream
_BZIP2 = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")
_UNPACK = {"bzip2": "bunzip2", "xz": "unxz", "zstd": "unzstd", "zip": "unzip"}
#: what a compressed file's name ends with (the format is read from the name before it)
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")
_SAME_SCHEME = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}


def check_delimiter(value: Any) -> str:
    """``csv_delimiter``: one character (``"\\t"`` written as two characters is a tab)."""
    if value == "\\t":
        return "\t"
    if not isinstance(value, str) or len(value) != 1 or value in '\r\n"\x00':
        raise ContactsConfigError(
            f"csv_delimiter={value!r} must be one character other than a quote or a line break, e.g. ',', ';', "
            "'|' or '\\t' (a tab)"
        )
    return value


def check_encoding(value: Any) -> str:
    """``source_encoding``: a text encoding Python knows; returns its canonical name."""
    hint = "give the file's text encoding, e.g. 'utf-8', 'utf-8-sig', 'latin-1', 'cp1252' or 'utf-16'"
    if not isinstance(value, str) or not value.strip():
        raise ContactsConfigError(f"source_encoding={value!r} is not an encoding; {hint}")
    try:
        info = codecs.lookup(value.strip())
    except LookupError:
        raise ContactsConfigError(
            f"source_encoding={value!r} is not an encoding Python knows; {hint}"
        ) from None
    if not getattr(info, "_is_text_encoding", True):  # base64, zlib...: bytes to bytes
        raise ContactsConfigError(f"source_encoding={value!r} is not a text encoding; {hint}")
    return info.name


def file_options(source: Any, fmt: str) -> tuple[str, str]:
    """``(csv_delimiter, source_encoding)`` of ``source`` (an action operator's arguments), checked
    for a source of format ``fmt`` (``rows`` and ``sql`` for those inputs): a delimiter is for a
    CSV, an encoding for a file."""
    given_delimiter = getattr(source, "csv_delimiter", None) or DEFAULT_DELIMITER
    given_encoding = getattr(source, "source_encoding", None) or DEFAULT_ENCODING
    delimiter, encoding = check_delimiter(given_delimiter), check_encoding(given_encoding)
    what = {"rows": "inline rows", "sql": "source_sql", "ndjson": "an NDJSON file", "json": "a JSON file"}
    this = what.get(fmt, f"a {fmt} file")
    if delimiter != DEFAULT_DELIMITER and fmt != "csv":
        raise ContactsConfigError(
            f"csv_delimiter={given_delimiter!r} is for CSV files and this input is {this}: remove csv_delimiter, "
            "or set source_format='csv' if the file is a CSV"
        )
    if encoding != DEFAULT_ENCODING and fmt in ("rows", "sql"):
        raise ContactsConfigError(
            f"source_encoding={given_encoding!r} is for files (source_path) and this input is {this}: remove it"
        )
    return delimiter, encoding


def encoding_label(encoding: str) -> str:
    return "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding


def compression(head: bytes) -> str | None:
    """The compression whose magic bytes ``head`` starts with, or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "bzip2" if _BZIP2.match(head) else None


def open_source(path: str, encoding: str = DEFAULT_ENCODING) -> Any:
    """The text of the file at ``path`` (local or an ObjectStoragePath URI) in ``encoding``;
    gzip (by its magic bytes, whatever the name) is read decompressed; bzip2, xz, zstd and zip are
    refused naming the compression and what to do."""
    binary = open_binary(path)
    try:
        kind = compression(_head(binary))
        if kind == "gzip":
            binary = _GzipReader(binary)
        elif kind:
            raise ContactsConfigError(
                f"source_path {path!r} is {kind}-compressed (its first bytes say so); only gzip is read as it "
                f"comes: decompress it first (e.g. {_UNPACK[kind]}) or compress it with gzip (a .gz file)"
            )
        return io.TextIOWrapper(binary, encoding=encoding, newline="")
    except BaseException:
        binary.close()
        raise


def _head(binary: Any, size: int = 10) -> bytes:
    peek = getattr(binary, "peek", None)
    if peek is not None:
        return bytes(peek(size)[:size])
    head = binary.read(size)
    binary.seek(0)
    return bytes(head)


class _GzipReader(gzip.GzipFile):
    """A gzip stream that closes the file it reads when it is closed."""

    def __init__(self, source: Any) -> None:
        super().__init__(fileobj=source, mode="rb")
        self._source = source

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


def refuse_rejects_over_source(source_path: Any, rejects_path: str) -> None:
    """A rejects file that is the file being read would be emptied before it is read: refused
    (however the two paths are written: relative, absolute, ``file://``, a symlink, a URI)."""
    if source_path and same_file(str(source_path), str(rejects_path)):
        raise ContactsConfigError(
            f"rejects_path {rejects_path!r} is the file being read (source_path {source_path!r}): writing the "
            "rejected rows there would empty it before it is read, and its rows would be lost. Give "
            "rejects_path another file, e.g. one named after the run ('.../rejects-{{ run_id }}.ndjson')"
        )


def same_file(a: str, b: str) -> bool:
    """True when the paths ``a`` and ``b`` name the same file."""
    where_a, where_b = _location(a), _location(b)
    if where_a == where_b:
        return True
    if where_a[0] == where_b[0] == "file" and os.path.exists(where_a[1]) and os.path.exists(where_b[1]):
        return os.path.samefile(where_a[1], where_b[1])  # hard links
    return False


def _location(path: str) -> tuple[str, str]:
    """``(scheme, where)``: one file's name however its path is written."""
    match = URI_SCHEME.match(path.strip())
    scheme = match.group(1).lower() if match else "file"
    rest = path.strip()[match.end() :] if match else path
    if scheme != "file":
        netloc, _, key = rest.partition("/")
        bucket = netloc.rsplit("@", 1)[-1]  # s3://conn_id@bucket/key names the bucket's key
        # memory:///bucket/key (how Airflow 3.1 writes memory://bucket/key) is the same object
        return _SAME_SCHEME.get(scheme, scheme), re.sub("/+", "/", f"{bucket}/{key}").strip("/")
    local = rest
    if local.startswith("localhost/"):
        local = local[len("localhost") :]
    return "file", os.path.realpath(os.path.expanduser(local))
