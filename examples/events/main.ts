/**
 * The event-style facade: no routes, just listeners. On connection the server sends
 * a text and a binary message, echoes every message back with a prefix, counts
 * messages in per-socket user data and reads that count when the socket closes.
 */
import process from "node:process";
import { createServer } from "@wirehouse/server";
import { closeOnSignal, parseFlags } from "../args.ts";

interface Session {
  id: number;
  messages: number;
}

const { port, host } = parseFlags(8081);
const server = createServer();
let nextId = 1;

server.on("connection", (socket) => {
  const session: Session = { id: nextId++, messages: 0 };
  server.setUserData(socket, session);
  server.send(socket, `welcome ${session.id}`);
  server.send(socket, new Uint8Array([1, 2, 3, 4]), true);
});

server.on("message", (socket, message, isBinary) => {
  const session = server.getUserData(socket) as Session;
  session.messages++;
  if (isBinary) server.send(socket, new Uint8Array([0xee, ...(message as Uint8Array)]), true);
  else server.send(socket, `echo: ${message}`);
});

server.on("close", (socket, code) => {
  const session = server.getUserData(socket) as Session;
  console.log(`closed id=${session.id} code=${code} messages=${session.messages}`);
});

const address = await server.listen({ port, hostname: host });
console.log(`ready port=${address.port} pid=${process.pid}`);
closeOnSignal(() => server.close({ deadline: 2000 }));
