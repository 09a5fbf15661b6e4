// One-off scaffolding helper: writes the standard files of a package.
// Usage: node scripts/mkpkg.mjs <name> <pure:true|false> [dep ...]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";

const [name, pureArg, ...deps] = process.argv.slice(2);
const pure = pureArg === "true";
const dir = `packages/${name}`;
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/test`, { recursive: true });
const pkg = {
  name: `@wirehouse/${name}`,
  version: "0.1.0",
  description: "",
  type: "module",
  license: "MIT",
  sideEffects: false,
  exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
  files: ["dist", "src", "README.md"],
  scripts: {
    build: "tsup",
    typecheck: pure ? "tsc -p tsconfig.json && tsc -p tsconfig.test.json" : "tsc -p tsconfig.test.json",
    test: "node ../../scripts/test.mjs .",
  },
  dependencies: Object.fromEntries(deps.map((d) => [d, d.startsWith("@wirehouse/") ? "0.1.0" : "*"])),
};
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
writeFileSync(
  `${dir}/jsr.json`,
  JSON.stringify({ name: `@wirehouse/${name}`, version: "0.1.0", exports: { ".": "./src/index.ts" } }, null, 2) + "\n",
);
writeFileSync(
  `${dir}/tsconfig.json`,
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: pure ? { types: [], lib: ["ES2022", "DOM"] } : { types: ["node"] },
      include: ["src"],
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(
  `${dir}/tsconfig.test.json`,
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: { types: ["node"] },
      include: ["src", "test", "fuzz", "bench"],
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(
  `${dir}/tsup.config.ts`,
  `import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  target: "es2022",
  sourcemap: true,
});
`,
);
if (!existsSync(`${dir}/src/index.ts`))
  writeFileSync(`${dir}/src/index.ts`, `/**\n * @module @wirehouse/${name}\n */\nexport {};\n`);
if (!existsSync(`${dir}/README.md`)) writeFileSync(`${dir}/README.md`, `# @wirehouse/${name}\n`);
