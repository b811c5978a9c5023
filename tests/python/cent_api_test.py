"""The server API driven by the real `cent` SDK (Centrifugo's Python API client).

Starts `switchboard --config examples/channels.toml --bind 127.0.0.1:PORT`,
opens real WebSocket clients speaking Centrifugo's JSON protocol by hand
(so there are subscribers and presence), and calls every supported server
API method through `cent.AsyncClient` at http://127.0.0.1:PORT/api:
publish, broadcast, history (limit, reverse, since), history_remove,
presence, presence_stats, channels, info, batch and disconnect. The methods
Switchboard does not support (b64data, idempotency_key, subscribe,
unsubscribe, refresh) are called too, and the error each gives is asserted,
so this file documents them. Every wait is bounded; the first failed check
raises and the script exits non-zero.

Usage: python cent_api_test.py PATH_TO_SWITCHBOARD_BINARY
"""

import asyncio
import json
import socket
import sys
from pathlib import Path

import aiohttp
import websockets
from cent import (
    AsyncClient,
    BatchRequest,
    BroadcastRequest,
    ChannelsRequest,
    Disconnect,
    DisconnectRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    HistoryResult,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    PublishResult,
    RefreshRequest,
    StreamPosition,
    SubscribeRequest,
    UnsubscribeRequest,
)
from cent.exceptions import (
    CentApiResponseError,
    CentTransportError,
    CentUnauthorizedError,
)

TIMEOUT = 10
API_KEY = "change-me-api-key"
ROOM = "chat:room"
CONFIG = Path(__file__).resolve().parents[2] / "examples" / "channels.toml"


def check(name: str, detail: str = "") -> None:
    print(f"ok  {name}" + (f"  ({detail})" if detail else ""), flush=True)


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


