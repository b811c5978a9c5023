"""The real centrifuge-python SDK against the real binary on examples/channels.toml.

Starts `switchboard --config examples/channels.toml --bind 127.0.0.1:PORT`
(the binary from $SB_TEST_BIN, by default ../../target/release/switchboard
relative to this file), then runs each test below with centrifuge-python
clients on ws://127.0.0.1:PORT/connection/websocket. Each test uses its own
channels; every wait is on an SDK event and bounded. Prints one line per
test and a closing 'N passed, N failed' line; exits 1 if any test failed.

Usage: SB_TEST_BIN=PATH python channels_sdk_test.py [TEST_NAME_SUBSTRING]
"""

import asyncio
import json
import os
import socket
import sys
import time
import traceback
import urllib.request
from pathlib import Path

from centrifuge import (
    Client,
    ClientEventHandler,
    ClientState,
    DuplicateSubscriptionError,
    ReplyError,
    StreamPosition,
    SubscriptionEventHandler,
    SubscriptionState,
)

TIMEOUT = 10.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
API_KEY = "change-me-api-key"


def binary_path() -> str:
    env = os.environ.get("SB_TEST_BIN")
    return str(Path(env).resolve()) if env else str((HERE / "../../target/release/switchboard").resolve())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/connection/websocket"
        self.proc = None

    async def start(self) -> None:
        self.log = ROOT / "target" / "channels-sdk-python-server.log"
        self.log.parent.mkdir(exist_ok=True)
        self.stderr = open(self.log, "wb")
        self.proc = await asyncio.create_subprocess_exec(
            binary_path(), "--config", str(ROOT / "examples/channels.toml"),
            "--bind", f"127.0.0.1:{self.port}",
            cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL, stderr=self.stderr,
            # The server reads every SWITCHBOARD_<KEY> variable as a config key;
            # the test runs on examples/channels.toml exactly, whatever the shell has.
            env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(f"switchboard exited with {self.proc.returncode} before listening")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"switchboard did not listen on {self.port}")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.stderr.close()

    async def api(self, method: str, body: dict) -> dict:
        def call() -> dict:
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/api/{method}",
                data=json.dumps(body).encode(),
                headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
                method="POST",
            )
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(req, timeout=TIMEOUT) as res:
                return json.loads(res.read())

        return await asyncio.to_thread(call)


class Recorder:
    """Every event of a client or a subscription, in order, with bounded waits."""

    def __init__(self) -> None:
        self.events: list = []
        self.cond = asyncio.Condition()

    async def record(self, kind: str, ctx) -> None:
        async with self.cond:
            self.events.append((kind, ctx))
            self.cond.notify_all()

    def of(self, kind: str) -> list:
        return [c for k, c in self.events if k == kind]

    async def wait(self, kind: str, pred=lambda c: True, after: int = 0, what: str = ""):
        """The first `kind` event at index >= `after` that passes `pred`."""

        def find():
            for k, c in self.events[after:]:
                if k == kind and pred(c):
                    return c
            return None

        async with self.cond:
            try:
                await asyncio.wait_for(self.cond.wait_for(lambda: find() is not None), TIMEOUT)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"timed out waiting for {kind} {what}; events: {[k for k, _ in self.events]}"
                ) from None
            return find()

    async def wait_count(self, kind: str, n: int, what: str = ""):
        async with self.cond:
            try:
                await asyncio.wait_for(self.cond.wait_for(lambda: len(self.of(kind)) >= n), TIMEOUT)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"timed out waiting for {n} {kind} events ({what}); got {len(self.of(kind))}"
                ) from None
            return self.of(kind)


def client_events(rec: Recorder) -> ClientEventHandler:
    class Events(ClientEventHandler):
        async def on_connecting(self, ctx):
            await rec.record("connecting", ctx)

        async def on_connected(self, ctx):
            await rec.record("connected", ctx)

        async def on_disconnected(self, ctx):
            await rec.record("disconnected", ctx)

        async def on_error(self, ctx):
            await rec.record("error", ctx)

    return Events()


def sub_events(rec: Recorder) -> SubscriptionEventHandler:
    class Events(SubscriptionEventHandler):
        async def on_subscribing(self, ctx):
            await rec.record("subscribing", ctx)

        async def on_subscribed(self, ctx):
            await rec.record("subscribed", ctx)

        async def on_unsubscribed(self, ctx):
            await rec.record("unsubscribed", ctx)

        async def on_publication(self, ctx):
            await rec.record("publication", ctx)

        async def on_join(self, ctx):
            await rec.record("join", ctx)

        async def on_leave(self, ctx):
            await rec.record("leave", ctx)

        async def on_error(self, ctx):
            await rec.record("error", ctx)

    return Events()


