// Parley's web client: the chat protocol (docs/protocol.md) over a WebSocket
// to /ws of the server that served this page, subprotocol parley.v1. Each
// WebSocket text message we send is one request line; each one the server
// sends is one line (one reply or event).
//
// Contracts this file keeps (docs/web-client.md):
// - Chat content is text, never HTML: nicks, channel names, topics and
//   messages reach the page through textContent / createTextNode only.
// - A channel's messages are shown in seq order, each once: `shown` is the
//   last seq displayed; anything at or below it is dropped. While a channel
//   catches up from `history`, its live messages wait in `held`.
// - After `shutdown` or a lost connection it comes back by itself and
//   resumes (`hello` with `resume`), then pages `history after` per channel
//   to show what was missed, the same way as the terminal client
//   (docs/client.md).
'use strict';

// ---------------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);
const lower = (s) => String(s).toLowerCase();  // nicks and channels compare ASCII-case-insensitively
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// An element with text (never HTML) and optional attributes / class.
function el(tag, { text, cls, attrs } = {}) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

// The protocol's error codes as sentences for people (docs/protocol.md, "Error codes").
function sentence(code, error = {}) {
  const limits = state.limits || {};
  switch (code) {
    case 'bad_json': case 'bad_request': return 'The server did not understand that request.';
    case 'unknown_command': return 'The server does not know that command.';
    case 'not_registered': return 'Pick a nick first.';
    case 'already_registered': return 'You are already signed in.';
    case 'invalid_nick': return 'That nick is not allowed: use 1–32 letters, digits, _ or -, not starting with a digit or -.';
    case 'nick_in_use': return 'That nick is taken. Pick another one.';
    case 'invalid_channel': return 'That is not a channel name: use 1–64 letters, digits, or _ - . #';
    case 'no_such_channel': return 'There is no such channel.';
    case 'not_in_channel': return 'You are not in that channel.';
    case 'no_such_nick': return 'Nobody with that nick is online.';
    case 'text_too_long': return `That is too long: at most ${limits.max_text || 4096} bytes.`;
    case 'too_many_channels': return `You are in too many channels (at most ${limits.max_channels || 100}). Leave one first.`;
    case 'rate_limited': return `You are sending too fast. Try again in ${seconds(error.retry_ms || 1000)}.`;
    case 'auth_failed': return 'That nick is protected, and the token did not match.';
    case 'unavailable': return 'The server cannot do that right now. Try again in a few seconds.';
    case 'internal': return 'The server had an internal error.';
    // Fatal errors (an `error` event, then the server closes).
    case 'line_too_long': return 'That was too long for the server, which closed the connection.';
    case 'slow_consumer': return 'The connection fell too far behind and the server dropped it.';
    case 'idle_timeout': return 'The connection was quiet for too long.';
    case 'server_full': return 'The server is full.';
    case 'shutting_down': return 'The server is restarting.';
    case 'replaced': return 'This session was taken over by another tab or device.';
    case 'lost': return 'The connection was lost.';
    default: return error.message || `Something went wrong (${code}).`;
  }
}

function seconds(ms) { return `${Math.max(1, Math.round(ms / 1000))} s`; }

// ---------------------------------------------------------------------------
// State

const state = {
  nick: null,          // our nick as the server has it
  session: null,       // the `session` of the last hello reply: what we resume
  limits: null,
  node: null,          // server.node of the last hello
  ws: null,
  nextId: 1,
  waiting: new Map(),  // request id -> {resolve, reject, cmd}
  online: false,       // registered, and resumed/caught up: requests may go out
  onlineWaiters: [],   // resolved when `online` becomes true
  leaving: false,      // our own quit: no reconnect
  reconnectTimer: null,
  failures: 0,         // failed reconnect attempts in a row (for the backoff)
  rooms: new Map(),    // key -> room: channels ('#web' lowercased) and DMs ('@' + lowercased nick)
  current: null,       // key of the room shown
};

