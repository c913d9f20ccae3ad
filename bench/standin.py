"""The bench's stand-in network: every lead call answered ``{"status": "ok", "id": N}`` after a delay.

The delay is the first part of the path, so one stand-in serves every latency the bench needs:
``POST /d50/api/wm/push.json`` answers after 50 ms, ``/d0/api/...`` at once (any call, any body).
``GET /count`` answers how many lead calls it has answered, so the bench can check that the orders
it counted reached the network.

Why not the sandbox (:mod:`leadkit.testing.sandbox`): it has no latency option, and its engine
checks every field, which would add its own CPU to the machine the bench measures. Why asyncio rather
than a threaded server: one event loop holds any number of calls waiting out their delay (the limit
measured is leadkit's, never this server's thread pool), and it costs some tens of microseconds of
CPU per call, small next to what it stands in front of. HTTP/1.1 keep-alive, as leadkit's session
and PHP's curl expect; nothing else of HTTP.

Run: ``python bench/standin.py [--port N]``: prints ``standin http://127.0.0.1:PORT`` once it listens,
then serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal

_ids = itertools.count(1001)
_answered = 0


def _answer(status: str, body: bytes, keep_alive: bool) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode() + body


def _delay(path: str) -> float:
    """Seconds before the answer: ``/d50/...`` is 50 ms; no ``/dN`` prefix is none."""
    first = path.split("/", 2)[1] if path.count("/") >= 2 else ""
    return int(first[1:]) / 1000 if first[:1] == "d" and first[1:].isdigit() else 0.0


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global _answered
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("content-length") or 0)
            if length:
                await reader.readexactly(length)
            keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
            if method == "GET" and path == "/count":
                body = json.dumps({"leads": _answered}).encode()
            else:
                delay = _delay(path)
                if delay:
                    await asyncio.sleep(delay)
                _answered += 1
                body = json.dumps({"status": "ok", "id": next(_ids)}).encode()
            writer.write(_answer("200 OK", body, keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=1024)
    print(f"standin http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(_main(parser.parse_args().port))
