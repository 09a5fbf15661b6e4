import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", deflate: "src/node/deflate.ts" },
  format: ["esm"],
  dts: { compilerOptions: { types: ["node"] } },
  clean: true,
  target: "es2022",
  sourcemap: true,
  external: ["node:zlib", "node:buffer"],
});