// A channel or a DM conversation.
function room(key) { return state.rooms.get(key); }

function addChannelRoom(name) {
  const key = lower(name);
  let r = room(key);
  if (!r) {
    r = { key, kind: 'channel', name, topic: null, members: [], epoch: null, shown: 0,
          catching: false, held: [], own: new Set(), joined: true, unread: 0, items: [] };
    state.rooms.set(key, r);
  }
  r.joined = true;
  return r;
}

function addDmRoom(nick) {
  const key = '@' + lower(nick);
  let r = room(key);
  if (!r) {
    r = { key, kind: 'dm', name: nick, unread: 0, items: [] };
    state.rooms.set(key, r);
  }
  return r;
}

// ---------------------------------------------------------------------------
// The connection: requests matched to replies by id, events dispatched.

class ProtocolError extends Error {
  constructor(code, error) { super(sentence(code, error)); this.code = code; this.error = error; }
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

// Opens a WebSocket; resolves once open, rejects if it fails to open within 10 s.
function openSocket() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(), 'parley.v1');
    const timer = setTimeout(() => { ws.close(); reject(new ProtocolError('lost')); }, 10000);
    ws.onopen = () => { clearTimeout(timer); resolve(ws); };
    ws.onerror = () => {};
    ws.onclose = () => { clearTimeout(timer); reject(new ProtocolError('lost')); };
  });
}

// Takes over an open socket: its lines go to receive(), its close to lost().
function adopt(ws) {
  state.ws = ws;
  document.body.dataset.socket = 'open';
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return;
    for (const line of e.data.split('\n')) {
      if (!line.trim()) continue;
      let message;
      try { message = JSON.parse(line); } catch { continue; }
      receive(message);
    }
  };
  ws.onclose = () => { if (state.ws === ws) lost(); };
}

// Sends one request now; resolves with the reply, rejects with a
// ProtocolError (the reply's error, or 'lost' if the connection goes first).
function call(cmd, fields = {}) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new ProtocolError('lost'));
  const id = state.nextId++;
  ws.send(JSON.stringify({ cmd, id, ...fields }));
  return new Promise((resolve, reject) => state.waiting.set(id, { resolve, reject, cmd }));
}

// Like call(), but waits until we are online first (typed while reconnecting).
async function request(cmd, fields) {
  if (!state.online) await new Promise((resolve) => state.onlineWaiters.push(resolve));
  return call(cmd, fields);
}

function setOnline(online) {
  state.online = online;
  if (online) for (const w of state.onlineWaiters.splice(0)) w();
}

function receive(message) {
  if ('ok' in message) {
    const w = state.waiting.get(message.id);
    if (!w) return;
    state.waiting.delete(message.id);
    if (message.ok) w.resolve(message);
    else w.reject(new ProtocolError(message.error?.code || 'internal', message.error || {}));
    return;
  }
  const handler = events[message.event];
  if (handler) handler(message);
}

// ---------------------------------------------------------------------------
// Events from the server

