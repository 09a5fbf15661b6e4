import { connect, createServer } from "@wirehouse/server";

const s = createServer();
s.websocket("/room", {
  open(ws) {
    ws.subscribe("room");
    ws.send("welcome");
  },
});
const { port } = await s.listen({ port: 0, hostname: "127.0.0.1" });
console.log("listening", port);
const ws = await connect(`ws://127.0.0.1:${port}/room`, {
  handler: {
    message(_w, d) {
      console.log("got", d);
    },
  },
});
console.log("connected");
setTimeout(() => {
  s.publish("room", "x");
}, 100);
setTimeout(async () => {
  ws.close();
  await s.close({ deadline: 100 });
  console.log("closed");
}, 500);
