#!/usr/bin/env node
// A person in a real headless Chromium (Debian's, driven by puppeteer-core
// over the DevTools protocol) chatting through the web client that parleyd
// serves, with people on plain TCP in the same channel. Run by
// tests/integration/browser_test.cpp; see docs/web-client.md.
//
//   node chat.test.mjs --page URL --tcp [NODE=]HOST:PORT ... --out DIR
//                      [--cut] [--drain] [--chromium PATH]
//
// --page   where the page is (http://HOST:PORT/); its WebSocket is /ws there.
// --tcp    where the TCP people connect. With several, each named by the
//          `server.node` it answers as, they connect to one that is not the
//          page's: the page is then free to move while they stay.
// --cut    the page's socket is closed under it (as a network drop would);
//          it must reconnect, resume on the same server, and show what was
//          said meanwhile once.
// --drain  the script prints `DRAIN node=NODE` (the page's server) and the
//          caller sends that server SIGTERM; the page must follow `shutdown`,
//          reconnect elsewhere, resume, and show what it missed once, under
//          the "missed" separator.
// --out    the directory for the screenshots (chat-desktop.png,
//          chat-phone.png, chat-phone-channels.png; chat-failure.png when a
//          check fails).
//
// Every wait is for a condition of the page's DOM or a line from the
// server, bounded; there are no sleeps. Exits 0 and prints
// `browser test: N checks passed` when all hold, else 1 with the first
// failure.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

// ---------------------------------------------------------------------------
// Arguments, checks, the overall bound

const options = { tcp: [], cut: false, drain: false, chromium: '/usr/bin/chromium', out: '.' };
for (let args = process.argv.slice(2); args.length;) {
  const flag = args.shift();
  if (flag === '--page') options.page = args.shift();
  else if (flag === '--tcp') options.tcp.push(args.shift());
  else if (flag === '--out') options.out = args.shift();
  else if (flag === '--chromium') options.chromium = args.shift();
  else if (flag === '--cut') options.cut = true;
  else if (flag === '--drain') options.drain = true;
  else { console.error(`unknown argument ${flag}`); process.exit(2); }
}
if (!options.page || !options.tcp.length) {
  console.error('usage: node chat.test.mjs --page URL --tcp [NODE=]HOST:PORT ... --out DIR [--cut] [--drain]');
  process.exit(2);
}

const overall = setTimeout(() => fail(new Error('the whole test took more than 150 s')), 150000);
let checks = 0;
const step = (text) => console.log(`step: ${text}`);

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  ++checks;
}

// ---------------------------------------------------------------------------
// A TCP person: one line per request, replies matched by id, events kept.

class TcpPerson {
  static connect(address) {
    const colon = address.lastIndexOf(':');
    const socket = net.createConnection({ host: address.slice(0, colon).replace(/^\[|\]$/g, ''),
                                          port: Number(address.slice(colon + 1)) });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new TcpPerson(socket)));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.waiting = new Map();
    this.events = [];      // every event received, in order
    this.watchers = [];    // {predicate, resolve} waiting for an event
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      buffered += chunk;
      for (let lf; (lf = buffered.indexOf('\n')) >= 0; buffered = buffered.slice(lf + 1)) {
        this.receive(JSON.parse(buffered.slice(0, lf)));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error(`${this.nick}: connection closed`));
    });
  }

  receive(m) {
    if ('ok' in m) {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m);
      else w.reject(new Error(`${this.nick}: ${w.cmd} failed: ${m.error.code}`));
      return;
    }
    if (m.event === 'ping') { this.call({ cmd: 'ping' }).catch(() => {}); return; }
    this.events.push(m);
    this.watchers = this.watchers.filter((w) => !(w.predicate(m) && (w.resolve(m), true)));
  }

  call(request) {
    const id = this.nextId++;
    this.socket.write(`${JSON.stringify({ ...request, id })}\n`);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject, cmd: request.cmd }));
  }

  // The first event (already received or still to come) that `predicate` accepts.
  waitEvent(predicate, what, timeoutMs = 10000) {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.nick} did not receive ${what} within ${timeoutMs} ms`)),
                               timeoutMs);
      this.watchers.push({ predicate, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  async hello(nick) {
    this.nick = nick;
    return this.call({ cmd: 'hello', nick });
  }

  say(channel, text) { return this.call({ cmd: 'say', channel, text }); }
  close() { this.socket.destroy(); }
}

// ---------------------------------------------------------------------------
// The page

let browser;
let page;
const pageErrors = [];

// Waits until `fn` (run in the page, with `args`) returns something truthy.
async function until(what, fn, args = [], timeoutMs = 10000) {
  try {
    return await page.waitForFunction(fn, { timeout: timeoutMs, polling: 50 }, ...args);
  } catch (err) {
    throw new Error(`the page did not show ${what} within ${timeoutMs} ms (${err.message.split('\n')[0]})`);
  }
}

// The text of every message shown now, in order, as "from: text".
const shownMessages = () => page.$$eval('#messages .message', (items) => items.map((li) =>
  `${li.querySelector('.from').textContent}: ${li.querySelector('.text').textContent}`));

// Waits for a message of `from` with exactly `text` in the conversation shown.
function untilMessage(from, text, timeoutMs) {
  return until(`the message "${from}: ${text}"`, (f, t) => [...document.querySelectorAll('#messages .message')]
    .some((li) => li.dataset.from === f && li.querySelector('.text').textContent === t
                  && !li.classList.contains('pending')), [from, text], timeoutMs);
}

async function typeInto(selector, text) {
  await page.click(selector, { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

// Types a line into the composer and sends it with Enter.
async function send(text) {
  await typeInto('#message-input', text);
  await page.keyboard.press('Enter');
}

async function openRoom(kind, name) {
  await page.click(`#${kind} li[data-${kind === 'channels' ? 'channel' : 'nick'}="${name}"] button`);
  await until(`${name} as the current room`, (n) => document.body.dataset.current === n, [name]);
}

