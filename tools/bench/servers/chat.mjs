// Just enough of a chat for parley-bench's scenarios, shared by the two Node
// servers it is compared with (tools/bench-compare --ws): requests and
// replies have the shape of Parley's protocol (docs/protocol.md), so the
// same loader drives them. hello, join, say (a broadcast to the room, the
// sender left out, with the room's seq), msg, ping and quit; nothing is
// checked that the loader never gets wrong. A transport supplies how one
// client is sent a value, how a room is joined and broadcast to, and how a
// client is closed.
export class Chat {
  constructor(transport) {
    this.transport = transport;
    this.seqs = new Map();   // room -> its last seq
    this.clients = new Map();  // nick -> client
  }

  // One request (a parsed JSON object) from `client`, whose state is `state`.
  handle(client, state, request) {
    const t = this.transport;
    const reply = { ok: true };
    if (request.id !== undefined) reply.id = request.id;
    switch (request.cmd) {
      case "hello":
        state.nick = request.nick;
        this.clients.set(state.nick, client);
        reply.nick = state.nick;
        reply.session = state.nick;
        reply.resumed = false;
        break;
      case "join":
        t.join(client, request.channel);
        reply.channel = request.channel;
        reply.seq = this.seqs.get(request.channel) ?? 0;
        reply.epoch = "1";
        break;
      case "say": {
        const seq = (this.seqs.get(request.channel) ?? 0) + 1;
        this.seqs.set(request.channel, seq);
        const ts = Date.now();
        t.broadcast(client, request.channel,
          { event: "message", channel: request.channel, from: state.nick, text: request.text, seq, ts });
        reply.channel = request.channel;
        reply.seq = seq;
        reply.ts = ts;
        break;
      }
      case "msg": {
        const to = this.clients.get(request.to);
        const ts = Date.now();
        if (to) t.send(to, { event: "message", from: state.nick, to: request.to, text: request.text, ts });
        reply.to = request.to;
        reply.ts = ts;
        break;
      }
      case "ping":
        break;
      case "quit":
        t.send(client, reply);
        t.close(client);
        return;
      default:
        t.send(client, { ok: false, error: { code: "unknown_command", message: String(request.cmd) } });
        return;
    }
    t.send(client, reply);
  }

  gone(state) {
    if (state.nick !== undefined && this.clients.get(state.nick)) this.clients.delete(state.nick);
  }
}

// The port from `--port N` (default 0: any), on 127.0.0.1.
export function port() {
  const at = process.argv.indexOf("--port");
  return at > 0 ? Number(process.argv[at + 1]) : 0;
}

// What parleyd prints once it listens, which tools/bench-compare waits for.
export function announce(address) {
  process.stdout.write(`listening on 127.0.0.1:${address.port}\n`);
}
