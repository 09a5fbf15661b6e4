import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "sha1-node": "src/node/sha1.ts" },
  format: ["esm"],
  // src/node/sha1.ts imports node:crypto, so the declaration build sees Node's types.
  dts: { compilerOptions: { types: ["node"] } },
  clean: true,
  target: "es2022",
  sourcemap: true,
});
