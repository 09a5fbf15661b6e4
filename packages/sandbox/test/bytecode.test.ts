import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { patchBinary } from "../src/bytecode.ts";
import { MemoryFiles, PageEngine, type PageRequest, type ScriptError } from "../src/index.ts";

const LAX = { cpuMs: 5000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const REQ: PageRequest = { method: "GET", url: "/a%20b.sjs?x=1&x=2", headers: { cookie: "c=d" } };

const PAGES: Record<string, string> = {
  "/out.sjs": `<h1><?= "a<b" ?></h1><?js for (let i = 0; i < 3; i++) { ?><i><?= i ?></i><?js } print("<raw>") ?>`,
  "/req.sjs": `<?= request.path ?> <?= JSON.stringify(request.query) ?> <?= request.cookies.c ?>`,
  "/inc.sjs": `top <?import parts/part.sjs ?> <?js include("parts/part.sjs") ?>end`,
  "/parts/part.sjs": `<?js var n = (typeof n == "number" ? n : 0) + 1 ?>[part <?= n ?>]`,
  "/throw.sjs": `line 1\n<?js\n  var x = 1;\n  null.foo;\n?>`,
  "/syntax.sjs": `ok\n\n<?js var = 1 ?>`,
  "/incthrow.sjs": `a\n<?import parts/bad.sjs ?>`,
  "/parts/bad.sjs": `x\n  <?= missing ?>`,
  "/response.sjs": `<?js response.status = 201; response.header("x-a", "1"); response.cookie("k", "v") ?>made`,
  "/globals.sjs": `<?js Object.prototype.p = (Object.prototype.p || 0) + 1; var seen = typeof kept; var kept = 1 ?><?= ({}).p ?> <?= seen ?>`,
};

type Outcome =
  | { status: number; headers: [string, string][]; body: string }
  | { error: string; line?: number; file?: string };

async function outcomes(bytecode: boolean): Promise<[Map<string, Outcome[]>, boolean]> {
  const engine = await PageEngine.create({ files: new MemoryFiles(PAGES), limits: LAX, bytecode });
  const out = new Map<string, Outcome[]>();
  try {
    for (const path of Object.keys(PAGES)) {
      const runs: Outcome[] = [];
      // Twice: the first run compiles, the second reads the bytecode into a fresh context.
      for (let i = 0; i < 2; i++) {
        try {
          const r = await engine.render(path, REQ);
          runs.push({ status: r.status, headers: r.headers, body: text(r.body) });
        } catch (e) {
          const s = e as ScriptError;
          runs.push({ error: s.describe?.() ?? String(e), line: s.line, file: s.file });
        }
      }
      out.set(path, runs);
    }
    return [out, engine.usesBytecode];
  } finally {
    engine.dispose();
  }
}

describe("bytecode", () => {
  it("is used on this runtime, and renders exactly what parsing source per request renders", async () => {
    const [withBytecode, used] = await outcomes(true);
    const [withSource, usedWithout] = await outcomes(false);
    assert.equal(used, true);
    assert.equal(usedWithout, false);
    assert.deepEqual(withBytecode, withSource);
    // Spot checks, so that both being wrong the same way fails too.
    const second = (path: string) => withBytecode.get(path)![1] as Record<string, unknown>;
    assert.deepEqual(second("/globals.sjs"), {
      status: 200,
      headers: [["content-type", "text/html; charset=utf-8"]],
      body: "1 undefined",
    });
    assert.equal(second("/inc.sjs").body, "top [part 1] [part 2]end");
    assert.equal(second("/req.sjs").body, `/a b.sjs {&quot;x&quot;:[&quot;1&quot;,&quot;2&quot;]} d`);
    assert.deepEqual(second("/throw.sjs"), {
      error: "/throw.sjs:4:7: TypeError: cannot read property 'foo' of null",
      line: 4,
      file: "/throw.sjs",
    });
    assert.equal(second("/syntax.sjs").line, 3);
    assert.equal(second("/incthrow.sjs").file, "/parts/bad.sjs");
  });

  it("compiles a page again when its file changes", async () => {
    const files = new MemoryFiles({ "/p.sjs": "<?= 1 + 1 ?>" });
    const engine = await PageEngine.create({ files, limits: LAX });
    try {
      assert.equal(text((await engine.render("/p.sjs", REQ)).body), "2");
      assert.equal(text((await engine.render("/p.sjs", REQ)).body), "2");
      files.set("/p.sjs", "<?= 2 + 2 ?>");
      assert.equal(text((await engine.render("/p.sjs", REQ)).body), "4");
    } finally {
      engine.dispose();
    }
  });

  it("changes nothing in a binary it does not recognise", () => {
    const path = createRequire(import.meta.url).resolve("@jitl/quickjs-wasmfile-release-sync/wasm");
    const wasm = new Uint8Array(readFileSync(path));
    const patched = patchBinary(wasm);
    assert.ok(patched instanceof Uint8Array);
    assert.ok(WebAssembly.validate(patched as Uint8Array<ArrayBuffer>));
    // The expected body of JS_EvalFunction altered: no patch at all.
    const marker = Uint8Array.from([0x20, 0x00, 0x29, 0x03, 0xd0, 0x01, 0x41, 0x00, 0x41, 0x00, 0x10, 0xb0, 0x05]);
    const at = indexOf(wasm, marker);
    assert.ok(at > 0);
    const other = wasm.slice();
    other[at + 4] = 0xd4; // another field offset
    assert.equal(patchBinary(other), undefined);
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
