import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/sha1-node.ts"],
  format: ["esm"],
  // sha1-node.ts imports node:crypto, so the declaration build sees Node's types.
  dts: { compilerOptions: { types: ["node"] } },
  clean: true,
  target: "es2022",
  sourcemap: true,
});
