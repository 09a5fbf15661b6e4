// biome-ignore-all lint/correctness/noUnusedVariables: the host calls these handlers by name
// The websocket-script echo of the benchmarks: every message back as received (text stays text).
function onMessage(client, data) {
  client.send(data);
}
