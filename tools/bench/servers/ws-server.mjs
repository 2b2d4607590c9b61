// A plain Node `ws` broadcast server (npm ws): one WebSocket per client at
// /ws (subprotocol parley.v1), one request per text message, rooms as Sets
// of sockets; a broadcast serialises the event once and sends the same
// Buffer to every member of the room but the sender. parley-bench drives it
// with --transport ws. See chat.mjs for the requests.
import { WebSocketServer } from "ws";
import { Chat, announce, port } from "./chat.mjs";

const rooms = new Map();  // room -> Set of sockets
const states = new WeakMap();

const chat = new Chat({
  send: (socket, value) => socket.send(JSON.stringify(value)),
  join(socket, room) {
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Set()));
    members.add(socket);
    states.get(socket).rooms.push(room);
  },
  broadcast(sender, room, value) {
    const bytes = Buffer.from(JSON.stringify(value));
    for (const socket of rooms.get(room) ?? []) if (socket !== sender) socket.send(bytes, { binary: false });
  },
  close: (socket) => socket.close(1000),
});

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: port(),
  path: "/ws",
  perMessageDeflate: false,
  clientTracking: false,
  handleProtocols: (protocols) => (protocols.has("parley.v1") ? "parley.v1" : false),
});
server.on("listening", () => announce(server.address()));
server.on("connection", (socket) => {
  const state = { nick: undefined, rooms: [] };
  states.set(socket, state);
  socket.on("message", (data, isBinary) => {
    if (isBinary) return socket.close(1003);
    chat.handle(socket, state, JSON.parse(data));
  });
  socket.on("close", () => {
    for (const room of state.rooms) rooms.get(room)?.delete(socket);
    chat.gone(state);
  });
  socket.on("error", () => {});
});
process.on("SIGTERM", () => process.exit(0));
