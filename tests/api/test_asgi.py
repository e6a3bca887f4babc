"""The application class (api.asgi): a response's head leaves with its body, after the
request's audit record is committed, in one piece on the wire."""

from __future__ import annotations

import json
from typing import Any

from api.asgi import head_with_body
from tests.api.test_journal_api import body


async def test_the_head_waits_for_the_body_and_the_body_for_the_audit_record(client, admin, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    application = client.app
    writer = application.state.audit_writer
    events: list[str] = []
    committed = writer.record

    async def record(audit_record: Any) -> None:
        await committed(audit_record)
        events.append(f"audit committed {audit_record.status}")

    monkeypatch.setattr(writer, "record", record)
    payload = json.dumps(body(world, "4300")).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/journal-entries", "raw_path": b"/api/v1/journal-entries", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"test"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(payload)).encode()),
                         (b"authorization", f"Bearer {admin.token}".encode())]}
    requests = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return requests.pop() if requests else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"] + (f" {message['status']}" if "status" in message else ""))

    with client.portal() as portal:  # where the test client runs the application, its writers and their loop
        portal.call(application, scope, receive, send)
    assert events == ["audit committed 201", "http.response.start 201", "http.response.body"]


async def test_a_streamed_answer_sends_its_head_with_the_first_chunk() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = head_with_body(send)  # type: ignore[arg-type]
    await wrapped({"type": "http.response.start", "status": 200, "headers": []})
    assert sent == []
    await wrapped({"type": "http.response.body", "body": b"a", "more_body": True})
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    await wrapped({"type": "http.response.body", "body": b"b", "more_body": False})
    assert [m.get("body") for m in sent] == [None, b"a", b"b"]


async def test_a_stream_that_fails_before_its_first_chunk_is_audited_once_with_what_was_sent(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A forced record of a non-JSON answer (an export) is written at its first body message: a
    stream that fails before it is answered with another head (a 500), which is what the record
    says, once."""
    from api.audit_hook import audit_context, before_send

    application = client.app
    writer = application.state.audit_writer
    written: list[int] = []

    async def record(audit_record: Any) -> None:
        written.append(audit_record.status)

    monkeypatch.setattr(writer, "record", record)
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/api/v1/audit-log/export", "query_string": b"",
                             "headers": [], "client": ("127.0.0.1", 50000), "litestar_app": application}
    audit_context(scope).force = True
    await before_send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]}, scope)
    assert written == [], "nothing is written before the first body message"
    await before_send({"type": "http.response.start", "status": 500,
                       "headers": [(b"content-type", b"application/problem+json")]}, scope)
    await before_send({"type": "http.response.body", "body": b"{}", "more_body": False}, scope)
    assert written == [500]
