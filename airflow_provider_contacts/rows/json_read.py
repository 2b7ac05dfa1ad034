"""Reading JSON whatever it holds: a whole number too long for Python becomes a
:class:`~airflow_provider_contacts.rows.values.LongNumber` (its row is rejected, naming the field)
instead of a bare ValueError, and a JSON array is streamed element by element."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.values import read_int


def loads(text: str) -> Any:
    """``json.loads``, with a whole number too long for Python read as a ``LongNumber`` (its row
    is rejected, naming the field) instead of a bare ValueError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python's limit on the digits of an int read from text
        return json.loads(text, parse_int=read_int)


def iter_json_array(handle: Any, path: str, chunk: int = 1 << 16) -> Iterator[Any]:
    """Stream the elements of a top-level JSON array without loading the file."""
    return _JsonArray(handle, path, chunk).elements()


class _JsonArray:
    """The elements of the JSON array ``handle`` holds, read ``chunk`` characters at a time; an
    element nested too deep to read is an error naming the file and its line."""

    def __init__(self, handle: Any, path: str, chunk: int) -> None:
        self.handle, self.path, self.chunk = handle, path, chunk
        self.buf, self.pos, self.eof, self.lines_before = "", 0, False, 0

    def fill(self) -> bool:
        data = self.handle.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.lines_before += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos :] + data, 0
        return True

    def elements(self) -> Iterator[Any]:
        started = False
        while True:
            buf = self.buf
            while self.pos < len(buf) and buf[self.pos] in " \t\r\n,":
                if buf[self.pos] == "," and not started:
                    break
                self.pos += 1
            if self.pos >= len(buf):
                if self.eof or not self.fill():
                    if not started:
                        raise ContactsConfigError(
                            f"source_path {self.path!r} is empty: a .json source must be a JSON array ([] for no "
                            "rows; an empty input can also be an empty .ndjson file)"
                        )
                    raise ContactsConfigError(f"source_path {self.path!r}: the JSON array is not closed")
                continue
            if not started:
                if buf[self.pos] == "\ufeff":
                    self.pos += 1
                    continue
                if buf[self.pos] != "[":
                    raise ContactsConfigError(
                        f"source_path {self.path!r}: a .json source must be a JSON array of objects"
                    )
                started = True
                self.pos += 1
                continue
            if buf[self.pos] == "]":
                return
            decoded = self.decode()
            if decoded is not None:
                self.pos = decoded[1]
                yield decoded[0]

    def decode(self) -> tuple[Any, int] | None:
        """The element at ``pos`` and its end, or None when more text was read to find its end."""
        try:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                raise
            except ValueError:  # a whole number too long for Python: its row is rejected, naming it
                value, end = _LONG_DECODER.raw_decode(self.buf, self.pos)
        except json.JSONDecodeError as exc:
            if not self.eof and self.fill():
                return None
            raise ContactsConfigError(f"source_path {self.path!r} is not valid JSON ({exc.msg})") from None
        except RecursionError:
            line = self.lines_before + self.buf.count("\n", 0, self.pos) + 1
            raise ContactsConfigError(
                f"source_path {self.path!r}: the element at line {line} nests lists/objects too deep to read; no "
                "vendor takes that: flatten it or remove it"
            ) from None
        if end >= len(self.buf) and not self.eof and self.fill():  # a number may continue in the next chunk
            return None
        return value, end


_DECODER = json.JSONDecoder()
_LONG_DECODER = json.JSONDecoder(parse_int=read_int)
