#!/usr/bin/env node
// A minimal Parley client in Node.js, no packages.
//
//   node client.mjs ADDRESS NICK CHANNEL TEXT [COUNT]
//
// Connects (HOST:PORT, [V6]:PORT or unix:PATH), registers as NICK, joins
// CHANNEL, says TEXT, then prints the first COUNT (default 1) messages
// someone else says there as "<nick> text" and quits.
//
// When the server says `shutdown`, or the connection is lost, it connects
// again by itself: after the retry_ms it was told (plus its own jitter), or
// for a lost connection after a short delay, backing off from 0.5 s to 30 s
// while the server cannot be reached. It resumes its session (`hello` with
// `resume`); when the server kept it, it pages `history` after the last seq
// it saw and prints what it missed under "-- missed while disconnected --",
// never twice; otherwise, or when the session it resumed is not in the
// channel (a join answered `unavailable`), it joins the channel again.
// Notes go to stderr.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [address, nick, channel, text, countText] = process.argv.slice(2);
if (!text) {
  console.error('usage: node client.mjs ADDRESS NICK CHANNEL TEXT [COUNT]');
  process.exit(2);
}
const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const note = (t) => console.error(`* ${t}`);

// retry_ms plus up to a fifth more (at most 1 s) of our own jitter.
const afterShutdown = (retryMs) => retryMs + Math.random() * Math.min(retryMs / 5, 1000);

class Lost extends Error {
  constructor(delayMs) { super('connection lost'); this.delayMs = delayMs; }
}

// The server cannot serve the request now (a cluster's backplane is away):
// come back after the retry_ms it said.
class Unavailable extends Error {
  constructor(retryMs) { super('unavailable'); this.retryMs = retryMs; }
}

// One connection: requests matched to replies by id, events in a queue.
class Connection {
  static open(addr) {
    return new Promise((resolve, reject) => {
      let options = { path: addr.slice(5) };
      if (!addr.startsWith('unix:')) {
        const colon = addr.lastIndexOf(':');
        options = { host: addr.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(addr.slice(colon + 1)) };
      }
      const socket = net.createConnection(options);
      socket.setTimeout(10000, () => socket.destroy(new Error('connect timed out')));
      socket.once('connect', () => { socket.setTimeout(0); resolve(new Connection(socket)); });
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.waiting = new Map();  // id -> {resolve, reject, cmd}
    this.events = [];
    this.wake = null;
    this.lost = null;          // a Lost once the connection is gone
    this.retryMs = undefined;  // from `shutdown`
    let buffered = '';
    socket.setEncoding('utf8');
    socket.removeAllListeners('error');
    socket.on('data', (chunk) => {
      buffered += chunk;
      let lf;
      while ((lf = buffered.indexOf('\n')) >= 0) {
        this.receive(JSON.parse(buffered.slice(0, lf)));
        buffered = buffered.slice(lf + 1);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.lost = new Lost(this.retryMs);
      for (const w of this.waiting.values()) w.reject(this.lost);
      this.waiting.clear();
      this.poke();
    });
  }

  receive(message) {
    if ('ok' in message) {
      const w = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (!w) return;
      if (message.ok) w.resolve(message);
      else if (message.error.code === 'unavailable') w.reject(new Unavailable(message.error.retry_ms ?? 1000));
      else w.reject(new Error(`${w.cmd} failed: ${message.error.code}`));
      return;
    }
    if (message.event === 'ping') return void this.call({ cmd: 'ping' }).catch(() => {});
    if (message.event === 'shutdown' && this.retryMs === undefined) this.retryMs = message.retry_ms ?? 1000;
    this.events.push(message);
    this.poke();
  }

  poke() { if (this.wake) { const w = this.wake; this.wake = null; w(); } }

  call(request) {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    this.socket.write(JSON.stringify({ ...request, id }) + '\n');
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject, cmd: request.cmd }));
  }

