"""Seed 000's Python client against the real binary on its embedded defaults.

Starts `switchboard --bind 127.0.0.1:PORT` (no config: one raw endpoint at
/ws with the welcome message), connects with the `websockets` client exactly
as the seed's example does, checks the welcome message, sends the sensor
JSON, and checks that it appears on the server's stdout as one JSON event
with the connection's metadata. Then SIGTERM: the client sees close 1001 and
the server exits 0. Every wait is bounded.

Usage: python seed_client_test.py PATH_TO_SWITCHBOARD_BINARY
"""

import asyncio
import json
import signal
import socket
import subprocess
import sys

import websockets

TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"server did not listen on {port}")


async def read_event(stdout: asyncio.StreamReader, kind: str) -> dict:
    while True:
        line = await asyncio.wait_for(stdout.readline(), TIMEOUT)
        assert line, "server stdout closed before the event"
        event = json.loads(line)  # stdout carries JSON lines only
        if event["event"] == kind:
            return event


async def main(binary: str) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        binary, "--bind", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_listening(port)
        uri = f"ws://127.0.0.1:{port}/ws"
        async with websockets.connect(uri, open_timeout=TIMEOUT) as websocket:
            welcome = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT))
            assert welcome["type"] == "welcome", welcome
            assert welcome["connection_id"], welcome

            message = {
                "type": "sensor_data",
                "temperature": 23.5,
                "humidity": 65.2,
                "timestamp": "2023-12-01T10:30:00Z",
            }
            await websocket.send(json.dumps(message))
            event = await read_event(server.stdout, "message")
            assert event["message"] == message, event
            assert event["message_type"] == "json", event
            conn = event["connection"]
            assert conn["id"] == welcome["connection_id"], event
            assert conn["endpoint"] == "/ws", event
            assert conn["remote_addr"].startswith("127.0.0.1:"), event
            assert conn["user_agent"].startswith("Python"), event
            print("message event:", json.dumps(event))

            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(websocket.recv(), TIMEOUT)
                raise AssertionError("expected the server to close")
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1001, closed
        disconnect = await read_event(server.stdout, "disconnect")
        assert disconnect["disconnect"]["code"] == 1001, disconnect
        status = await asyncio.wait_for(server.wait(), TIMEOUT)
        assert status == 0, f"server exited with {status}"
        print("ok: welcome, message event on stdout, close 1001 and exit 0 on SIGTERM")
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