const events = {
  ping() { call('ping').catch(() => {}); },

  message(m) {
    if (m.channel === undefined) {  // a direct message to us
      const r = addDmRoom(m.from);
      append(r, messageItem(m));
      renderRooms();
      return;
    }
    const r = room(lower(m.channel));
    if (!r || !r.joined) return;
    if (r.catching) r.held.push(m);  // shown after the history being fetched
    else showChannelMessages(r, [m]);
  },

  join(e) {
    const r = room(lower(e.channel));
    if (!r) return;
    if (!r.members.some((n) => lower(n) === lower(e.nick))) r.members.push(e.nick);
    sortNicks(r.members);
    append(r, notice(`${e.nick} joined`));
    renderMembers();
    renderRooms();
  },

  part(e) {
    const r = room(lower(e.channel));
    if (!r) return;
    r.members = r.members.filter((n) => lower(n) !== lower(e.nick));
    append(r, notice(`${e.nick} left${e.reason ? ` (${e.reason})` : ''}`));
    renderMembers();
  },

  quit(e) {
    for (const r of state.rooms.values()) {
      if (r.kind !== 'channel' || !r.members.some((n) => lower(n) === lower(e.nick))) continue;
      r.members = r.members.filter((n) => lower(n) !== lower(e.nick));
      append(r, notice(`${e.nick} quit${e.reason ? ` (${e.reason})` : ''}`));
    }
    renderMembers();
  },

  nick(e) {
    for (const r of state.rooms.values()) {
      if (r.kind !== 'channel') continue;
      const i = r.members.findIndex((n) => lower(n) === lower(e.old));
      if (i < 0) continue;
      r.members[i] = e.new;
      sortNicks(r.members);
      append(r, notice(`${e.old} is now ${e.new}`));
    }
    renderMembers();
  },

  topic(e) {
    const r = room(lower(e.channel));
    if (!r) return;
    r.topic = e.topic;
    append(r, notice(e.topic === null ? `${e.nick} cleared the topic` : `${e.nick} set the topic: ${e.topic}`));
    renderHeader();
  },

  gap(e) {
    const r = room(lower(e.channel));
    if (r) append(r, notice(`Messages ${e.from}–${e.to} of ${r.name} could not be delivered.`, 'warning'));
  },

  // The server is draining: leave by ourselves after retry_ms plus up to a
  // fifth more (at most 1 s) of jitter, as the terminal client does, whether
  // or not the server has closed the connection by then.
  shutdown(e) {
    const retry = typeof e.retry_ms === 'number' ? e.retry_ms : 1000;
    const delay = retry + Math.random() * Math.min(retry / 5, 1000);
    setOnline(false);
    showBanner(`The server is restarting. Reconnecting in ${seconds(delay)}…`);
    setStatus('reconnecting');
    scheduleReconnect(delay);
  },

  // A fatal error: the server closes right after. `replaced` means another
  // connection took our session: we must not take it back.
  error(e) {
    if (e.code === 'replaced') {
      state.leaving = true;
      showBanner(sentence('replaced') + ' Reload the page to sign in again.', 'error');
      setStatus('offline');
      return;
    }
    showBanner(sentence(e.code, e), 'error');
  },
};

// ---------------------------------------------------------------------------
// Reconnecting and resuming

// The connection went. Pending requests fail; we come back after the delay
// `shutdown` asked for, else after 0.1–0.5 s (docs/client.md's numbers).
function lost() {
  forget();
  if (state.leaving || !state.session) return;
  if (state.reconnectTimer) return;  // `shutdown` already set the time
  setStatus('reconnecting');
  const delay = 100 + Math.random() * 400;
  showBanner('Connection lost. Reconnecting…');
  scheduleReconnect(delay);
}

// Lets go of the current socket (closing it if still open): its requests
// fail as 'lost', nothing waits on a catch-up, and we are not online.
function forget() {
  const ws = state.ws;
  state.ws = null;
  document.body.dataset.socket = 'closed';
  if (ws) {
    ws.onmessage = null;
    ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
  }
  for (const w of state.waiting.values()) w.reject(new ProtocolError('lost'));
  state.waiting.clear();
  setOnline(false);
  for (const r of state.rooms.values()) if (r.kind === 'channel') { r.catching = false; r.held = []; }
}

function scheduleReconnect(delay) {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(reconnect, delay);
}

