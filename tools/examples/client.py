#!/usr/bin/env python3
"""A minimal Parley client in Python, standard library only.

    python3 client.py ADDRESS NICK CHANNEL TEXT [COUNT]

Connects (HOST:PORT, [V6]:PORT or unix:PATH), registers as NICK, joins
CHANNEL, says TEXT, then prints the first COUNT (default 1) messages someone
else says there as "<nick> text" and quits. Every request carries an id;
replies are matched to it, and events that arrive in between are handled as
they come.

When the server says `shutdown`, or the connection is lost, it connects
again by itself: after the retry_ms it was told (plus its own jitter), or
for a lost connection after a short delay, backing off from 0.5 s to 30 s
while the server cannot be reached. It resumes its session (`hello` with
`resume`); when the server kept it, it pages `history` after the last seq
it saw in the channel and prints what it missed under a
"-- missed while disconnected --" line, never twice; otherwise, or when the
session it resumed is not in the channel (a join answered `unavailable`),
it joins the channel again. Notes about all that go to stderr.
"""
import json
import random
import socket
import sys
import time


def connect(address):
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(address[5:])
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    sock.settimeout(None)  # the server pings a quiet connection; we answer
    return sock


def note(text):
    print(f"* {text}", file=sys.stderr, flush=True)


def after_shutdown(retry_ms):
    """retry_ms plus up to a fifth more (at most 1 s) of our own jitter."""
    return retry_ms + random.random() * min(retry_ms / 5, 1000)


class Lost(Exception):
    """The connection went; `delay_ms` says when to come back, if known."""

    def __init__(self, delay_ms=None):
        super().__init__("connection lost")
        self.delay_ms = delay_ms


class Unavailable(Lost):
    """The server cannot serve the request now (a cluster's backplane is
    away): come back after the `retry_ms` it said."""

    def __init__(self, retry_ms):
        super().__init__(retry_ms)


class Client:
    def __init__(self, address):
        self.sock = connect(address)
        self.lines = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.next_id = 1
        self.events = []
        self.retry_ms = None  # set by a `shutdown` event

    def close(self):
        self.sock.close()  # no quit: the server holds the session for us

    def send(self, **request):
        request["id"] = self.next_id
        self.next_id += 1
        try:
            self.sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        except OSError:
            raise Lost(self.retry_ms)
        return request["id"]

    def read(self):
        try:
            line = self.lines.readline()
        except OSError:
            line = ""
        if not line:
            raise Lost(self.retry_ms)
        message = json.loads(line)
        if message.get("event") == "shutdown" and self.retry_ms is None:
            self.retry_ms = message.get("retry_ms", 1000)
        elif message.get("event") == "ping":
            self.send(cmd="ping")  # its reply is skipped like any unasked one
        return message

    def call(self, **request):
        """Sends a request and returns its reply; keeps events for later."""
        wanted = self.send(**request)
        while True:
            message = self.read()
            if "ok" not in message:
                self.events.append(message)
            elif message.get("id") == wanted:
                if not message["ok"] and message["error"].get("code") == "unavailable":
                    raise Unavailable(message["error"].get("retry_ms", 1000))
                if not message["ok"]:
                    raise RuntimeError(f"{request['cmd']} failed: {message['error']}")
                return message

    def next_event(self):
        return self.events.pop(0) if self.events else self.read()


class Chat:
    """One user in one channel, across reconnects."""

    def __init__(self, address, nick, channel):
        self.address, self.nick, self.channel = address, nick, channel
        self.session = None
        self.seq, self.epoch = 0, None  # the last message seen in the channel
        self.client = None

    def register(self, resume):
        hello = {"cmd": "hello", "nick": self.nick}
        if resume and self.session:
            hello["resume"] = self.session
        reply = self.client.call(**hello)
        self.session = reply["session"]
        return reply

    def start(self, text):
        self.client = Client(self.address)
        self.register(resume=False)
        self.joined(self.client.call(cmd="join", channel=self.channel))
        self.seq = max(self.seq, self.client.call(cmd="say", channel=self.channel, text=text)["seq"])

    def joined(self, reply):
        self.seq, self.epoch = reply["seq"], reply["epoch"]

    def fresh(self, message):
        """A message of the channel not seen yet (by seq)."""
        if message.get("seq", 0) <= self.seq:
            return False
        self.seq = message["seq"]
        return True

    def reconnect(self, delay_ms):
        failures = 0
        while True:
            if self.client:
                self.client.close()
                self.client = None
            note(f"reconnecting in {delay_ms / 1000:.1f} s")
            time.sleep(delay_ms / 1000)
            try:
                self.client = Client(self.address)
                return self.resume()
            except Unavailable as unavailable:  # reachable, but not serving yet: as told
                delay_ms = after_shutdown(unavailable.delay_ms)
            except (OSError, Lost):
                failures += 1
                backoff = min(500 * 2 ** (failures - 1), 30000)
                delay_ms = backoff / 2 + random.random() * backoff / 2

    def resume(self):
        """Returns the missed messages of others, oldest first."""
        reply = self.register(resume=True)
        if not reply.get("resumed"):
            note(f"new session; joining {self.channel} again")
            self.joined(self.client.call(cmd="join", channel=self.channel))
            return []
        note("session resumed")
        channels = reply.get("channels", [])
        if not any(c["channel"].lower() == self.channel.lower() for c in channels):
            # A join answered `unavailable` (or lost with the connection)
            # left the session outside the channel: join it now.
            note(f"not in {self.channel}; joining it again")
            self.joined(self.client.call(cmd="join", channel=self.channel))
            return []
        missed = []
        for c in channels:
            if c["channel"].lower() != self.channel.lower():
                continue
            if c["epoch"] != self.epoch:
                self.seq, self.epoch = 0, c["epoch"]  # the old numbers mean nothing now
            while self.seq < c["seq"]:
                page = self.client.call(cmd="history", channel=self.channel, after=self.seq, limit=500)
                fresh = [m for m in page["messages"] if self.fresh(m)]
                if not fresh:
                    break
                missed += [m for m in fresh if m["from"].lower() != self.nick.lower()]
        return missed

    def next_message(self):
        """The next message someone else says in the channel; reconnects as needed."""
        while True:
            try:
                event = self.client.next_event()
            except Lost as lost:
                delay = after_shutdown(lost.delay_ms) if lost.delay_ms else 100 + random.random() * 400
                missed = self.reconnect(delay)
                if missed:
                    print("-- missed while disconnected --", flush=True)
                    return missed
                continue
            if event.get("event") == "shutdown":
                delay = after_shutdown(event.get("retry_ms", 1000))
                missed = self.reconnect(delay)
                if missed:
                    print("-- missed while disconnected --", flush=True)
                    return missed
            elif (event.get("event") == "message" and event.get("channel", "").lower() == self.channel.lower()
                  and self.fresh(event)):
                return [event]


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    address, nick, channel, text = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) == 6 else 1
    chat = Chat(address, nick, channel)
    chat.start(text)
    while count > 0:
        for message in chat.next_message():
            print(f"<{message['from']}> {message['text']}", flush=True)
            count -= 1
    chat.client.call(cmd="quit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
