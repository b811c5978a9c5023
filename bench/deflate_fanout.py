#!/usr/bin/env python3
"""Fan-out with permessage-deflate, for bench/run's compression scenario.

wsbench does not offer permessage-deflate (its WebSocket client has no
compression), so against `compression = "shared"` or `"dedicated"` it would
measure uncompressed traffic. This is a small stand-in, Python 3 standard
library only: N subscribers connect to a channels endpoint offering
`permessage-deflate; client_max_window_bits`, send the subscribe frame and
wait for the subscribe reply; then one publisher POSTs publications to the
server API at a fixed rate (HTTP/1.1 keep-alive), and every subscriber
inflates what it receives and looks for the `wsb_seq`/`wsb_ts` markers.

Reported as one JSON line (the last line of stdout), with the field names of
`wsbench fanout` where they mean the same: subscribed, published,
delivered, delivered_per_s, latency (end to end, this process's clock),
loss, duplicates, CPU of the server (--pid), of this process and of the rest
of the machine, plus what compression changes: how many subscribers
negotiated deflate, the extension the server answered, and the bytes read
from the sockets per delivery (frame headers included) against the inflated
bytes per delivery.

Loopback targets only; every run is bounded (--duration at most 120 s).
It is much slower than wsbench: keep N x rate to about 20,000 deliveries/s.
"""
import argparse
import asyncio
import json
import os
import re
import struct
import sys
import time
import urllib.parse
import zlib

MARK = re.compile(rb'wsb_seq"?\s*:\s*(\d+)\s*,\s*"?wsb_ts"?\s*:\s*(\d+)')
CLK = os.sysconf("SC_CLK_TCK")


def now_us():
    return time.monotonic_ns() // 1000


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK
    except OSError:
        return None


def proc_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK


def loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


