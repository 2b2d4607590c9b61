#!/usr/bin/python3
"""WebSocket scenarios against a running parleyd, with Debian's
python3-websockets (run by tests/integration/websocket_test.cpp). Each
prints what the C++ test checks and exits 0 when its own checks passed.

    ws_client.py SCENARIO HOST:PORT [ARGS...]

Every wait is bounded (TIMEOUT); nothing sleeps to synchronise."""
import asyncio
import json
import socket
import sys

import websockets
from websockets.frames import Opcode

TIMEOUT = 10


def check(ok, what):
    if not ok:
        print("FAILED:", what, flush=True)
        sys.exit(1)


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def next_reply(ws, events=None):
    while True:
        line = await recv_json(ws)
        if "ok" in line:
            return line
        if events is not None:
            events.append(line)


async def wait_event(ws, name, events):
    for e in events:
        if e.get("event") == name:
            events.remove(e)
            return e
    while True:
        line = await recv_json(ws)
        if line.get("event") == name:
            return line


async def closed_with(ws):
    """Reads until the server closes; returns (the lines read, its close code, its reason)."""
    lines = []
    try:
        while True:
            lines.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
    except websockets.ConnectionClosed as e:
        return lines, (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else None)


def url(address):
    return "ws://%s/ws" % address


async def converse(address, nick, channel, text):
    """The example clients' contract: hello, join, say TEXT, print the first
    message from someone else as "<from> text", quit."""
    async with websockets.connect(url(address), subprotocols=["parley.v1"]) as ws:
        check(ws.subprotocol == "parley.v1", "parley.v1 selected")
        events = []
        # Several lines in one message.
        await ws.send(json.dumps({"cmd": "hello", "nick": nick, "id": 1}) + "\n" +
                      json.dumps({"cmd": "join", "channel": channel, "id": 2}))
        hello = await next_reply(ws, events)
        check(hello["ok"] and "websocket" in hello["server"]["features"], "hello: %s" % hello)
        check((await next_reply(ws, events))["ok"], "join")
        # A line split over fragments.
        say = json.dumps({"cmd": "say", "channel": channel, "text": text, "id": 3})
        await ws.send([say[:5], say[5:9], say[9:]])
        check((await next_reply(ws, events))["ok"], "say")
        # WebSocket pings are answered with pongs.
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)
        message = await wait_event(ws, "message", events)
        print("<%s> %s" % (message["from"], message["text"]), flush=True)
        await ws.send(json.dumps({"cmd": "quit", "id": 4}))
        check((await next_reply(ws, events))["ok"], "quit")
        lines, code, _ = await closed_with(ws)
        check(code == 1000, "quit closes with 1000, not %s" % code)
        print("closed 1000", flush=True)


async def close_handshake(address):
    """The client closes: the server answers with the same code."""
    async with websockets.connect(url(address)) as ws:
        await ws.send(json.dumps({"cmd": "ping", "id": 1}))
        check((await recv_json(ws))["ok"], "ping")
        await asyncio.wait_for(ws.close(4000, "done"), TIMEOUT)
        check(ws.close_code == 4000, "server echoed %s" % ws.close_code)
        print("echoed 4000", flush=True)


async def violation(address, frames):
    async with websockets.connect(url(address)) as ws:
        for fin, opcode, data in frames:
            await ws.write_frame(fin, opcode, data)
        lines, code, reason = await closed_with(ws)
        return lines, code, reason


async def violations(address):
    """Binary 1003, invalid UTF-8 1007 (whole, and split across fragments), a
    line over --max-line 1009 after the `error` event."""
    _, code, _ = await violation(address, [(True, Opcode.BINARY, b"\x01\x02")])
    print("binary", code, flush=True)
    _, code, _ = await violation(address, [(True, Opcode.TEXT, b'{"cmd":"ping"}\xff')])
    print("utf-8", code, flush=True)
    _, code, _ = await violation(address, [(False, Opcode.TEXT, b'{"cmd":"ping","id":"\xe2\x82'),
                                           (True, Opcode.CONT, b'\x28"}')])
    print("split utf-8", code, flush=True)
    async with websockets.connect(url(address)) as ws:
        await ws.send("x" * 2000)
        lines, code, reason = await closed_with(ws)
        check(len(lines) == 1 and lines[0].get("event") == "error" and lines[0]["code"] == "line_too_long",
              "error event first: %s" % lines)
        print("oversized", code, reason, flush=True)


def unmasked(address):
    """A raw socket: the handshake, then an unmasked frame, which a server
    must refuse (RFC 6455 5.1) with 1002."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            check(chunk, "the 101 came")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 101") and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, "101: %r" % head)
        payload = b'{"cmd":"ping"}'
        s.sendall(bytes([0x81, len(payload)]) + payload)
        while len(rest) < 4:
            chunk = s.recv(4096)
            if not chunk:
                break
            rest += chunk
        check(len(rest) >= 4 and rest[0] == 0x88, "a close frame came: %r" % rest)
        print("unmasked", rest[2] << 8 | rest[3], flush=True)


async def order(address, nick, channel, count):
    """Says COUNT messages while the TCP client does the same; checks that
    the other's messages arrive in seq order and that all seqs are distinct."""
    count = int(count)
    async with websockets.connect(url(address)) as ws:
        await ws.send(json.dumps({"cmd": "hello", "nick": nick, "id": 0}))
        await next_reply(ws)
        await ws.send(json.dumps({"cmd": "join", "channel": channel, "id": 0}))
        await next_reply(ws)
        await ws.send("\n".join(json.dumps({"cmd": "say", "channel": channel, "text": "ws %d" % i, "id": i})
                                for i in range(count)))
        own, theirs = [], []
        while len(own) < count or len(theirs) < count:
            line = await recv_json(ws)
            if line.get("ok"):
                own.append(line["seq"])
            elif line.get("event") == "message":
                theirs.append(line["seq"])
        check(theirs == sorted(theirs), "in seq order: %s" % theirs)
        check(len(set(own + theirs)) == 2 * count, "distinct seqs")
        print("in order", len(theirs), flush=True)
        await ws.close()


def main():
    scenario, address, *args = sys.argv[1:]
    if scenario == "unmasked":
        return unmasked(address)
    run = {"converse": converse, "close": close_handshake, "violations": violations, "order": order}[scenario]
    asyncio.run(run(address, *args))


if __name__ == "__main__":
    main()