// One attempt: connect, hello with resume, catch up. A failed attempt backs
// off 0.5 s, 1 s, 2 s … up to 30 s, each between half and all of that; a
// refused hello other than `unavailable` stops (the nick is gone).
async function reconnect() {
  state.reconnectTimer = null;
  forget();  // the draining server's connection, if it is still open
  try {
    adopt(await openSocket());
    const reply = await call('hello', { nick: state.nick, resume: state.session });
    registered(reply);
    state.failures = 0;
    if (reply.resumed) await resumeChannels(reply.channels || []);
    else await rejoinChannels();
    hideBanner();
    setStatus('connected');
    setOnline(true);
  } catch (err) {
    if (state.leaving) return;
    if (err.code && err.code !== 'lost' && err.code !== 'unavailable' && err.code !== 'server_full') {
      showBanner(`Could not sign in again as ${state.nick}: ${err.message} Reload the page to pick a nick.`, 'error');
      setStatus('offline');
      state.leaving = true;
      state.ws?.close();
      return;
    }
    // `unavailable` (a cluster's backplane is away): after its retry_ms and
    // the same jitter as after `shutdown`; otherwise the backoff.
    const retry = err.code === 'unavailable' ? err.error?.retry_ms || 1000 : 0;
    const backoff = Math.min(500 * 2 ** state.failures, 30000);
    state.failures++;
    const delay = retry ? retry + Math.random() * Math.min(retry / 5, 1000) : backoff / 2 + Math.random() * backoff / 2;
    forget();
    setStatus('reconnecting');
    showBanner(`Cannot reach the server. Trying again in ${seconds(delay)}…`);
    scheduleReconnect(delay);
  }
}

// `resumed: true`: same nick, same channels, nobody was told anything. For
// each channel whose seq moved past what we showed, page `history after`.
async function resumeChannels(channels) {
  const theirs = new Set(channels.map((c) => lower(c.channel)));
  // Every channel holds its live messages from now on, not only from its
  // own turn: one shown live before its history would hide the gap.
  const rooms = channels.map((c) => room(lower(c.channel)) || addChannelRoom(c.channel));
  for (const r of rooms) r.catching = true;
  for (const [i, c] of channels.entries()) await catchUp(rooms[i], c.seq, c.epoch, 'Missed while you were away');
  // Channels we had that the session does not (a join answered `unavailable`,
  // or one whose reply the lost connection took): join them again.
  for (const r of state.rooms.values()) {
    if (r.kind === 'channel' && r.joined && !theirs.has(r.key)) await joinChannel(r.name, { again: true });
  }
  renderAll();
}

// `resumed: false` (a new server, or the grace ran out): join every channel again.
// A channel the server refuses now (say too_many_channels) is left with a
// note; only a lost connection or `unavailable` makes the attempt fail.
async function rejoinChannels() {
  for (const r of [...state.rooms.values()]) {
    if (r.kind !== 'channel' || !r.joined) continue;
    try {
      await joinChannel(r.name, { again: true });
    } catch (err) {
      if (err.code === 'lost' || err.code === 'unavailable') throw err;
      r.joined = false;
      append(r, notice(`Could not join ${r.name} again: ${err.message}`, 'warning'));
    }
  }
  renderAll();
}

// Shows the messages of `r` from after `shown` up to `latest`, then what
// arrived live meanwhile. A changed epoch means the old seq numbers are
// meaningless: the channel is shown from its newest messages again.
async function catchUp(r, latest, epoch, heading) {
  r.catching = true;  // `held` is kept: it may have filled already (resumeChannels)
  try {
    if (r.epoch !== epoch) {
      if (r.epoch !== null) append(r, notice('This channel was started afresh (the server restarted, or everyone had left).'));
      r.epoch = epoch;
      r.shown = 0;
      const page = await call('history', { channel: r.name, limit: 50 });
      showChannelMessages(r, page.messages, heading);
    } else {
      let first = true;
      while (r.shown < latest) {
        const page = await call('history', { channel: r.name, after: r.shown, limit: 500 });
        if (page.epoch !== r.epoch) break;
        if (first && page.truncated) append(r, notice('Some earlier messages are no longer kept by the server.', 'warning'));
        const before = r.shown;
        showChannelMessages(r, page.messages, first ? heading : null);
        first = false;
        if (r.shown === before) break;  // nothing new: the rest is gone
      }
    }
  } finally {
    r.catching = false;
    const held = r.held.splice(0);
    showChannelMessages(r, held);
  }
}