class WsClient:
    """A Centrifugo JSON-protocol client, written by hand on `websockets`."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.client_id = ""
        self.next_id = 0
        self.replies: dict[int, asyncio.Future] = {}
        self.pushes: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> "WsClient":
        ws = await websockets.connect(url, open_timeout=TIMEOUT)
        client = cls(ws)
        reply = await client.call("connect", {})
        client.client_id = reply["client"]
        assert client.client_id, reply
        return client

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                # One frame may hold several replies, one JSON object a line.
                for line in frame.splitlines():
                    if not line.strip():
                        continue
                    message = json.loads(line)
                    if message.get("id"):
                        future = self.replies.pop(message["id"], None)
                        if future and not future.done():
                            future.set_result(message)
                    elif "push" in message:
                        await self.pushes.put(message["push"])
                    # `{}` is a ping: nothing to do in a test this short.
        except websockets.ConnectionClosed:
            pass

    async def call(self, method: str, params: dict) -> dict:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, method: params}))
        reply = await asyncio.wait_for(future, TIMEOUT)
        assert "error" not in reply, reply
        return reply[method]

    async def subscribe(self, channel: str) -> dict:
        return await self.call("subscribe", {"channel": channel})

    async def next_push(self, kind: str, channel: str = ROOM) -> dict:
        """The next push of this kind (`pub`, `join`, `leave`…) on channel,
        skipping others (such as join/leave announcements)."""
        while True:
            push = await asyncio.wait_for(self.pushes.get(), TIMEOUT)
            if push.get("channel") == channel and kind in push:
                return push[kind]

    async def closed(self) -> tuple[int, str]:
        """Waits for the server to close this connection; its close code and reason."""
        await asyncio.wait_for(self.ws.wait_closed(), TIMEOUT)
        assert self.ws.protocol.close_rcvd is not None, "closed without a close frame from the server"
        return self.ws.protocol.close_rcvd.code, self.ws.protocol.close_rcvd.reason

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


async def expect_api_error(call, code: int) -> CentApiResponseError:
    try:
        result = await call
    except CentApiResponseError as err:
        assert err.code == code, f"expected API error {code}, got {err.code}: {err.message}"
        return err
    raise AssertionError(f"expected API error {code}, got result {result!r}")


async def expect_transport_error(call, status: int) -> CentTransportError:
    try:
        result = await call
    except CentTransportError as err:
        assert err.status_code == status, f"expected HTTP {status}, got {err.status_code}"
        return err
    raise AssertionError(f"expected HTTP {status}, got result {result!r}")


async def scenario(port: int) -> None:
    ws_url = f"ws://127.0.0.1:{port}/connection/websocket"
    api_url = f"http://127.0.0.1:{port}/api"
    api = AsyncClient(api_url, API_KEY, timeout=TIMEOUT)
    clients: list[WsClient] = []
    try:
        # Two subscribers of chat:room, and a third connection subscribed to nothing.
        alice = await WsClient.connect(ws_url)
        bob = await WsClient.connect(ws_url)
        carol = await WsClient.connect(ws_url)
        clients += [alice, bob, carol]
        await alice.subscribe(ROOM)
        await bob.subscribe(ROOM)
        ids = {alice.client_id, bob.client_id, carol.client_id}
        assert len(ids) == 3, ids
        check("3 websocket clients connected, 2 subscribed to chat:room",
              f"alice={alice.client_id} bob={bob.client_id}")

        # --- authentication --------------------------------------------------
        async with AsyncClient(api_url, "wrong-key", timeout=TIMEOUT) as wrong:
            try:
                await wrong.info(InfoRequest())
                raise AssertionError("a wrong API key was accepted")
            except CentUnauthorizedError:
                pass
        check("wrong X-API-Key -> CentUnauthorizedError (HTTP 401)")

        # --- publish -----------------------------------------------------------
        published = await api.publish(PublishRequest(channel=ROOM, data={"text": "hello"}))
        assert isinstance(published, PublishResult), published
        assert published.offset == 1 and published.epoch, published
        epoch = published.epoch
        for who in (alice, bob):
            pub = await who.next_push("pub")
            assert pub["data"] == {"text": "hello"}, pub
            assert pub["offset"] == published.offset, (pub, published)
        check("publish -> both subscribers receive the data with the returned offset",
              f"offset={published.offset} epoch={epoch}")

        published = await api.publish(
            PublishRequest(channel=ROOM, data={"text": "tagged"}, tags={"k": "v"})
        )
        pub = await alice.next_push("pub")
        assert pub["offset"] == 2 and pub.get("tags") == {"k": "v"}, pub
        await bob.next_push("pub")
        check("publish with tags -> pushed publication carries the tags", f"offset={pub['offset']}")

        err = await expect_api_error(api.publish(PublishRequest(channel="nope:x", data={})), 102)
        check("publish to unknown namespace nope:x -> API error 102", err.message)

        # --- broadcast -----------------------------------------------------------
        result = await api.broadcast(
            BroadcastRequest(channels=["chat:a", "nope:b", "chat:c"], data={"n": 1})
        )
        assert len(result.responses) == 3, result
        first, bad, last = result.responses
        assert first.error is None and first.result.offset == 1 and first.result.epoch, first
        assert bad.result is None and bad.error.code == 102, bad
        assert last.error is None and last.result.offset == 1 and last.result.epoch, last
        check("broadcast [chat:a, nope:b, chat:c] -> offsets 1, error 102, offset 1",
              bad.error.message)

        # --- history -------------------------------------------------------------
        for n in range(3, 6):
            p = await api.publish(PublishRequest(channel=ROOM, data={"n": n}))
            assert p.offset == n and p.epoch == epoch, p
        # chat:room now holds offsets 1..5.

        h = await api.history(HistoryRequest(channel=ROOM))
        assert isinstance(h, HistoryResult), h
        assert h.publications == [] and h.offset == 5 and h.epoch == epoch, h
        h = await api.history(HistoryRequest(channel=ROOM, limit=0))
        assert h.publications == [] and h.offset == 5, h
        check("history without limit / limit=0 -> position only", f"offset={h.offset}")

        h = await api.history(HistoryRequest(channel=ROOM, limit=-1))
        assert [p.offset for p in h.publications] == [1, 2, 3, 4, 5], h
        assert h.publications[0].data == {"text": "hello"}, h.publications[0]
        assert h.publications[1].tags == {"k": "v"}, h.publications[1]
        assert h.publications[4].data == {"n": 5}, h.publications[4]
        check("history limit=-1 -> all 5 publications, oldest first, data and tags kept")

        h = await api.history(HistoryRequest(channel=ROOM, limit=2))
        assert [p.offset for p in h.publications] == [1, 2] and h.offset == 5, h
        check("history limit=2 -> offsets [1, 2]")

        h = await api.history(HistoryRequest(channel=ROOM, limit=2, reverse=True))
        assert [p.offset for p in h.publications] == [5, 4], h
        check("history limit=2 reverse -> offsets [5, 4]")

        since = StreamPosition(offset=3, epoch=epoch)
        h = await api.history(HistoryRequest(channel=ROOM, limit=-1, since=since))
        assert [p.offset for p in h.publications] == [4, 5], h
        h = await api.history(HistoryRequest(channel=ROOM, limit=1, since=since))
        assert [p.offset for p in h.publications] == [4], h
        check("history since offset 3 -> [4, 5]; with limit=1 -> [4]")

        err = await expect_api_error(
            api.history(HistoryRequest(channel=ROOM, limit=-1,
                                       since=StreamPosition(offset=3, epoch="wrong"))),
            112,
        )
        check("history since a position in another epoch -> API error 112", err.message)

        for price in (100, 101):
            await api.publish(PublishRequest(channel="prices:btc", data={"price": price}))
        h = await api.history(HistoryRequest(channel="prices:btc", limit=-1))
        assert [(p.offset, p.data) for p in h.publications] == [(2, {"price": 101})], h
        check("history of prices:btc (history_size 1) -> only the newest publication")

        err = await expect_api_error(api.history(HistoryRequest(channel="nope:x", limit=-1)), 102)
        check("history of unknown namespace -> API error 102", err.message)

        # --- history_remove ----------------------------------------------------
        await api.history_remove(HistoryRemoveRequest(channel=ROOM))
        h = await api.history(HistoryRequest(channel=ROOM, limit=-1))
        assert h.publications == [] and h.offset == 5 and h.epoch == epoch, h
        p = await api.publish(PublishRequest(channel=ROOM, data={"n": 6}))
        assert p.offset == 6 and p.epoch == epoch, p
        for who in (alice, bob):
            for n in range(3, 7):
                assert (await who.next_push("pub"))["offset"] == n
        check("history_remove -> no publications, offset 5 and epoch kept; next publish is 6")

        # --- presence --------------------------------------------------------------
        pr = await api.presence(PresenceRequest(channel=ROOM))
        assert set(pr.presence) == {alice.client_id, bob.client_id}, pr
        for client_id, info in pr.presence.items():
            assert info.client == client_id and info.user == "", info
        check("presence of chat:room -> exactly the two subscribers' client ids, user \"\"")

        ps = await api.presence_stats(PresenceStatsRequest(channel=ROOM))
        assert ps.num_clients == 2, ps
        assert ps.num_users == 1, ps  # both anonymous: one user, ""
        check("presence_stats -> num_clients 2, num_users 1 (both anonymous)")

        err = await expect_api_error(api.presence(PresenceRequest(channel="prices:btc")), 108)
        check("presence of prices:btc (presence off) -> API error 108", err.message)

        # --- channels ------------------------------------------------------------
        ch = await api.channels(ChannelsRequest(pattern="chat:*"))
        assert set(ch.channels) == {ROOM}, ch
        assert ch.channels[ROOM].num_clients == 2, ch
        ch = await api.channels(ChannelsRequest(pattern="prices:*"))
        assert ch.channels == {}, ch
        ch = await api.channels(ChannelsRequest())
        assert set(ch.channels) == {ROOM}, ch
        check("channels pattern chat:* -> {chat:room: 2 clients}; prices:* -> {}; no pattern -> all")

        # --- info ------------------------------------------------------------------
        info = await api.info(InfoRequest())
        assert len(info.nodes) == 1, info
        node = info.nodes[0]
        assert node.uid and node.name, node
        assert node.num_clients == 3, node
        assert node.num_channels == 1 and node.num_subs == 2, node
        check("info -> nodes[0]: num_clients 3, num_channels 1, num_subs 2",
              f"uid={node.uid} name={node.name} version={node.version}")

        # --- batch -----------------------------------------------------------------
        batch = await api.batch(BatchRequest(requests=[
            PublishRequest(channel=ROOM, data={"n": 7}),
            HistoryRequest(channel=ROOM, limit=1, reverse=True),
        ]))
        assert len(batch.replies) == 2, batch
        pub_reply, hist_reply = batch.replies
        assert isinstance(pub_reply, PublishResult) and pub_reply.offset == 7, pub_reply
        assert isinstance(hist_reply, HistoryResult), hist_reply
        assert [(p.offset, p.data) for p in hist_reply.publications] == [(7, {"n": 7})], hist_reply
        assert (await alice.next_push("pub"))["offset"] == 7
        assert (await bob.next_push("pub"))["offset"] == 7
        check("batch [publish, history] -> [PublishResult offset 7, HistoryResult with it]")

        # A failing command gets an error reply and does not fail the others.
        # cent 5.2.0 cannot read such a reply (its _validate_batch indexes
        # each reply by the method name and raises KeyError on `{"error": …}`),
        # so the SDK's failure is asserted and the replies are read over HTTP.
        commands = [
            PublishRequest(channel=ROOM, data={"n": 8}),
            PublishRequest(channel="nope:x", data={}),
            HistoryRequest(channel=ROOM),
        ]
        try:
            await api.batch(BatchRequest(requests=commands))
            raise AssertionError("cent parsed a batch with an error reply")
        except KeyError as err:
            assert err.args == ("publish",), err
        async with aiohttp.ClientSession(headers={"X-API-Key": API_KEY}) as http:
            async with http.post(f"{api_url}/batch",
                                 json=BatchRequest(requests=commands).api_payload,
                                 timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as resp:
                assert resp.status == 200, resp.status
                replies = (await resp.json())["replies"]
        assert len(replies) == 3, replies
        assert replies[0]["publish"]["offset"] == 9, replies  # 8 went to the cent call
        assert replies[1]["error"]["code"] == 102, replies
        assert replies[2]["history"]["offset"] == 9, replies
        for who in (alice, bob):
            assert [(await who.next_push("pub"))["offset"] for _ in range(2)] == [8, 9]
        check("batch [publish, publish nope:x, history] -> [result, error 102, result]",
              "cent 5.2.0 raises KeyError on the error reply")

        # --- disconnect --------------------------------------------------------------
        # Anonymous connections have user "": cent requires `user`.
        d = await api.disconnect(DisconnectRequest(user="alice", client=alice.client_id))
        assert d.model_extra.get("disconnected") == 0, d
        await asyncio.sleep(0.2)
        assert alice.ws.protocol.close_rcvd is None and bob.ws.protocol.close_rcvd is None
        check("disconnect user=alice client=<anonymous id> -> nobody disconnected")

        await api.disconnect(DisconnectRequest(user="", client=carol.client_id))
        code, reason = await carol.closed()
        # Centrifugo's default for an API disconnect: 3503 "force disconnect" (no reconnect).
        assert (code, reason) == (3503, "force disconnect"), (code, reason)
        check("disconnect user=\"\" client=carol -> carol closed with 3503 force disconnect", repr(reason))

        await api.disconnect(DisconnectRequest(
            user="", client=bob.client_id, disconnect=Disconnect(code=4001, reason="bye bob"),
        ))
        code, reason = await bob.closed()
        assert (code, reason) == (4001, "bye bob"), (code, reason)
        leave = await alice.next_push("leave")
        assert leave["info"]["client"] == bob.client_id, leave
        check("disconnect bob with code 4001 -> bob closed 4001 'bye bob'; alice gets leave push")

        assert alice.ws.protocol.close_rcvd is None, "alice was closed too"
        p = await api.publish(PublishRequest(channel=ROOM, data={"after": "disconnect"}))
        pub = await alice.next_push("pub")
        assert pub["offset"] == p.offset and pub["data"] == {"after": "disconnect"}, pub
        pr = await api.presence(PresenceRequest(channel=ROOM))
        assert set(pr.presence) == {alice.client_id}, pr
        info = await api.info(InfoRequest())
        assert info.nodes[0].num_clients == 1, info.nodes[0]
        check("alice still connected: receives the next publication; presence and info show only her")

        err = await expect_api_error(
            api.disconnect(DisconnectRequest(user="", client=alice.client_id,
                                             disconnect=Disconnect(code=2000, reason="x"))),
            107,
        )
        check("disconnect with code 2000 (not 1000/3000-4999) -> API error 107", err.message)

        # --- not supported ----------------------------------------------------------
        err = await expect_api_error(
            api.publish(PublishRequest(channel=ROOM, data=None, b64data="aGk=")), 107)
        check("publish with b64data -> API error 107 (not supported)", err.message)
        err = await expect_api_error(
            api.publish(PublishRequest(channel=ROOM, data={}, idempotency_key="k1")), 107)
        check("publish with idempotency_key -> API error 107 (not supported)", err.message)
        err = await expect_api_error(
            api.broadcast(BroadcastRequest(channels=[ROOM], data={}, idempotency_key="k1")), 107)
        check("broadcast with idempotency_key -> API error 107 (not supported)", err.message)

        # --- server-side subscriptions ---------------------------------------------
        result = await api.unsubscribe(UnsubscribeRequest(user="", channel=ROOM, client=alice.client_id))
        assert result.model_extra.get("connections") == 1, result
        push = await alice.next_push("unsubscribe")
        assert push == {"code": 2000, "reason": "server unsubscribe"}, push
        check("unsubscribe (server API) -> alice gets the unsubscribe push 2000")
        result = await api.subscribe(SubscribeRequest(user="", channel=ROOM, client=alice.client_id))
        assert result.model_extra.get("connections") == 1, result
        push = await alice.next_push("subscribe")
        assert push.get("recoverable") is True and push.get("epoch"), push
        check("subscribe (server API) -> alice gets the subscribe push, recoverable with an epoch")

        result = await api.refresh(RefreshRequest(user="nobody", expire_at=4102444800))
        assert result.model_extra.get("connections") == 0, result
        check("refresh of a user without connections -> 0 connections touched")
        async with aiohttp.ClientSession(headers={"X-API-Key": API_KEY}) as http:
            async with http.post(f"{api_url}/no_such_method", json={},
                                 timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as resp:
                body = await resp.json()
        assert resp.status == 404 and body["error"]["code"] == 104, (resp.status, body)
        check("the 404 body is Centrifugo's method-not-found error 104", body["error"]["message"][:60])
        assert alice.ws.protocol.close_rcvd is None, "alice was closed by an unsupported call"
    finally:
        for client in clients:
            await client.close()
        await api.close()


async def main(binary: str) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        binary, "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_listening(port)
        await asyncio.wait_for(scenario(port), 120)
        print("all cent server API checks passed")
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), TIMEOUT)
            except asyncio.TimeoutError:
                server.kill()
                await server.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
