"""The engine collector's own reading of pipelined HTTP/1.1 answers (`read_answer`): by
Content-Length, chunked, one after another on one connection, and a broken one refused."""

from __future__ import annotations

import http.client
import io

import pytest

from auditlib.sources._engine_http import read_answer


def reader(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]


def test_answers_one_after_another() -> None:
    r = reader(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
        b'{"a":1}'
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n[1, \r\n3;ext=1\r\n2]\n\r\n0\r\nX-Trailer: t\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 25\r\n\r\n"
        b'{"message":"no such one"}'
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    assert read_answer(r) == (200, b'{"a":1}')
    assert read_answer(r) == (200, b"[1, 2]\n")
    assert read_answer(r) == (404, b'{"message":"no such one"}')
    assert read_answer(r) == (204, b"")


@pytest.mark.parametrize("data", [
    b"",                                                      # the connection closed
    b"SSH-2.0-OpenSSH\r\n\r\n",                                # not HTTP
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",    # cut short
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",              # headers never end
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n",      # headers without end
])
def test_a_broken_answer_is_refused(data: bytes) -> None:
    with pytest.raises(http.client.HTTPException):
        read_answer(reader(data))