// ---------------------------------------------------------------------------
// Commands

// hello's reply, first or after a reconnect.
function registered(reply) {
  state.nick = reply.nick;
  state.session = reply.session;
  state.limits = reply.limits;
  state.node = reply.server?.node || null;
  document.body.dataset.node = state.node || '';
  $('my-nick').textContent = state.nick;
}

async function signIn(nick) {
  const ws = await openSocket();
  adopt(ws);
  try {
    const reply = await call('hello', { nick });
    registered(reply);
  } catch (err) {
    forget();
    throw err;
  }
  try { localStorage.setItem('parley.nick', state.nick); } catch { /* private mode */ }
  setStatus('connected');
  setOnline(true);
  refreshList();
  // Member counts and topics of channels we are not in change unseen.
  setInterval(() => { if (state.online) refreshList(); }, 30000);
}

// Joins: members, topic, and the last messages from history; shows the
// channel. With `again` (inside a reconnect, before we are online) it only
// restores the channel and shows what was missed.
async function joinChannel(name, { again = false } = {}) {
  const reply = await (again ? call : request)('join', { channel: name });
  const wasIn = Boolean(room(lower(reply.channel))?.joined);
  const r = addChannelRoom(reply.channel);
  r.name = reply.channel;
  r.topic = reply.topic;
  r.members = reply.members.slice();
  await catchUp(r, reply.seq, reply.epoch, again ? 'Missed while you were away' : null);
  if (!again) {
    if (!wasIn) append(r, notice(`You joined ${r.name}`));
    show(r.key);
    refreshList();
  }
  renderAll();
  return r;
}

async function partChannel(r) {
  await request('part', { channel: r.name });
  r.joined = false;
  state.rooms.delete(r.key);
  if (state.current === r.key) state.current = null;
  show(firstRoomKey());
  refreshList();
}

// Sends what was typed in the current room: a message, or a /command.
async function submit(text) {
  const r = room(state.current);
  if (text.startsWith('/') && !text.startsWith('//')) return command(text);
  if (text.startsWith('//')) text = text.slice(1);
  if (!r) throw new Error('Join a channel first, or open a direct message.');
  const item = messageItem({ from: state.nick, text, ts: Date.now() }, { pending: true });
  append(r, item);
  try {
    if (r.kind === 'dm') {
      const reply = await request('msg', { to: r.name, text });
      settle(item, reply.ts);
    } else {
      // Our own message has a seq like any other: showing it counts as having
      // shown that seq, so history never shows it again.
      const reply = await request('say', { channel: r.name, text });
      settle(item, reply.ts, reply.seq);
      // While the channel catches up, history brings this seq again: `own`
      // keeps it from being shown twice.
      if (r.catching) r.own.add(reply.seq);
      else r.shown = Math.max(r.shown, reply.seq);
    }
  } catch (err) {
    item.classList.remove('pending');
    item.classList.add('failed');
    item.appendChild(el('span', { cls: 'failure', text: err.code === 'lost'
      ? 'Not sent: the connection went before the server answered. If it got through, it appears above once reconnected.'
      : err.message }));
  }
}

function settle(item, ts, seq) {
  item.classList.remove('pending');
  if (seq !== undefined) item.dataset.seq = String(seq);
  setTime(item.querySelector('time'), ts);
}

