import { defineConfig } from "tsup";

export default defineConfig({
  // The workers are their own entries: WebsocketScriptHost and PageThread start them by URL
  // (./ws-worker.js and ./page-worker.js next to index.js).
  entry: ["src/index.ts", "src/ws-worker.ts", "src/page-worker.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  target: "es2022",
  sourcemap: true,
});