const pageNode = () => page.evaluate(() => document.body.dataset.node || '');

// Each `seq` of the conversation shown appears once, in increasing order.
async function checkSeqOrder(channel) {
  const seqs = await page.$$eval('#messages .message[data-seq]', (items) => items.map((li) => Number(li.dataset.seq)));
  check(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `${channel}'s messages in seq order, none twice: ${seqs}`);
}

// ---------------------------------------------------------------------------
// The person's story

const nick = 'ada';
const channel = '#web';

async function main() {
  fs.mkdirSync(options.out, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
  browser = await puppeteer.launch({
    executablePath: options.chromium,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'],
  });
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  await page.setViewport({ width: 1280, height: 800 });
  await page.emulateMediaFeatures([{ name: 'prefers-reduced-motion', value: 'reduce' }]);  // panels open at once

  step(`loading ${options.page}`);
  const response = await page.goto(options.page, { waitUntil: 'load', timeout: 15000 });
  check(response.status() === 200, `GET / answers 200 (got ${response.status()})`);
  check(String(response.headers()['content-type']).startsWith('text/html'), 'the page is text/html');
  check(String(response.headers()['content-security-policy']).includes("script-src 'sha256-"),
        'the page comes with its Content-Security-Policy');

  step('picking a nick');
  await typeInto('#nick-input', '9lives');
  await page.click('#login-button');
  await until('the sentence for invalid_nick', () => {
    const e = document.getElementById('login-error');
    return !e.hidden && e.textContent.startsWith('That nick is not allowed');
  });
  ++checks;
  await typeInto('#nick-input', nick);
  await page.keyboard.press('Enter');
  await until('the chat, connected', () => document.body.dataset.state === 'chat'
    && document.getElementById('status').dataset.state === 'connected');
  check(await page.$eval('#my-nick', (e) => e.textContent) === nick, 'the page shows who I am');
  const firstNode = await pageNode();

  // The TCP people go to a server the page is not on (when there is a choice).
  const named = options.tcp.map((t) => (t.includes('=') ? t.split(/=(.*)/s).slice(0, 2) : ['', t]));
  const [, tcpAddress] = named.find(([node]) => node && node !== firstNode) || named[0];
  step(`the page is on node "${firstNode}"; TCP people on ${tcpAddress}`);
  const bob = await TcpPerson.connect(tcpAddress);
  await bob.hello('bob');
  await bob.call({ cmd: 'join', channel });
  const carol = await TcpPerson.connect(tcpAddress);
  await carol.hello('carol');
  await carol.call({ cmd: 'join', channel });
  await bob.call({ cmd: 'topic', channel, topic: 'Launch checklist: docs, demo, release notes' });
  await bob.say(channel, 'Morning! The demo build is up on staging.');
  await carol.say(channel, 'Nice, I will go through the release notes after lunch.');

  step('joining #web: topic, members and the last messages');
  await typeInto('#join-input', channel);
  await page.keyboard.press('Enter');
  await until('#web in the channel list', (c) => document.querySelector(`#channels li[data-channel="${c}"]`), [channel]);
  await untilMessage('bob', 'Morning! The demo build is up on staging.');
  await untilMessage('carol', 'Nice, I will go through the release notes after lunch.');
  check(await page.$eval('#topic', (e) => e.textContent) === 'Launch checklist: docs, demo, release notes',
        'the topic is shown on joining');
  const members = await page.$$eval('#members li', (items) => items.map((li) => li.dataset.nick));
  check(JSON.stringify(members) === JSON.stringify(['ada', 'bob', 'carol']), `the members are shown: ${members}`);
  await bob.waitEvent((e) => e.event === 'join' && e.nick === nick, 'ada joining');

  step('saying something that a TCP person receives');
  await send('Hi both! Joining from the browser.');
  const heard = await bob.waitEvent((e) => e.event === 'message' && e.from === nick, "ada's message");
  check(heard.text === 'Hi both! Joining from the browser.' && heard.channel === channel, 'bob got the text as typed');
  await untilMessage(nick, 'Hi both! Joining from the browser.');  // confirmed by the reply, no longer pending

  step('receiving what a TCP person says, as text, never as HTML');
  const markup = '<img src=x onerror="document.body.dataset.pwned=1"> <b>bold?</b> & <script>alert(1)</script>';
  await bob.say(channel, markup);
  await untilMessage('bob', markup);
  check(await page.$$eval('#messages img, #messages b, #messages script', (n) => n.length) === 0,
        'markup in a message stays text');
  await bob.say(channel, 'Welcome ada :) the checklist is in the topic.');
  await untilMessage('bob', 'Welcome ada :) the checklist is in the topic.');

  step('seeing a topic change, and changing it');
  const topic = 'Launch Friday 16:00 <b>UTC</b>';
  await carol.call({ cmd: 'topic', channel, topic });
  await until('the new topic', (t) => document.getElementById('topic').textContent === t, [topic]);
  await page.click('#topic');
  await typeInto('#topic-input', 'Launch Friday 16:00 UTC: docs, demo, release notes');
  await page.click('#topic-save');
  const changed = await bob.waitEvent((e) => e.event === 'topic' && e.nick === nick, "ada's topic");
  check(changed.topic === 'Launch Friday 16:00 UTC: docs, demo, release notes', 'bob saw the topic ada set');
  await until('the topic ada set', () => document.getElementById('topic').textContent.startsWith('Launch Friday 16:00 UTC:'));

  step('direct messages both ways');
  await carol.call({ cmd: 'msg', to: nick, text: 'psst: can you review my notes PR?' });
  await until('a DM conversation with carol', () => document.querySelector('#dms li[data-nick="carol"] .badge'));
  await openRoom('dms', 'carol');
  await untilMessage('carol', 'psst: can you review my notes PR?');
  await send('Sure, after the demo.');
  const dm = await carol.waitEvent((e) => e.event === 'message' && e.from === nick && !e.channel, "ada's DM");
  check(dm.text === 'Sure, after the demo.' && dm.to === 'carol', 'carol got the DM');
  await openRoom('channels', channel);

  step('the channel list: member counts and topics');
  await page.click('#list-refresh');
  await until('#web with 3 members in All channels', (c) => {
    const li = document.querySelector(`#channel-list li[data-channel="${c}"]`);
    return li && li.textContent.includes('3 members') && li.textContent.includes('Launch Friday');
  }, [channel]);
  ++checks;

  step('an error in words');
  await typeInto('#join-input', 'no spaces!');
  await page.keyboard.press('Enter');
  await until('the sentence for invalid_channel', () => {
    const b = document.getElementById('banner');
    return !b.hidden && b.textContent.startsWith('That is not a channel name');
  });
  ++checks;

  // Nobody hears anything of ada from here on but what she says: a resume
  // causes no join, part or quit.
  const quietFrom = bob.events.length;

  if (options.cut) {
    step('the connection drops; the page resumes on the same server');
    await page.evaluate(() => state.ws.close());  // the page's own socket, as a drop would close it
    await until('the socket closed', () => document.body.dataset.socket === 'closed');
    await bob.say(channel, 'Said while ada was cut off.');
    await until('connected again', () => document.getElementById('status').dataset.state === 'connected'
      && document.body.dataset.socket === 'open', [], 15000);
    await untilMessage('bob', 'Said while ada was cut off.');
    check(await pageNode() === firstNode, 'resumed on the same server');
  }

  if (options.drain) {
    step('the server drains; the page follows shutdown and resumes');
    console.log(`DRAIN node=${firstNode}`);
    await until('reconnecting, the old socket closed', () => document.getElementById('status').dataset.state === 'reconnecting'
      && document.body.dataset.socket === 'closed', [], 20000);
    await bob.say(channel, 'Missed one: the demo moved to 15:00.');
    await carol.say(channel, 'Missed two: release notes are merged.');
    await until('connected again', () => document.getElementById('status').dataset.state === 'connected'
      && document.body.dataset.socket === 'open', [], 30000);
    await untilMessage('carol', 'Missed two: release notes are merged.');
    const shown = await shownMessages();
    const marker = await page.$$eval('#messages li', (items) => items.findIndex((li) => li.classList.contains('missed-marker')));
    const missedAt = await page.$$eval('#messages li', (items) =>
      items.findIndex((li) => li.querySelector('.text')?.textContent === 'Missed one: the demo moved to 15:00.'));
    check(marker >= 0 && marker < missedAt, 'what was missed comes under the "missed" separator');
    const node = await pageNode();
    if (named.length > 1) check(node && node !== firstNode, `resumed on another server (${firstNode} -> ${node})`);
    check(shown.filter((m) => m === 'bob: Missed one: the demo moved to 15:00.').length === 1, 'missed one shown once');
  }

  if (options.cut || options.drain) {
    await bob.say(channel, 'Welcome back!');
    await untilMessage('bob', 'Welcome back!');
    await send('Thanks, back again.');
    await bob.waitEvent((e) => e.event === 'message' && e.from === nick && e.text === 'Thanks, back again.',
                        "ada's message after the resume");
    const noise = bob.events.slice(quietFrom).filter((e) => ['join', 'part', 'quit'].includes(e.event) && e.nick === nick);
    check(noise.length === 0, `nobody was told of ada's reconnect: ${JSON.stringify(noise)}`);
  }

  step('everything once, in order');
  const all = await shownMessages();
  check(new Set(all).size === all.length, `no message shown twice: ${JSON.stringify(all)}`);
  await checkSeqOrder(channel);
  check(await page.evaluate(() => document.body.dataset.pwned) === undefined, 'no markup ran');
  check(pageErrors.length === 0, `no script errors in the page: ${pageErrors.join('; ')}`);

  step('screenshots');
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: path.join(options.out, 'chat-desktop.png') });
  // Only the size: a change of isMobile or hasTouch would reload the page.
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2 });
  await until('the narrow layout, its panels out of the way', () =>
    getComputedStyle(document.getElementById('toggle-channels')).display !== 'none'
    && document.getElementById('sidebar').getBoundingClientRect().right <= 0
    && document.getElementById('members-panel').getBoundingClientRect().left >= innerWidth);
  await page.screenshot({ path: path.join(options.out, 'chat-phone.png') });
  await page.click('#toggle-channels');
  await until('the channel panel open', () => document.body.classList.contains('open-sidebar'));
  await until('the panel in place', () => document.getElementById('sidebar').getBoundingClientRect().left >= -1);
  await page.screenshot({ path: path.join(options.out, 'chat-phone-channels.png') });

  bob.close();
  carol.close();
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  clearTimeout(overall);
  console.log(`browser test: ${checks} checks passed`);
}

async function fail(err) {
  console.log(`browser test FAILED: ${err.message}`);
  if (pageErrors.length) console.log(`page errors: ${pageErrors.join('; ')}`);
  try {
    if (page) {
      console.log(`messages shown: ${JSON.stringify(await shownMessages())}`);
      await page.screenshot({ path: path.join(options.out, 'chat-failure.png') });
    }
  } catch { /* the page may be gone */ }
  try { await browser?.close(); } catch { /* already closed */ }
  process.exit(1);
}

main().catch(fail);