// The slash commands of the composer (also in the page's help line).
async function command(text) {
  const [word, ...rest] = text.slice(1).split(' ');
  const arg = rest.join(' ').trim();
  const r = room(state.current);
  switch (word.toLowerCase()) {
    case 'join': if (!arg) throw new Error('Usage: /join #channel'); return joinChannel(arg);
    case 'part': case 'leave': if (r?.kind === 'channel') return partChannel(r); return closeDm(r);
    case 'msg': {
      const [to, ...words] = arg.split(' ');
      if (!to) throw new Error('Usage: /msg nick text');
      const dm = addDmRoom(to);
      show(dm.key);
      if (words.length) return submit(words.join(' '));
      return undefined;
    }
    case 'topic': if (r?.kind !== 'channel') throw new Error('Topics belong to channels.'); return setTopic(r, arg);
    case 'nick': {
      const old = state.nick;
      const reply = await request('nick', { nick: arg });
      state.nick = reply.nick;
      $('my-nick').textContent = state.nick;
      for (const c of state.rooms.values()) {
        if (c.kind !== 'channel') continue;
        c.members = c.members.map((n) => (lower(n) === lower(old) ? reply.nick : n));
        sortNicks(c.members);
      }
      renderMembers();
      return undefined;
    }
    case 'list': refreshList(); return undefined;
    default: throw new Error('Commands: /join #channel, /part, /msg nick text, /topic text, /nick name, /list');
  }
}

async function setTopic(r, topic) {
  const reply = await request('topic', { channel: r.name, topic });
  r.topic = reply.topic;
  append(r, notice(reply.topic === null ? 'You cleared the topic' : `You set the topic: ${reply.topic}`));
  renderHeader();
}

function closeDm(r) {
  if (!r) return;
  state.rooms.delete(r.key);
  show(firstRoomKey());
}

async function refreshList() {
  try {
    const reply = await request('list');
    renderDirectory(reply.channels);
  } catch (err) {
    if (err.code !== 'lost') showToast(err.message);
  }
}

// ---------------------------------------------------------------------------
// Rendering. Each room keeps its own list of message elements (`items`);
// the view shows the current room's.

// Shows messages of channel `r` in seq order, skipping any already shown,
// with an optional heading (the "missed" separator) before the first new one.
function showChannelMessages(r, messages, heading = null) {
  const fresh = messages.filter((m) => typeof m.seq === 'number').sort((a, b) => a.seq - b.seq);
  let headed = false;
  for (const m of fresh) {
    if (m.seq <= r.shown) continue;
    if (r.own.delete(m.seq)) { r.shown = m.seq; continue; }  // shown already, as sent
    if (heading && !headed) { append(r, notice(heading, 'missed-marker')); headed = true; }
    r.shown = m.seq;
    append(r, messageItem(m));
  }
}

function messageItem(m, { pending = false } = {}) {
  const mine = lower(m.from) === lower(state.nick || '');
  const li = el('li', { cls: `message${mine ? ' mine' : ''}${pending ? ' pending' : ''}` });
  li.dataset.from = m.from;
  if (typeof m.seq === 'number') li.dataset.seq = String(m.seq);
  const time = el('time', { cls: 'time' });
  setTime(time, m.ts);
  const from = el('span', { cls: 'from', text: m.from });
  from.style.setProperty('--hue', String(hue(m.from)));
  li.append(time, from, el('span', { cls: 'text', text: m.text }));
  return li;
}

// A steady colour per nick (one of ten well-apart hues, by an FNV-1a hash
// of its lowercase form), so that people are easy to tell apart.
const hues = [215, 150, 25, 280, 355, 185, 95, 250, 320, 45];
function hue(nick) {
  let h = 0x811c9dc5;
  for (const c of lower(nick)) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return hues[h % hues.length];
}

function setTime(node, ts) {
  const when = new Date(typeof ts === 'number' ? ts : Date.now());
  node.textContent = timeFormat.format(when);
  node.dateTime = when.toISOString();
  node.title = dateFormat.format(when);
}

function notice(text, extra = '') {
  return el('li', { cls: `notice ${extra}`.trim(), text });
}

// Adds an item to a room, and to the view when it is the current room.
function append(r, item) {
  r.items.push(item);
  if (r.items.length > 2000) r.items.splice(0, r.items.length - 2000).forEach((n) => n.remove());
  if (state.current === r.key) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.appendChild(item);
    if (atBottom || item.classList.contains('mine')) list.scrollTop = list.scrollHeight;
  } else if (item.classList.contains('message')) {
    r.unread++;
    renderRooms();
  }
}

