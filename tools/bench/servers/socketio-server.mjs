// A Socket.IO server (npm socket.io), WebSocket only, as a team would write
// a browser chat with it: one event "m" carries each request and each reply
// (42["m",{...}] on the wire), rooms are Socket.IO's rooms, and a say is
// `socket.to(room).emit(...)`: Socket.IO encodes the packet once for the
// room. parley-bench drives it with --transport socketio. See chat.mjs.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { Chat, announce, port } from "./chat.mjs";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });

const chat = new Chat({
  send: (socket, value) => socket.emit("m", value),
  join: (socket, room) => socket.join(room),
  broadcast: (sender, room, value) => sender.to(room).emit("m", value),
  close: (socket) => socket.disconnect(true),
});

io.on("connection", (socket) => {
  const state = { nick: undefined };
  socket.on("m", (request) => chat.handle(socket, state, request));
  socket.on("disconnect", () => chat.gone(state));
});
http.listen(port(), "127.0.0.1", () => announce(http.address()));
process.on("SIGTERM", () => process.exit(0));
