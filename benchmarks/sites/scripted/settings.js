// The site the scripted-site benchmarks run (benchmarks/servers/wirehouse-site.ts loads it; the harness
// sets the port). /shop.sjs: a page script looping over 20 items, rendered in a fresh QuickJS context per
// request; /echo: a websocket script echoing every message. The same page rendered by EJS is
// ../ejs/shop.ejs (servers/ejs-http.mjs).
export default {
  listeners: [{ port: 8080, host: "127.0.0.1" }],
  sites: {
    bench: {
      root: ".",
      websockets: { "/echo": "echo.js" },
      // Well above a render's cost: the budget must never be what the figures measure.
      limits: { cpuMs: 1000 },
    },
  },
  limits: { maxConnections: 100_000, keepAliveTimeoutMs: 60_000 },
};
