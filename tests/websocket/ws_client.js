// The example clients' contract over WebSocket, with Debian's node-ws (run
// by tests/integration/websocket_test.cpp with NODE_PATH=/usr/share/nodejs):
// hello, join, say TEXT, print the first message from someone else as
// "<from> text", quit, and exit 0 once the server closed with 1000.
//
//     node ws_client.js HOST:PORT NICK CHANNEL TEXT
'use strict';
const WebSocket = require('ws');

const [address, nick, channel, text] = process.argv.slice(2);
const ws = new WebSocket(`ws://${address}/ws`, 'parley.v1');
const timer = setTimeout(() => fail('timed out'), 10000);

function fail(why) {
  console.log(`FAILED: ${why}`);
  process.exit(1);
}

function send(request) {
  ws.send(JSON.stringify(request));
}

ws.on('open', () => {
  if (ws.protocol !== 'parley.v1') fail(`subprotocol ${ws.protocol}`);
  send({cmd: 'hello', nick, id: 1});
  send({cmd: 'join', channel, id: 2});
  send({cmd: 'say', channel, text, id: 3});
});

ws.on('message', (data, isBinary) => {
  if (isBinary) fail('a binary message');
  const line = JSON.parse(data.toString());
  if (line.ok === false) fail(JSON.stringify(line));
  if (line.event === 'message') {
    console.log(`<${line.from}> ${line.text}`);
    send({cmd: 'quit', id: 4});
  }
});

ws.on('close', (code) => {
  clearTimeout(timer);
  if (code !== 1000) fail(`closed with ${code}`);
  console.log('closed 1000');
  process.exit(0);
});

ws.on('error', (e) => fail(e.message));
