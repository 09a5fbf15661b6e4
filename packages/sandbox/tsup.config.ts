import { defineConfig } from "tsup";

export default defineConfig({
  // The worker is its own entry: WebsocketScriptHost starts it by URL (./ws-worker.js next to index.js).
  entry: ["src/index.ts", "src/ws-worker.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  target: "es2022",
  sourcemap: true,
});
