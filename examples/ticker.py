"""A price ticker on Switchboard: last-value delivery with the real Centrifugo SDKs.

Needs: pip install centrifuge-python cent

    python3 examples/ticker.py                      # starts target/release/switchboard itself
    python3 examples/ticker.py --binary PATH        # starts that binary on examples/channels.toml
    python3 examples/ticker.py --url ws://HOST:PORT # uses a running server (examples/channels.toml)

A publisher (the server API, through `cent`) publishes a BTC and an ETH
price every 100 ms to `prices:btc` and `prices:eth` (namespace `prices`:
history_size 1, last_value, recovery; clients may not publish). A
subscriber (centrifuge-python, anonymous) joins after a few ticks and gets
the newest price at once, in the subscribe reply: centrifuge-python emits
the reply's publications as ordinary `publication` events right after
`subscribed` (Subscription._move_subscribed), so the app needs no special
case. Then the live ticks follow, in order, each at the next offset of the
channel's stream. A client publish to prices:btc is refused with 103, and a
latecomer who arrives after the last tick still gets the final price.
Each step is narrated; an unmet expectation raises AssertionError (exit 1).
The run ends with `ok` and stops by itself within about 30 seconds.

With --url the channel names get a random suffix, so the run does not
depend on (or disturb) what earlier runs left on that server.
"""

import asyncio
import time

from cent import AsyncClient, PublishRequest
from centrifuge import Client, ClientEventHandler, ReplyError, SubscriptionEventHandler

from _runner import client_handler, API_KEY, WAIT, run_example, say

TICK = 0.1     # seconds between two rounds of prices
ROUNDS_BEFORE = 5   # rounds published before the subscriber arrives
ROUNDS_AFTER = 10   # rounds it then receives live


def price(symbol: str, round_no: int) -> float:
    """A made-up but deterministic price walk."""
    base, step = {"btc": (64000.0, 12.5), "eth": (3150.0, -1.75)}[symbol]
    return round(base + step * round_no + (7.25 if round_no % 3 == 0 else 0.0), 2)


# ------------------------------------------------------------------ events


class Inbox:
    """The events of one client or subscription, in arrival order.

    expect() returns the next not yet expected event of a kind that matches,
    waiting at most WAIT seconds for it."""

    def __init__(self, name: str, echo: bool = False) -> None:
        self.name = name
        self.echo = echo
        self.events: list = []
        self.taken: dict = {}
        self.changed = asyncio.Condition()

    async def add(self, kind: str, ctx) -> None:
        async with self.changed:
            self.events.append((kind, ctx, time.monotonic()))
            self.changed.notify_all()
        if self.echo and kind == "publication":
            say(f"      {self.name} <- {ctx.pub.data['symbol']} {ctx.pub.data['price']:>9.2f}"
                f"  offset {ctx.pub.offset}")

    def kinds(self) -> list:
        return [kind for kind, _, _ in self.events]

    async def expect(self, kind: str, pred=lambda ctx: True, what: str = ""):
        """The event's context and the monotonic time it arrived."""

        def find():
            for i in range(self.taken.get(kind, 0), len(self.events)):
                k, ctx, _ = self.events[i]
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
            return self.events[i][1], self.events[i][2]


def subscription_handler(inbox: Inbox) -> SubscriptionEventHandler:
    class Handler(SubscriptionEventHandler):
        async def on_subscribed(self, ctx):
            await inbox.add("subscribed", ctx)

        async def on_unsubscribed(self, ctx):
            await inbox.add("unsubscribed", ctx)

        async def on_publication(self, ctx):
            await inbox.add("publication", ctx)

        async def on_error(self, ctx):
            await inbox.add("error", ctx)

    return Handler()


async def connected_client(ws_url: str, name: str):
    inbox = Inbox(name)
    client = Client(ws_url, events=client_handler(inbox), timeout=5.0,
                    min_reconnect_delay=0.1, max_reconnect_delay=1.0,
                    proxy=None)  # connect directly, whatever the environment's proxy settings
    await client.connect()
    connected, _ = await inbox.expect("connected", what="after connect()")
    say(f"  {name} connected (anonymous), client id {connected.client}")
    return client


# ------------------------------------------------------------------ the scenario


class Publisher:
    """Publishes one price per symbol every TICK seconds through the server API."""

    def __init__(self, api: AsyncClient, channels: dict) -> None:
        self.api = api
        self.channels = channels              # symbol -> channel
        self.sent: dict = {s: {} for s in channels}   # symbol -> {offset: price}
        self.rounds_done = 0
        self.progress = asyncio.Condition()

    async def run(self, rounds: int) -> None:
        for _ in range(rounds):
            started = time.monotonic()
            n = self.rounds_done + 1
            values = {symbol: price(symbol, n) for symbol in self.channels}
            say(f"  publisher tick {n:>2} -> "
                + "  ".join(f"{symbol} {value:>9.2f}" for symbol, value in values.items()))
            for symbol, channel in self.channels.items():
                result = await self.api.publish(
                    PublishRequest(channel=channel, data={"symbol": symbol, "price": values[symbol]}))
                # The publish result is the publication's position in the stream.
                assert result.offset and result.epoch, result
                self.sent[symbol][result.offset] = values[symbol]
            async with self.progress:
                self.rounds_done = n
                self.progress.notify_all()
            await asyncio.sleep(max(0.0, TICK - (time.monotonic() - started)))

    async def wait_rounds(self, n: int) -> None:
        async with self.progress:
            try:
                await asyncio.wait_for(self.progress.wait_for(lambda: self.rounds_done >= n), WAIT)
            except asyncio.TimeoutError:
                raise AssertionError(f"the publisher did not reach round {n} in {WAIT}s") from None