class Ctx:
    """One test's server handle and the clients it made (all disconnected at the end)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list = []

    def client(self, **kwargs):
        rec = Recorder()
        opts = dict(timeout=5.0, min_reconnect_delay=0.05, max_reconnect_delay=0.5, proxy=None)
        opts.update(kwargs)
        c = Client(self.server.url, events=client_events(rec), **opts)
        self.clients.append(c)
        return c, rec

    async def connected(self, **kwargs):
        c, rec = self.client(**kwargs)
        await c.connect()
        ctx = await rec.wait("connected")
        return c, rec, ctx.client

    async def close(self) -> None:
        for c in self.clients:
            try:
                await asyncio.wait_for(c.disconnect(), TIMEOUT)
            except Exception:  # noqa: BLE001 - teardown goes on
                pass


async def subscribed(c: Client, channel: str, **kwargs):
    rec = Recorder()
    sub = c.new_subscription(channel, events=sub_events(rec), **kwargs)
    await sub.subscribe()
    ctx = await rec.wait("subscribed", what=channel)
    return sub, rec, ctx


# ---------------------------------------------------------------- the tests


async def test_publish_20_received_in_order(t: Ctx) -> None:
    """py: two clients on chat:room; B publishes 20; A gets all in order, offsets 1..20."""
    a, _, _ = await t.connected()
    b, _, b_id = await t.connected()
    _, rec_a, _ = await subscribed(a, "chat:room")
    sub_b, _, _ = await subscribed(b, "chat:room")
    n = 20
    for i in range(1, n + 1):
        await sub_b.publish({"n": i, "text": f"message {i}"})
    pubs = await rec_a.wait_count("publication", n, "20 publications")
    assert [p.pub.data["n"] for p in pubs] == list(range(1, n + 1)), [p.pub.data for p in pubs]
    assert [p.pub.offset for p in pubs] == list(range(1, n + 1)), [p.pub.offset for p in pubs]
    assert all(p.pub.info and p.pub.info.client == b_id for p in pubs), pubs[0]


async def test_join_leave(t: Ctx) -> None:
    """py: B with join_leave on chat:lobby sees A join and leave (unsubscribe, then disconnect)."""
    a, _, a_id = await t.connected()
    b, _, _ = await t.connected()
    _, rec_b, _ = await subscribed(b, "chat:lobby", join_leave=True)
    sub_a, _, _ = await subscribed(a, "chat:lobby")
    join = await rec_b.wait("join", lambda c: c.info.client == a_id, what="of A")
    assert join.info.user == "", join
    mark = len(rec_b.events)
    await sub_a.unsubscribe()
    await rec_b.wait("leave", lambda c: c.info.client == a_id, after=mark, what="of A")
    # Again, leaving by closing the whole connection this time.
    mark = len(rec_b.events)
    await sub_a.subscribe()
    await rec_b.wait("join", lambda c: c.info.client == a_id, after=mark, what="of A again")
    mark = len(rec_b.events)
    await a.disconnect()
    await rec_b.wait("leave", lambda c: c.info.client == a_id, after=mark, what="of A on disconnect")


async def test_presence_three_connections(t: Ctx) -> None:
    """py: three clients on chat:presence: presence has the 3 ids, stats 3 clients / 1 user."""
    ids, subs = [], []
    for _ in range(3):
        c, _, cid = await t.connected()
        ids.append(cid)
        sub, _, _ = await subscribed(c, "chat:presence")
        subs.append(sub)
    presence = await subs[0].presence()
    assert sorted(presence.clients) == sorted(ids), presence
    for cid, info in presence.clients.items():
        assert info.client == cid and info.user == "", info
    stats = await subs[2].presence_stats()
    assert (stats.num_clients, stats.num_users) == (3, 1), stats


async def test_history(t: Ctx) -> None:
    """py: chat:history after 5 publishes: all (-1), limit 2, reverse, since, limit 0."""
    c, _, _ = await t.connected()
    sub, _, ctx = await subscribed(c, "chat:history")
    assert ctx.recoverable, ctx
    for i in range(1, 6):
        await sub.publish({"n": i})
    all_ = await sub.history(limit=-1)
    assert [p.data["n"] for p in all_.publications] == [1, 2, 3, 4, 5], all_
    assert [p.offset for p in all_.publications] == [1, 2, 3, 4, 5], all_
    assert all_.offset == 5 and all_.epoch, all_
    two = await sub.history(limit=2)
    assert [p.data["n"] for p in two.publications] == [1, 2], two
    rev = await sub.history(limit=-1, reverse=True)
    assert [p.data["n"] for p in rev.publications] == [5, 4, 3, 2, 1], rev
    rev2 = await sub.history(limit=2, reverse=True)
    assert [p.data["n"] for p in rev2.publications] == [5, 4], rev2
    since = await sub.history(limit=-1, since=StreamPosition(offset=2, epoch=all_.epoch))
    assert [p.offset for p in since.publications] == [3, 4, 5], since
    position = await sub.history()  # the SDK's default limit 0: the position only
    assert position.publications == [] and position.offset == 5, position
    assert position.epoch == all_.epoch, position


async def test_recovery_after_forced_disconnect(t: Ctx) -> None:
    """py: A force-disconnected with 3011 recovers exactly the 50 missed, then live ones."""
    a, rec_a_client, a_id = await t.connected()
    b, _, _ = await t.connected()
    sub_a, rec_a, first = await subscribed(a, "chat:recover")
    assert first.recoverable and not first.was_recovering, first
    sub_b, _, _ = await subscribed(b, "chat:recover")
    for i in range(1, 4):
        await sub_b.publish({"n": i})
    pubs = await rec_a.wait_count("publication", 3, "3 live")
    noted = pubs[-1].pub.offset
    assert noted == 3, pubs

    # Keep A away while B publishes: its reconnect attempts go to a path that
    # does not exist (HTTP 404) until the address is restored. Test-only use
    # of the SDK's private address attribute.
    real_address = a._address
    a._address = real_address.replace("/connection/websocket", "/gated-away")
    mark_client = len(rec_a_client.events)
    mark_sub = len(rec_a.events)
    res = await t.server.api(
        "disconnect", {"client": a_id, "disconnect": {"code": 3011, "reason": "force reconnect"}}
    )
    assert "error" not in res, res
    away = await rec_a_client.wait("connecting", after=mark_client, what="after force reconnect")
    assert away.code == 3011, away
    for i in range(4, 54):
        await sub_b.publish({"n": i})
    assert len(rec_a.of("publication")) == 3, "nothing reached A while it was away"

    a._address = real_address
    connected = await rec_a_client.wait("connected", after=mark_client, what="reconnect")
    assert connected.client != a_id, connected
    again = await rec_a.wait("subscribed", after=mark_sub, what="resubscribe")
    assert again.was_recovering is True, again
    assert again.recovered is True, again
    pubs = await rec_a.wait_count("publication", 53, "50 recovered")
    recovered = pubs[3:]
    assert [p.pub.offset for p in recovered] == list(range(noted + 1, noted + 51)), [p.pub.offset for p in recovered]
    assert [p.pub.data["n"] for p in recovered] == list(range(4, 54))

    await sub_b.publish({"n": 54})
    await sub_b.publish({"n": 55})
    pubs = await rec_a.wait_count("publication", 55, "live after recovery")
    assert [p.pub.offset for p in pubs] == list(range(1, 56)), "no duplicates, no gaps"
    assert len(rec_a.of("subscribed")) == 2, rec_a.of("subscribed")
    assert sub_a.state == SubscriptionState.SUBSCRIBED


async def test_errors(t: Ctx) -> None:
    """py: nope:x → unsubscribed 102; publish news/prices → 103; history/presence news → 108; duplicate refused."""
    c, _, _ = await t.connected()
    rec = Recorder()
    sub = c.new_subscription("nope:x", events=sub_events(rec))
    await sub.subscribe()
    unsub = await rec.wait("unsubscribed", what="nope:x")
    assert unsub.code == 102, unsub
    assert sub.state == SubscriptionState.UNSUBSCRIBED

    for channel in ("news", "prices:btc"):
        try:
            await c.publish(channel, {"x": 1})
            raise AssertionError(f"publish to {channel} succeeded")
        except ReplyError as e:
            assert e.code == 103, (channel, e)

    news, _, _ = await subscribed(c, "news")
    for call in (lambda: news.history(limit=-1), news.presence, news.presence_stats):
        try:
            await call()
            raise AssertionError("history/presence on news succeeded")
        except ReplyError as e:
            assert e.code == 108, e

    try:
        c.new_subscription("news")
        raise AssertionError("a second subscription to news was allowed")
    except DuplicateSubscriptionError:
        pass


async def test_connect_with_token(t: Ctx) -> None:
    """py: a forged token → close 3500 "invalid token": the SDK ends disconnected, no reconnect."""
    c, rec = t.client(token="not-a-valid-token")
    await c.connect()
    d = await rec.wait("disconnected", what="after the server closed")
    assert (d.code, d.reason) == (3500, "invalid token"), d
    assert c.state == ClientState.DISCONNECTED
    assert [k for k, _ in rec.events if k in ("connecting", "connected")] == ["connecting"], rec.events


TESTS = [
    test_publish_20_received_in_order,
    test_join_leave,
    test_presence_three_connections,
    test_history,
    test_recovery_after_forced_disconnect,
    test_errors,
    test_connect_with_token,
]


async def main(selected: str) -> int:
    server = Server()
    await server.start()
    passed = failed = 0
    try:
        for test in TESTS:
            if selected and selected not in test.__name__:
                continue
            t = Ctx(server)
            try:
                await asyncio.wait_for(test(t), 60)
                passed += 1
                print(f"ok {test.__name__}: {test.__doc__.strip()}", flush=True)
            except BaseException as e:  # noqa: BLE001 - reported, counted
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                failed += 1
                print(f"FAIL {test.__name__}: {test.__doc__.strip()}", flush=True)
                traceback.print_exc()
            finally:
                await t.close()
    finally:
        await server.stop()
    if failed:
        print(f"server log: {server.log}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "")))
