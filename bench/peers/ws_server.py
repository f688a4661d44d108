"""The per-connection memory baseline: the ``websockets`` library's server holding connections, nothing more.

python -m bench.peers.ws_server      # prints "listening on ws://127.0.0.1:PORT"; stops on SIGINT/SIGTERM
"""

from __future__ import annotations

import asyncio
import signal

from websockets.asyncio.server import ServerConnection, serve


async def hold(connection: ServerConnection) -> None:
    await connection.wait_closed()


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(hold, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
