"""The application class: Litestar, with each response's head sent together with its body.

Litestar sends a response's status and headers (`http.response.start`) before its body, and
the audit hook (`api.audit_hook`) then holds the body until the request's audit record is
committed. Sent as they come, the head left first and the body one audit commit later: two
writes to the socket, and a client woken twice for one answer. Held back until the first body
message, the head leaves with it, once the record is committed: one wake-up for the client,
and no part of an answer leaves before its record is in the log. A streamed answer (a CSV
export) sends its head with its first chunk, so nothing waits for the end of the stream."""

from __future__ import annotations

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import Message, Receive, Scope, Send


def head_with_body(send: Send) -> Send:
    """`send`, with `http.response.start` held until the next message, then both sent in turn."""
    held: Message | None = None

    async def send_head_with_body(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            held = message
            return
        if held is not None:
            head, held = held, None
            await send(head)
        await send(message)

    return send_head_with_body


class GrandLivre(Litestar):
    """Litestar whose HTTP responses go out head and body together (see the module)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await super().__call__(scope, receive, head_with_body(send) if scope["type"] == ScopeType.HTTP else send)
