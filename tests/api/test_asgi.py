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
