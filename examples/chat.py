"""A chat room on Switchboard with the real Centrifugo SDKs.

Needs: pip install centrifuge-python cent

    python3 examples/chat.py                      # starts target/release/switchboard itself
    python3 examples/chat.py --binary PATH        # starts that binary on examples/channels.toml
    python3 examples/chat.py --url ws://HOST:PORT # uses a running server (examples/channels.toml)

Alice and Bob connect with HS256 connection tokens (made here with the
standard library), meet in `chat:lobby` (history, presence, join/leave,
client publishing), and Bob and Carol get private messages that the server
API publishes to user-limited channels (`personal:dm#bob`): Carol's arrive
while she is offline and wait in her offline queue until she subscribes.
Each step is narrated; an unmet expectation raises AssertionError (exit 1).
The run ends with `ok` and stops by itself within about 30 seconds.

With --url the channel names get a random suffix, so the run does not
depend on (or disturb) what earlier runs left on that server.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import time

from cent import AsyncClient, PublishRequest
from centrifuge import Client, SubscriptionEventHandler

from _runner import client_handler, API_KEY, WAIT, run_example, say

TOKEN_SECRET = "change-me-hs256-secret-0123456789"  # [channels] token_hmac_secret


# ------------------------------------------------------------------ tokens


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256_token(user: str, info: dict, ttl_seconds: int = 3600) -> str:
    """A Centrifugo connection token: a JWT signed with HMAC-SHA256.

    `sub` is the user, `info` what presence and publications show about
    the connection, `exp` when the token expires."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": user, "info": info, "exp": int(time.time()) + ttl_seconds}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(TOKEN_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


# ------------------------------------------------------------------ events


class Inbox:
    """The events of one client or subscription, in arrival order.

    expect() returns the next not yet expected event of a kind that matches,
    waiting at most WAIT seconds for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list = []
        self.taken: dict = {}
        self.changed = asyncio.Condition()

    async def add(self, kind: str, ctx) -> None:
        async with self.changed:
            self.events.append((kind, ctx))
            self.changed.notify_all()

    def kinds(self) -> list:
        return [kind for kind, _ in self.events]

    async def expect(self, kind: str, pred=lambda ctx: True, what: str = ""):
        def find():
            for i in range(self.taken.get(kind, 0), len(self.events)):
                k, ctx = self.events[i]
                if k == kind and pred(ctx):
                    return i
            return None

        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: find() is not None), WAIT)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"{self.name}: no {kind} event {what} within {WAIT}s; got {self.kinds()}"
                ) from None
            i = find()
            self.taken[kind] = i + 1
            return self.events[i][1]


def subscription_handler(inbox: Inbox) -> SubscriptionEventHandler:
    class Handler(SubscriptionEventHandler):
        async def on_subscribed(self, ctx):
            await inbox.add("subscribed", ctx)

        async def on_unsubscribed(self, ctx):
            await inbox.add("unsubscribed", ctx)

        async def on_publication(self, ctx):
            await inbox.add("publication", ctx)

        async def on_join(self, ctx):
            await inbox.add("join", ctx)

        async def on_leave(self, ctx):
            await inbox.add("leave", ctx)

        async def on_error(self, ctx):
            await inbox.add("error", ctx)

    return Handler()


class User:
    """One person's connection (one centrifuge-python Client) and subscriptions."""

    def __init__(self, ws_url: str, name: str, display: str) -> None:
        self.name = name
        self.inbox = Inbox(name)
        self.client = Client(
            ws_url,
            events=client_handler(self.inbox),
            token=hs256_token(name, {"name": display}),
            timeout=5.0,
            min_reconnect_delay=0.1,
            max_reconnect_delay=1.0,
            proxy=None,  # connect directly, whatever the environment's proxy settings
        )
        self.client_id = ""
        self.subs: dict = {}

    async def connect(self) -> None:
        await self.client.connect()
        connected = await self.inbox.expect("connected", what="after connect()")
        self.client_id = connected.client
        say(f"  {self.name} connected as user {self.name!r}, client id {self.client_id}")

    async def subscribe(self, channel: str, **options):
        inbox = Inbox(f"{self.name} on {channel}")
        sub = self.client.new_subscription(channel, events=subscription_handler(inbox), **options)
        self.subs[channel] = (sub, inbox)
        await sub.subscribe()
        return sub, inbox

    async def subscribed(self, channel: str, **options):
        sub, inbox = await self.subscribe(channel, **options)
        await inbox.expect("subscribed", what=f"to {channel}")
        return sub, inbox

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(), WAIT)
        except Exception:  # noqa: BLE001 - teardown goes on
            pass


