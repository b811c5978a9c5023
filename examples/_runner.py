"""The examples' shared harness, not an example.

Starts examples/channels.toml on a local switchboard binary (or uses a
running server given by --url), runs an example's scenario within WHOLE
seconds, shows the server log tail on failure and ends with `ok`.
"""

import argparse
import asyncio
import os
import secrets
import socket
import sys
import tempfile
import time
import traceback
import urllib.parse
from pathlib import Path

from centrifuge import ClientEventHandler

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "channels.toml"
DEFAULT_BINARY = ROOT / "target" / "release" / "switchboard"
API_KEY = "change-me-api-key"   # [api] key in examples/channels.toml
WAIT = 10.0    # every single wait
WHOLE = 30.0   # the whole scenario


def say(text: str = "") -> None:
    print(text, flush=True)


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """`BINARY --config examples/channels.toml --bind 127.0.0.1:<free port>`."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.proc = None
        self.log = tempfile.TemporaryFile()

    async def start(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise AssertionError(f"{self.binary} is not an executable (cargo build --release?)")
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "--config", str(CONFIG), "--bind", f"127.0.0.1:{self.port}",
            cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL, stderr=self.log,
            # SWITCHBOARD_<KEY> variables override config keys: run on the file alone.
            env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        )
        deadline = time.monotonic() + WAIT
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(f"switchboard exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"switchboard did not listen on port {self.port} in {WAIT}s")
                await asyncio.sleep(0.05)

    def tail(self) -> str:
        self.log.seek(0)
        return b"".join(self.log.readlines()[-20:]).decode(errors="replace")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.log.close()


async def main(args, scenario) -> None:
    server = None
    if args.url:
        parsed = urllib.parse.urlsplit(args.url)
        assert parsed.scheme in ("ws", "wss") and parsed.netloc, f"not a ws:// URL: {args.url}"
        host = parsed.netloc
        ws_url = f"{parsed.scheme}://{host}/connection/websocket"
        api_url = f"{'https' if parsed.scheme == 'wss' else 'http'}://{host}/api"
        suffix = "-" + secrets.token_hex(3)
        say(f"server: {ws_url} (running; channel suffix {suffix!r})")
    else:
        server = LocalServer(args.binary or str(DEFAULT_BINARY))
        await server.start()
        ws_url = f"ws://127.0.0.1:{server.port}/connection/websocket"
        api_url = f"http://127.0.0.1:{server.port}/api"
        suffix = ""
        say(f"server: {server.binary} --config examples/channels.toml on {ws_url}")
    say(f"server API: {api_url} (X-API-Key: {API_KEY})\n")
    try:
        try:
            await asyncio.wait_for(scenario(ws_url, api_url, suffix), WHOLE)
        except asyncio.TimeoutError:
            raise AssertionError(f"the scenario did not finish within {WHOLE}s") from None
        except AssertionError:
            if server is not None:
                say("server log (last lines):\n" + server.tail())
            raise
    finally:
        if server is not None:
            await server.stop()
    say("\nok")


def run_example(scenario, doc: str) -> None:
    """Parse --binary/--url, run `scenario(ws_url, api_url, suffix)` against the
    server, and exit 1 on an AssertionError. `doc` is the example's module
    docstring; its first line is the CLI description."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--binary", help="switchboard binary to start (default: target/release/switchboard)")
    target.add_argument("--url", help="a running server, ws://HOST:PORT")
    try:
        asyncio.run(main(parser.parse_args(), scenario))
    except AssertionError:
        traceback.print_exc()
        sys.exit(1)


def client_handler(inbox):
    """A client event handler that records connected, disconnected and error
    events in `inbox` (anything with an async `add(kind, ctx)`)."""
    class Handler(ClientEventHandler):
        async def on_connected(self, ctx):
            await inbox.add("connected", ctx)

        async def on_disconnected(self, ctx):
            await inbox.add("disconnected", ctx)

        async def on_error(self, ctx):
            await inbox.add("error", ctx)

    return Handler()