def mask_frame(opcode, payload):
    head = bytearray([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    key = os.urandom(4)
    head += key
    m = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") if n else b""
    return bytes(head) + masked


class Sub(asyncio.Protocol):
    def __init__(self, run, host, port, path):
        self.run = run
        self.req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                       if run.deflate else "")
                    + "\r\n").encode()
        self.buf = bytearray()
        self.upgraded = False
        self.extension = ""
        self.inflate = None
        self.frag = None
        self.frag_compressed = False
        self.ready = asyncio.get_running_loop().create_future()
        self.seen = bytearray(run.total // 8 + 1)
        self.unique = 0
        self.dups = 0
        self.closed = False

    def connection_made(self, transport):
        self.t = transport
        transport.write(self.req)

    def connection_lost(self, exc):
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the subscribe reply"))

    def data_received(self, data):
        self.run.wire_bytes += len(data)
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[:end + 4]
            if " 101 " not in head[0] + " ":
                self.ready.set_exception(ConnectionError(head[0]))
                self.t.close()
                return
            for h in head[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "sec-websocket-extensions":
                    self.extension = v.strip()
            if self.extension.startswith("permessage-deflate"):
                self.inflate = zlib.decompressobj(-15)
            self.upgraded = True
            self.t.write(mask_frame(1, self.run.sub_frame))
        self.frames()

    def frames(self):
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                off = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                off = 10
            if len(buf) < off + n:
                return
            payload = bytes(buf[off:off + n])
            del buf[:off + n]
            op = b0 & 0x0F
            fin = b0 & 0x80
            if op == 8:
                self.t.close()
                return
            if op == 9:
                self.t.write(mask_frame(10, payload))
                continue
            if op == 10:
                continue
            if op in (1, 2):
                self.frag_compressed = bool(b0 & 0x40)
                self.frag = payload
            elif op == 0 and self.frag is not None:
                self.frag += payload
            else:
                continue
            if fin:
                msg, self.frag = self.frag, None
                if self.frag_compressed:
                    msg = self.inflate.decompress(msg + b"\x00\x00\xff\xff")
                self.message(msg)

    def message(self, msg):
        run = self.run
        run.inflated_bytes += len(msg)
        if not self.ready.done():
            if b'"id":2' in msg:
                self.ready.set_result(True)
            return
        t = now_us()
        for seq, ts in MARK.findall(msg):
            seq = int(seq)
            i, b = seq >> 3, 1 << (seq & 7)
            if i >= len(self.seen):
                continue
            if self.seen[i] & b:
                self.dups += 1
                continue
            self.seen[i] |= b
            self.unique += 1
            run.delivered += 1
            run.last_recv = t
            run.lat.append(t - int(ts))


class Run:
    pass


async def http_post(reader, writer, host, port, path, body):
    writer.write((f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    if length:
        await reader.readexactly(length)
    parts = status.split()
    return int(parts[1]) if len(parts) > 1 else 0


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    return float(sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p / 100))])


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sub-url", required=True)
    ap.add_argument("--publish", required=True, help="http://127.0.0.1:PORT/api/publish")
    ap.add_argument("--subscribe-frame", default='{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"bench"}}')
    ap.add_argument("--template", default='{"channel":"bench","data":{"wsb_seq":{seq},"wsb_ts":{ts},"pad":"{pad}"}}')
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("-s", "--size", type=int, default=100, help="payload bytes (the data object)")
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--drain", type=float, default=3)
    ap.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    su, pu = urllib.parse.urlsplit(a.sub_url), urllib.parse.urlsplit(a.publish)
    for u in (su, pu):
        if not loopback(u.hostname or ""):
            sys.exit(f"{u.geturl()}: only loopback targets are allowed")
    if not (0 < a.duration <= 120 and 0 < a.rate <= 10000 and 0 < a.n <= 20000):
        sys.exit("bounds: 0 < --duration <= 120, 0 < --rate <= 10000, 0 < -n <= 20000")

    run = Run()
    run.deflate = not a.no_deflate
    run.sub_frame = a.subscribe_frame.encode()
    run.total = int(a.rate * a.duration + 0.999)
    run.delivered = 0
    run.wire_bytes = 0
    run.inflated_bytes = 0
    run.lat = []
    run.last_recv = 0
    loop = asyncio.get_running_loop()

    t_conn = time.monotonic()
    subs, errors = [], {}
    sem = asyncio.Semaphore(100)

    async def connect():
        async with sem:
            try:
                _, sub = await asyncio.wait_for(loop.create_connection(
                    lambda: Sub(run, su.hostname, su.port, su.path or "/"), su.hostname, su.port), 10)
                await asyncio.wait_for(sub.ready, 10)
                subs.append(sub)
            except (OSError, ConnectionError, asyncio.TimeoutError) as e:
                k = type(e).__name__ + (f": {e}" if str(e) else "")
                errors[k[:80]] = errors.get(k[:80], 0) + 1

    await asyncio.gather(*(connect() for _ in range(a.n)))
    connect_s = time.monotonic() - t_conn
    if not subs:
        sys.exit(f"no subscriber connected: {errors}")
    negotiated = sum(1 for s in subs if s.inflate is not None)
    await asyncio.sleep(a.settle)

    tpl = a.template
    base = len(tpl.replace("{seq}", "").replace("{ts}", "").replace("{pad}", ""))
    reader, writer = await asyncio.open_connection(pu.hostname, pu.port)
    path = pu.path or "/"
    run.wire_bytes = run.inflated_bytes = 0
    cpu0, self0, mach0 = proc_cpu(a.pid) if a.pid else None, time.process_time(), machine_busy()
    rss0 = proc_rss(a.pid) if a.pid else None
    start = time.monotonic()
    late_stop = start + a.duration + 1.0
    published = failed = 0
    pub_lat = []
    for seq in range(run.total):
        at = start + seq / a.rate
        now = time.monotonic()
        if now >= late_stop:
            break
        if at > now:
            await asyncio.sleep(at - now)
        ts = str(now_us())
        fill = max(0, a.size - (base + len(str(seq)) + len(ts)))  # as wsbench: the body is -s bytes
        body = tpl.replace("{seq}", str(seq)).replace("{ts}", ts).replace("{pad}", "x" * fill).encode()
        t = time.monotonic()
        try:
            code = await http_post(reader, writer, pu.hostname, pu.port, path, body)
        except (OSError, asyncio.IncompleteReadError):
            code = 0
            reader, writer = await asyncio.open_connection(pu.hostname, pu.port)
        pub_lat.append((time.monotonic() - t) * 1e6)
        if 200 <= code < 300:
            published += 1
        else:
            failed += 1
    publish_s = time.monotonic() - start
    expected = published * len(subs)
    deadline = time.monotonic() + a.drain
    while run.delivered < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    dt = time.monotonic() - start
    cpu1, self1, mach1 = proc_cpu(a.pid) if a.pid else None, time.process_time(), machine_busy()
    rss1 = proc_rss(a.pid) if a.pid else None
    writer.close()
    for s in subs:
        s.t.close()

    server = None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / dt * 100)
    client = round((self1 - self0) / dt * 100)
    machine = round((mach1 - mach0) / dt * 100)
    other = max(0, machine - client - (server or 0))
    lat = sorted(run.lat)
    # first publication to last delivery, as wsbench reports it
    window = max(publish_s, run.last_recv / 1e6 - start if run.last_recv else 0)
    delivered_per_s = run.delivered / window if window > 0 else 0
    loss = max(0, expected - run.delivered)
    exts = sorted({s.extension for s in subs})
    res = {
        "cmd": "fanout-deflate", "label": a.label, "sub_url": a.sub_url, "publish": a.publish,
        "n": a.n, "subscribed": len(subs), "subscriber_errors": errors, "subscribe_s": round(connect_s, 3),
        "deflate_offered": run.deflate, "deflate_negotiated": negotiated, "extension": exts[0] if len(exts) == 1 else exts,
        "rate": a.rate, "duration_s": a.duration, "size": a.size, "publishers": 1,
        "scheduled": run.total, "published": published, "publish_failed": failed,
        "unsent": max(0, run.total - published - failed),
        "publish_rate": round(published / publish_s) if publish_s else 0, "publish_s": round(publish_s, 3),
        "publish_call": {"p50_us": pct(sorted(pub_lat), 50), "p99_us": pct(sorted(pub_lat), 99)},
        "expected": expected, "delivered": run.delivered, "delivered_per_s": round(delivered_per_s),
        "window_s": round(window, 3), "loss": loss,
        "loss_pct": round(loss * 100 / expected, 3) if expected else 0.0,
        "duplicates": sum(s.dups for s in subs), "closed_early": sum(1 for s in subs if s.closed),
        "latency": {"count": len(lat), "p50_us": pct(lat, 50), "p90_us": pct(lat, 90), "p99_us": pct(lat, 99),
                    "max_us": float(lat[-1]) if lat else None},
        "wire_bytes": run.wire_bytes, "inflated_bytes": run.inflated_bytes,
        "wire_bytes_per_delivery": round(run.wire_bytes / run.delivered, 1) if run.delivered else None,
        "inflated_bytes_per_delivery": round(run.inflated_bytes / run.delivered, 1) if run.delivered else None,
        "server_cpu_pct": server, "client_cpu_pct": client, "other_cpu_pct": other, "machine_cpu_pct": machine,
        "cpu_window_s": round(dt, 3), "server_rss_start": rss0, "server_rss_end": rss1,
    }
    print(f"fanout-deflate {a.sub_url} n={a.n} rate={a.rate} duration={a.duration}s size={a.size}")
    print(f"  subscribers: {len(subs)}/{a.n} in {connect_s:.2f} s; deflate negotiated by {negotiated} "
          f"({res['extension'] or 'no extension'}); errors {errors or 'none'}")
    print(f"  published {published} ({res['publish_rate']}/s), failed {failed}, unsent {res['unsent']}")
    print(f"  delivered {run.delivered} of {expected} ({res['delivered_per_s']}/s)  loss {loss}  dups {res['duplicates']}")
    if lat:
        print(f"  end-to-end latency: p50 {pct(lat, 50) / 1000:.2f} ms  p99 {pct(lat, 99) / 1000:.2f} ms  max {lat[-1] / 1000:.1f} ms")
    print(f"  bytes per delivery: {res['wire_bytes_per_delivery']} on the wire, {res['inflated_bytes_per_delivery']} inflated")
    print(f"  CPU (100% = one core): server {server}% client {client}% other {other}% machine {machine}%")
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