function show(key) {
  state.current = key && room(key) ? key : null;
  const r = room(state.current);
  if (r) r.unread = 0;
  const list = $('messages');
  clear(list);
  if (r) list.append(...r.items);
  list.scrollTop = list.scrollHeight;
  $('empty').hidden = Boolean(r);
  $('composer').hidden = !r;
  $('message-input').placeholder = r ? (r.kind === 'dm' ? `Message ${r.name}` : `Message ${r.name}`) : 'Message';
  document.body.dataset.current = r ? r.name : '';
  closePanels();
  renderAll();
  if (r && !matchMedia('(pointer: coarse)').matches) $('message-input').focus();
}

function firstRoomKey() { return state.rooms.keys().next().value || null; }

function renderAll() { renderRooms(); renderHeader(); renderMembers(); }

function renderRooms() {
  const channels = $('channels');
  const dms = $('dms');
  clear(channels);
  clear(dms);
  for (const r of state.rooms.values()) {
    const li = el('li', { cls: `room${r.key === state.current ? ' active' : ''}` });
    const button = el('button', { attrs: { type: 'button' } });
    button.append(el('span', { cls: 'room-name', text: r.name }));
    if (r.unread) button.append(el('span', { cls: 'badge', text: String(r.unread) }));
    button.addEventListener('click', () => show(r.key));
    li.append(button);
    if (r.kind === 'channel') { li.dataset.channel = r.name; channels.append(li); } else { li.dataset.nick = r.name; dms.append(li); }
  }
  if (!channels.firstChild) channels.append(el('li', { cls: 'placeholder', text: 'No channels yet' }));
}

function renderHeader() {
  const r = room(state.current);
  $('current-name').textContent = r ? r.name : 'Parley';
  const topic = $('topic');
  if (r?.kind === 'channel') {
    topic.hidden = false;
    topic.textContent = r.topic ?? 'No topic — click to set one';
    topic.classList.toggle('unset', r.topic === null);
  } else {
    topic.hidden = true;
    topic.textContent = r ? 'Direct message' : '';
  }
  $('leave').hidden = !r;
  $('leave').textContent = r?.kind === 'dm' ? 'close' : 'leave';
}

function renderMembers() {
  const r = room(state.current);
  const list = $('members');
  clear(list);
  const members = r?.kind === 'channel' ? r.members : r ? [state.nick, r.name] : [];
  $('member-count').textContent = members.length ? String(members.length) : '';
  for (const nick of members) {
    const li = el('li', { cls: lower(nick) === lower(state.nick) ? 'member me' : 'member' });
    li.dataset.nick = nick;
    const button = el('button', { text: nick, attrs: { type: 'button', title: `Message ${nick}` } });
    button.style.setProperty('--hue', String(hue(nick)));
    if (lower(nick) !== lower(state.nick)) button.addEventListener('click', () => show(addDmRoom(nick).key));
    li.append(button);
    list.append(li);
  }
}

// `list`'s channels: name, member count, topic; a click joins.
function renderDirectory(channels) {
  const list = $('channel-list');
  clear(list);
  for (const c of channels) {
    const li = el('li', { cls: 'entry' });
    li.dataset.channel = c.channel;
    const button = el('button', { attrs: { type: 'button', title: `Join ${c.channel}` } });
    const head = el('span', { cls: 'entry-head' });
    head.append(el('span', { cls: 'room-name', text: c.channel }),
      el('span', { cls: 'count', text: `${c.members} ${c.members === 1 ? 'member' : 'members'}` }));
    button.append(head);
    if (c.topic !== null && c.topic !== undefined) button.append(el('span', { cls: 'entry-topic', text: c.topic }));
    button.addEventListener('click', () => guarded(() => joinChannel(c.channel)));
    li.append(button);
    list.append(li);
  }
  if (!channels.length) list.append(el('li', { cls: 'placeholder', text: 'No channels yet: create one by joining it.' }));
}

