// biome-ignore-all lint/correctness/noUnusedVariables: the host calls these handlers by name
// biome-ignore-all lint/correctness/noUnusedFunctionParameters: handler signatures are fixed by the host
// The default site's chat: every message goes to everyone connected.
function onConnect(client) {
  client.name = String(client.query.name || "guest" + client.id).slice(0, 32);
  broadcast("* " + client.name + " joined (" + clients().length + " here)");
}

function onMessage(client, data) {
  if (typeof data !== "string") return;
  broadcast(client.name + ": " + data.slice(0, 2000));
}

function onDisconnect(client) {
  broadcast("* " + client.name + " left", client);
}

// A plain HTTP GET to /chat: send the browser to the page with the client.
function onRequest(client) {
  client.redirect("/chat.html");
}
