#!/usr/bin/env python3
"""A minimal Parley client in Python, standard library only.

    python3 client.py ADDRESS NICK CHANNEL TEXT

Connects (HOST:PORT, [V6]:PORT or unix:PATH), registers as NICK, joins
CHANNEL, says TEXT, then prints the first message someone else says there as
"<nick> text" and quits. Every request carries an id; replies are matched to
it, and events that arrive in between are handled as they come.
"""
import json
import socket
import sys


def connect(address):
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address[5:])
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=30)


class Client:
    def __init__(self, address):
        self.sock = connect(address)
        self.lines = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.next_id = 1
        self.events = []

    def send(self, **request):
        request["id"] = self.next_id
        self.next_id += 1
        self.sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        return request["id"]

    def read(self):
        line = self.lines.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        return json.loads(line)

    def call(self, **request):
        """Sends a request and returns its reply; keeps events for later."""
        wanted = self.send(**request)
        while True:
            message = self.read()
            if "ok" not in message:
                self.events.append(message)
                continue
            if message.get("id") != wanted:
                raise RuntimeError(f"reply out of order: {message}")
            if not message["ok"]:
                raise RuntimeError(f"{request['cmd']} failed: {message['error']}")
            return message

    def next_event(self):
        return self.events.pop(0) if self.events else self.read()


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    address, nick, channel, text = sys.argv[1:]
    client = Client(address)
    client.call(cmd="hello", nick=nick)
    client.call(cmd="join", channel=channel)
    client.call(cmd="say", channel=channel, text=text)
    while True:
        event = client.next_event()
        if event.get("event") == "ping":
            client.send(cmd="ping")  # its reply is skipped below like any other
        elif event.get("event") == "message" and event.get("channel") == channel:
            print(f"<{event['from']}> {event['text']}", flush=True)
            break
    client.call(cmd="quit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