function sortNicks(nicks) { nicks.sort((a, b) => (lower(a) < lower(b) ? -1 : lower(a) > lower(b) ? 1 : 0)); }

function setStatus(s) {
  const status = $('status');
  status.dataset.state = s;
  document.body.dataset.connection = s;
  status.textContent = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' }[s];
}

function showBanner(text, kind = 'info') {
  const banner = $('banner');
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = false;
}

function hideBanner() { $('banner').hidden = true; }

// A passing error for something the user just did.
let toastTimer = null;
function showToast(text) {
  showBanner(text, 'error');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { if ($('banner').dataset.kind === 'error' && state.online) hideBanner(); }, 6000);
}

// Runs an action of the user's; its failure becomes a sentence on screen.
async function guarded(action) {
  try { await action(); } catch (err) { showToast(err.message || String(err)); }
}

// Narrow screens: the side panels slide over the conversation.
function togglePanel(id, button) {
  const open = !document.body.classList.contains(`open-${id}`);
  closePanels();
  if (open) {
    document.body.classList.add(`open-${id}`);
    button.setAttribute('aria-expanded', 'true');
    $('scrim').hidden = false;
  }
}

function closePanels() {
  document.body.classList.remove('open-sidebar', 'open-members');
  $('toggle-channels').setAttribute('aria-expanded', 'false');
  $('toggle-members').setAttribute('aria-expanded', 'false');
  $('scrim').hidden = true;
}

// ---------------------------------------------------------------------------
// Wiring

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const nick = $('nick-input').value.trim();
  const error = $('login-error');
  error.hidden = true;
  $('login-button').disabled = true;
  try {
    await signIn(nick);
    document.body.dataset.state = 'chat';
    $('login').hidden = true;
    $('chat').hidden = false;
    show(null);
    $('join-input').focus();
  } catch (err) {
    error.textContent = err.code === 'lost' ? 'Cannot reach the server. Is it running?' : err.message;
    error.hidden = false;
    $('nick-input').focus();
  } finally {
    $('login-button').disabled = false;
  }
});

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('join-input').value.trim();
  if (!name) return;
  $('join-input').value = '';
  guarded(() => joinChannel(name));
});

$('dm-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const nick = $('dm-input').value.trim();
  if (!nick) return;
  $('dm-input').value = '';
  show(addDmRoom(nick).key);
});

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('message-input');
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  autoGrow(input);
  guarded(() => submit(text));
});

// Enter sends, Shift+Enter makes a new line.
$('message-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
$('message-input').addEventListener('input', (e) => autoGrow(e.target));
function autoGrow(t) { t.style.height = 'auto'; t.style.height = `${Math.min(t.scrollHeight, 160)}px`; }

$('topic').addEventListener('click', () => {
  const r = room(state.current);
  if (r?.kind !== 'channel') return;
  $('topic-input').value = r.topic ?? '';
  $('topic-form').hidden = false;
  $('topic-input').focus();
});
$('topic-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const r = room(state.current);
  $('topic-form').hidden = true;
  if (r?.kind === 'channel') guarded(() => setTopic(r, $('topic-input').value));
});
$('topic-cancel').addEventListener('click', () => { $('topic-form').hidden = true; });

$('leave').addEventListener('click', () => {
  const r = room(state.current);
  if (r?.kind === 'channel') guarded(() => partChannel(r));
  else closeDm(r);
});

$('list-refresh').addEventListener('click', refreshList);
$('toggle-channels').addEventListener('click', (e) => togglePanel('sidebar', e.currentTarget));
$('toggle-members').addEventListener('click', (e) => togglePanel('members', e.currentTarget));
$('scrim').addEventListener('click', closePanels);

try { $('nick-input').value = localStorage.getItem('parley.nick') || ''; } catch { /* private mode */ }
$('nick-input').focus();