  async nextEvent() {
    while (!this.events.length) {
      if (this.lost) throw this.lost;
      await new Promise((resolve) => { this.wake = resolve; });
    }
    return this.events.shift();
  }

  close() { this.socket.destroy(); }  // no quit: the server holds the session
}

// One user in one channel, across reconnects.
const chat = { conn: null, session: null, seq: 0, epoch: null };

function fresh(message) {  // a message of the channel not seen yet (by seq)
  if ((message.seq ?? 0) <= chat.seq) return false;
  chat.seq = message.seq;
  return true;
}

async function register(resume) {
  const hello = { cmd: 'hello', nick };
  if (resume && chat.session) hello.resume = chat.session;
  const reply = await chat.conn.call(hello);
  chat.session = reply.session;
  return reply;
}

async function join() {
  const reply = await chat.conn.call({ cmd: 'join', channel });
  chat.seq = reply.seq;
  chat.epoch = reply.epoch;
}

// Resumes (or joins again); returns the missed messages of others.
async function resume() {
  const reply = await register(true);
  if (!reply.resumed) {
    note(`new session; joining ${channel} again`);
    await join();
    return [];
  }
  note('session resumed');
  const channels = reply.channels ?? [];
  if (!channels.some((c) => same(c.channel, channel))) {
    // A join answered `unavailable` (or lost with the connection) left the
    // session outside the channel: join it now.
    note(`not in ${channel}; joining it again`);
    await join();
    return [];
  }
  const missed = [];
  for (const c of channels) {
    if (!same(c.channel, channel)) continue;
    if (c.epoch !== chat.epoch) { chat.seq = 0; chat.epoch = c.epoch; }  // old numbers mean nothing now
    while (chat.seq < c.seq) {
      const page = await chat.conn.call({ cmd: 'history', channel, after: chat.seq, limit: 500 });
      const got = page.messages.filter(fresh);
      if (!got.length) break;
      missed.push(...got.filter((m) => !same(m.from, nick)));
    }
  }
  return missed;
}

async function reconnect(delayMs) {
  for (let failures = 0; ; ++failures) {
    chat.conn?.close();
    chat.conn = null;
    note(`reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
    await sleep(delayMs);
    try {
      chat.conn = await Connection.open(address);
      return await resume();
    } catch (err) {
      if (err instanceof Unavailable) {  // reachable, but not serving yet: as told
        delayMs = afterShutdown(err.retryMs);
        continue;
      }
      if (!(err instanceof Lost) && !err.code) throw err;  // a refused hello is not a network failure
      const backoff = Math.min(500 * 2 ** failures, 30000);
      delayMs = backoff / 2 + Math.random() * backoff / 2;
    }
  }
}

// The next messages someone else says in the channel; reconnects as needed.
async function nextMessages() {
  for (;;) {
    let delayMs = null;
    try {
      const event = await chat.conn.nextEvent();
      if (event.event === 'shutdown') delayMs = afterShutdown(event.retry_ms ?? 1000);
      else if (event.event === 'message' && same(event.channel ?? '', channel) && fresh(event)) return [event];
    } catch (err) {
      if (!(err instanceof Lost)) throw err;
      delayMs = err.delayMs ? afterShutdown(err.delayMs) : 100 + Math.random() * 400;
    }
    if (delayMs === null) continue;
    const missed = await reconnect(delayMs);
    if (missed.length) {
      console.log('-- missed while disconnected --');
      return missed;
    }
  }
}

chat.conn = await Connection.open(address);
await register(false);
await join();
chat.seq = Math.max(chat.seq, (await chat.conn.call({ cmd: 'say', channel, text })).seq);
for (let count = Number(countText ?? 1); count > 0;) {
  for (const m of await nextMessages()) {
    console.log(`<${m.from}> ${m.text}`);
    --count;
  }
}
await chat.conn.call({ cmd: 'quit' });
chat.conn.close();
