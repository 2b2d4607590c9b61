#!/usr/bin/env node
// A minimal Parley client in Node.js, no packages.
//
//   node client.mjs ADDRESS NICK CHANNEL TEXT
//
// Connects (HOST:PORT, [V6]:PORT or unix:PATH), registers as NICK, joins
// CHANNEL, says TEXT, then prints the first message someone else says there
// as "<nick> text" and quits.
import net from 'node:net';

const [address, nick, channel, text] = process.argv.slice(2);
if (!text) {
  console.error('usage: node client.mjs ADDRESS NICK CHANNEL TEXT');
  process.exit(2);
}

function connect(addr) {
  if (addr.startsWith('unix:')) return net.createConnection({ path: addr.slice(5) });
  const colon = addr.lastIndexOf(':');
  const host = addr.slice(0, colon).replace(/^\[|\]$/g, '');
  return net.createConnection({ host, port: Number(addr.slice(colon + 1)) });
}

const socket = connect(address);
socket.setEncoding('utf8');
let buffered = '';
let nextId = 1;
const waiting = new Map();  // id -> {resolve, reject}
let onEvent = () => {};

function call(request) {
  const id = nextId++;
  socket.write(JSON.stringify({ ...request, id }) + '\n');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject, cmd: request.cmd }));
}

socket.on('data', (chunk) => {
  buffered += chunk;
  let lf;
  while ((lf = buffered.indexOf('\n')) >= 0) {
    const message = JSON.parse(buffered.slice(0, lf));
    buffered = buffered.slice(lf + 1);
    if ('ok' in message) {
      const w = waiting.get(message.id);
      waiting.delete(message.id);
      if (!w) continue;
      if (message.ok) w.resolve(message);
      else w.reject(new Error(`${w.cmd} failed: ${message.error.code}`));
    } else if (message.event === 'ping') {
      call({ cmd: 'ping' });
    } else {
      onEvent(message);
    }
  }
});
socket.on('error', (err) => { console.error(err.message); process.exit(1); });

const heard = new Promise((resolve) => {
  onEvent = (e) => { if (e.event === 'message' && e.channel === channel) resolve(e); };
});

await call({ cmd: 'hello', nick });
await call({ cmd: 'join', channel });
await call({ cmd: 'say', channel, text });
const message = await heard;
console.log(`<${message.from}> ${message.text}`);
await call({ cmd: 'quit' });
socket.end();
