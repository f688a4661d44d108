"""Reading a WebSocket that speaks text only: both edges (the local server and the emulated API Gateway)
refuse a binary frame as API Gateway does, by closing with 1003, instead of failing on it."""

from __future__ import annotations

from starlette.websockets import WebSocket, WebSocketDisconnect

CLOSE_UNSUPPORTED_DATA = 1003


async def receive_text(websocket: WebSocket) -> str | None:
    """The next text message, or None once a binary one has closed the socket."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text: str | None = message.get("text")
    if text is None:
        await websocket.close(code=CLOSE_UNSUPPORTED_DATA, reason="binary frames are not supported")
    return text