def who(info) -> str:
    """`alice (Alice)` from a ClientInfo carrying the token's info."""
    name = (info.conn_info or {}).get("name", "?") if isinstance(info.conn_info, dict) else "?"
    return f"{info.user} ({name})"


# ------------------------------------------------------------------ the scenario


async def scenario(ws_url: str, api_url: str, suffix: str) -> None:
    lobby = f"chat:lobby{suffix}"
    dm_bob = f"personal:dm{suffix}#bob"
    dm_carol = f"personal:dm{suffix}#carol"
    api = AsyncClient(api_url, API_KEY, timeout=WAIT)
    alice = User(ws_url, "alice", "Alice")
    bob = User(ws_url, "bob", "Bob")
    carol = User(ws_url, "carol", "Carol")
    try:
        say(f"1. Alice opens the room {lobby}")
        await alice.connect()
        alice_lobby, alice_events = await alice.subscribed(lobby, join_leave=True)
        say(f"  alice subscribed to {lobby} (join/leave announcements on)")

        say("\n2. Alice posts three messages")
        texts = ["hi, anyone here?", "the build is green", "lunch at noon?"]
        for text in texts:
            await alice_lobby.publish({"text": text})
            say(f"  alice: {text}")
        for text in texts:  # she gets her own messages back too
            await alice_events.expect("publication", lambda c, t=text: c.pub.data["text"] == t)

        say("\n3. Bob joins and reads what was said before he came")
        await bob.connect()
        bob_lobby, bob_events = await bob.subscribed(lobby, join_leave=True)
        history = await asyncio.wait_for(bob_lobby.history(limit=-1), WAIT)
        say(f"  history of {lobby}: {len(history.publications)} messages, "
            f"stream offset {history.offset}, epoch {history.epoch}")
        for pub in history.publications:
            say(f"    #{pub.offset} {who(pub.info)}: {pub.data['text']}")
        assert [p.data["text"] for p in history.publications] == texts, history
        assert all(p.info and p.info.user == "alice" for p in history.publications), history
        assert all(p.info.conn_info == {"name": "Alice"} for p in history.publications), history
        assert [p.offset for p in history.publications] == [1, 2, 3], history

        join = await alice_events.expect("join", lambda c: c.info.user == "bob", what="of bob")
        say(f"  alice sees: {who(join.info)} joined (client {join.info.client})")
        assert join.info.client == bob.client_id and join.info.conn_info == {"name": "Bob"}, join

        say("\n4. Who is in the room (presence)")
        presence = await asyncio.wait_for(alice_lobby.presence(), WAIT)
        for client_id, info in sorted(presence.clients.items(), key=lambda kv: kv[1].user):
            say(f"  {who(info)}  client {client_id}")
        users = {info.user: info.conn_info for info in presence.clients.values()}
        assert users == {"alice": {"name": "Alice"}, "bob": {"name": "Bob"}}, presence
        assert set(presence.clients) == {alice.client_id, bob.client_id}, presence
        stats = await asyncio.wait_for(alice_lobby.presence_stats(), WAIT)
        say(f"  presence_stats: {stats.num_clients} clients, {stats.num_users} users")
        assert (stats.num_clients, stats.num_users) == (2, 2), stats

        say("\n5. Bob answers")
        await bob_lobby.publish({"text": "hello alice!"})
        say("  bob: hello alice!")
        got = await alice_events.expect("publication", lambda c: c.pub.data["text"] == "hello alice!")
        say(f"  alice receives #{got.pub.offset} from {who(got.pub.info)}: {got.pub.data['text']}")
        assert got.pub.info.user == "bob" and got.pub.offset == 4, got

        say(f"\n6. A private message to Bob, published by the server API on {dm_bob}")
        _, bob_dm_events = await bob.subscribed(dm_bob)
        say(f"  bob subscribed to {dm_bob} (only user bob may)")
        await api.publish(PublishRequest(channel=dm_bob, data={"text": "your package shipped"}))
        say("  server API publish -> " + dm_bob)
        got = await bob_dm_events.expect("publication", what="on the private channel")
        say(f"  bob receives: {got.pub.data['text']}  (no publisher info: the server API sent it)")
        assert got.pub.data == {"text": "your package shipped"} and got.pub.info is None, got

        say(f"\n7. Two private messages to Carol while she is offline ({dm_carol})")
        for text in ("welcome, carol", "your invite to the lobby"):
            await api.publish(PublishRequest(channel=dm_carol, data={"text": text}))
            say(f"  server API publish -> {dm_carol}: {text}")
        pending = await offline_queue(api_url, "carol")
        say(f"  offline_queue(user=carol): {pending} publications waiting")
        assert pending >= 2, pending  # exactly 2 on a fresh server
        await carol.connect()
        _, carol_events = await carol.subscribe(dm_carol)
        subscribed = await carol_events.expect("subscribed", what=f"to {dm_carol}")
        first = await carol_events.expect("publication", what="(queued #1)")
        second = await carol_events.expect("publication", what="(queued #2)")
        say(f"  carol subscribed to {dm_carol} and receives the queued messages, in order:")
        for got in (first, second):
            say(f"    {got.pub.data['text']}")
        assert [first.pub.data["text"], second.pub.data["text"]] == [
            "welcome, carol", "your invite to the lobby"], (first, second)
        assert subscribed.channel == dm_carol, subscribed
        left = await offline_queue(api_url, "carol")
        say(f"  offline_queue(user=carol) now: {left}")
        assert left == pending - 2, (pending, left)

        say(f"\n8. Alice tries to read Bob's private channel {dm_bob}")
        _, spy_events = await alice.subscribe(dm_bob)
        refused = await spy_events.expect("unsubscribed", what=f"from {dm_bob}")
        say(f"  refused: code {refused.code} {refused.reason!r}")
        assert refused.code == 103, refused
        assert "subscribed" not in spy_events.kinds(), spy_events.kinds()

        say("\n9. Bob leaves")
        await bob.client.disconnect()
        leave = await alice_events.expect("leave", lambda c: c.info.user == "bob", what="of bob")
        say(f"  alice sees: {who(leave.info)} left (client {leave.info.client})")
        assert leave.info.client == bob.client_id, leave
        presence = await asyncio.wait_for(alice_lobby.presence(), WAIT)
        say(f"  presence now: {sorted(i.user for i in presence.clients.values())}")
        assert [i.user for i in presence.clients.values()] == ["alice"], presence
    finally:
        for user in (alice, bob, carol):
            await user.close()
        await api.close()


async def offline_queue(api_url: str, user: str) -> int:
    """Switchboard's own server API method (not in cent): pending offline publications."""
    import aiohttp  # installed with cent

    async with aiohttp.ClientSession(headers={"X-API-Key": API_KEY}) as http:
        async with http.post(f"{api_url}/offline_queue", json={"user": user},
                             timeout=aiohttp.ClientTimeout(total=WAIT)) as resp:
            body = await resp.json()
    assert resp.status == 200 and "result" in body, (resp.status, body)
    return body["result"]["pending"]


if __name__ == "__main__":
    run_example(scenario, __doc__)