async def scenario(ws_url: str, api_url: str, suffix: str) -> None:
    channels = {s: f"prices:{s}{suffix}" for s in ("btc", "eth")}
    api = AsyncClient(api_url, API_KEY, timeout=WAIT)
    publisher = Publisher(api, channels)
    clients = []
    ticking = None
    try:
        say(f"1. The publisher starts: {ROUNDS_BEFORE + ROUNDS_AFTER} rounds, one every "
            f"{int(TICK * 1000)} ms, to {', '.join(channels.values())}")
        ticking = asyncio.create_task(publisher.run(ROUNDS_BEFORE + ROUNDS_AFTER))
        await publisher.wait_rounds(ROUNDS_BEFORE)
        for symbol, channel in channels.items():
            say(f"    {channel}: publish results so far at offsets {sorted(publisher.sent[symbol])}")

        say(f"\n2. After tick {ROUNDS_BEFORE} a subscriber arrives")
        client = await connected_client(ws_url, "subscriber")
        clients.append(client)
        subs = {}
        for symbol, channel in channels.items():
            inbox = Inbox("subscriber", echo=True)
            sub = client.new_subscription(channel, events=subscription_handler(inbox))
            asked = time.monotonic()
            await sub.subscribe()
            subscribed, _ = await inbox.expect("subscribed", what=f"to {channel}")
            first, at = await inbox.expect("publication", what=f"(last value of {channel})")
            top = subscribed.stream_position.offset
            say(f"    subscribed to {channel}: stream offset {top}, epoch "
                f"{subscribed.stream_position.epoch}; the latest price {first.pub.data['price']:.2f}"
                f" (offset {first.pub.offset}) came {1000 * (at - asked):.1f} ms after subscribe()")
            assert subscribed.recoverable, subscribed
            # The reply's publication carries the stream's top offset; a live
            # push would carry a later one. So this one came in the reply.
            assert first.pub.offset == top, (first.pub.offset, top)
            assert first.pub.data == {"symbol": symbol, "price": publisher.sent[symbol][top]}, first
            assert top >= ROUNDS_BEFORE, top
            events = inbox.kinds()
            assert events[:2] == ["subscribed", "publication"], events
            subs[symbol] = (sub, inbox, top)

        say("\n3. The subscriber tries to publish a price itself")
        try:
            await asyncio.wait_for(subs["btc"][0].publish({"symbol": "btc", "price": 1.0}), WAIT)
            raise AssertionError("a client publish to prices:btc was accepted")
        except ReplyError as err:
            say(f"    refused: code {err.code} {err.message!r} (only the server API publishes prices)")
            assert err.code == 103, err

        say("\n4. The live ticks follow, in order")
        try:
            await asyncio.wait_for(asyncio.shield(ticking), WAIT + ROUNDS_AFTER * TICK)
        except asyncio.TimeoutError:
            raise AssertionError("the publisher did not finish its rounds") from None
        for symbol, (sub, inbox, top) in subs.items():
            last = max(publisher.sent[symbol])
            while True:
                got, _ = await inbox.expect("publication", what=f"up to offset {last}")
                if got.pub.offset == last:
                    break
            offsets = [ctx.pub.offset for kind, ctx, _ in inbox.events if kind == "publication"]
            prices = [ctx.pub.data["price"] for kind, ctx, _ in inbox.events if kind == "publication"]
            say(f"    {channels[symbol]}: offsets {offsets}")
            assert offsets == list(range(top, last + 1)), offsets  # no gap, no duplicate
            assert prices == [publisher.sent[symbol][o] for o in offsets], prices

        say("\n5. The publisher has stopped; a latecomer subscribes to the ETH channel")
        late = await connected_client(ws_url, "latecomer")
        clients.append(late)
        inbox = Inbox("latecomer", echo=True)
        sub = late.new_subscription(channels["eth"], events=subscription_handler(inbox))
        await sub.subscribe()
        subscribed, _ = await inbox.expect("subscribed", what=f"to {channels['eth']}")
        got, _ = await inbox.expect("publication", what="(the final price)")
        final = max(publisher.sent["eth"])
        say(f"    the final price {got.pub.data['price']:.2f} at offset {got.pub.offset} "
            f"(stream offset {subscribed.stream_position.offset})")
        assert got.pub.offset == final == subscribed.stream_position.offset, (got, final)
        assert got.pub.data["price"] == publisher.sent["eth"][final], got
        history = await asyncio.wait_for(sub.history(limit=-1), WAIT)
        say(f"    history keeps {len(history.publications)} publication (history_size 1): "
            f"offset {history.publications[0].offset}")
        assert [p.offset for p in history.publications] == [final], history
        await asyncio.sleep(3 * TICK)
        assert inbox.kinds().count("publication") == 1, inbox.kinds()
    finally:
        if ticking is not None and not ticking.done():
            ticking.cancel()
        for client in clients:
            try:
                await asyncio.wait_for(client.disconnect(), WAIT)
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        await api.close()


if __name__ == "__main__":
    run_example(scenario, __doc__)
