import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { StaticSite } from "../src/index.ts";
import { get } from "./helpers.ts";

// outer/
//   sentinel.txt          the bytes no request may ever see
//   www2/sentinel.txt     a sibling whose name starts like the root's
//   www/                  the root
//     index.html  sub/a.txt  .private (a copy of the sentinel)
//     out-link -> ../sentinel.txt      symlink to a file outside
//     out-dir  -> ..                   symlink to a directory outside
//     sibling  -> ../www2              symlink to the look-alike sibling
//     in-link  -> sub/a.txt            symlink that stays inside (allowed)
const SENTINEL = `SENTINEL-${Math.random().toString(36).slice(2)}-DO-NOT-SERVE`;
const outer = mkdtempSync(join(tmpdir(), "wirehouse-safety-"));
const root = join(outer, "www");
mkdirSync(join(root, "sub"), { recursive: true });
mkdirSync(join(outer, "www2"));
writeFileSync(join(outer, "sentinel.txt"), SENTINEL);
writeFileSync(join(outer, "www2", "sentinel.txt"), SENTINEL);
writeFileSync(join(root, ".private"), SENTINEL);
writeFileSync(join(root, "index.html"), "home");
writeFileSync(join(root, "sub", "a.txt"), "inside");
symlinkSync(join("..", "sentinel.txt"), join(root, "out-link"));
symlinkSync("..", join(root, "out-dir"));
symlinkSync(join("..", "www2"), join(root, "sibling"));
symlinkSync(join("sub", "a.txt"), join(root, "in-link"));
after(() => rmSync(outer, { recursive: true, force: true }));

const sites = [
  new StaticSite({ root, watch: false }),
  new StaticSite({ root: root + "/", watch: false, maxCachedFileSize: 4, revalidateMs: 0 }),
  new StaticSite({ root, watch: false, allowDotfiles: true, index: null }),
];
after(() => {
  for (const s of sites) s.close();
});

const leaks = (text: string) => text.includes(SENTINEL) || text.includes("SENTINEL-");

describe("nothing outside the root", () => {
  it("refuses traversal in every spelling", async () => {
    const attempts = [
      "/../sentinel.txt",
      "/../../sentinel.txt",
      "/sub/../../sentinel.txt",
      "/%2e%2e/sentinel.txt",
      "/%2E%2E/%2e%2e/sentinel.txt",
      "/.%2e/sentinel.txt",
      "/..%2fsentinel.txt",
      "/%2f..%2fsentinel.txt",
      "/..%5csentinel.txt",
      "/..\\sentinel.txt",
      "/sub\\..\\..\\sentinel.txt",
      "/%c0%ae%c0%ae/sentinel.txt",
      "/..%00/sentinel.txt",
      "/sentinel.txt%00.html",
      "/../www2/sentinel.txt",
      "//../sentinel.txt",
      "/out-link",
      "/out-dir/sentinel.txt",
      "/out-dir/www2/sentinel.txt",
      "/sibling/sentinel.txt",
      "/.private",
    ];
    for (const site of sites.slice(0, 2)) {
      for (const p of attempts) {
        const r = await get(site, p);
        assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
        assert.ok(!leaks(r.text), p);
        const n = await get(site, p, {}, "GET", { normalized: true });
        assert.ok(n.status === 400 || n.status === 404, `${p} (as normalised): ${n.status}`);
        assert.ok(!leaks(n.text), p);
      }
    }
  });

  it("still serves symlinks that stay inside", async () => {
    assert.equal((await get(sites[0]!, "/in-link")).text, "inside");
  });

  it("property: no generated path yields the sentinel's bytes", async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        "..",
        ".",
        "",
        "%2e%2e",
        "%2E%2e",
        ".%2e",
        "%2e.",
        "%2e",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "..\\..",
        "%00",
        "\0",
        "%",
        "%c0%ae",
        "%e0%80%ae",
        "sentinel.txt",
        "www",
        "www2",
        "out-link",
        "out-dir",
        "sibling",
        "in-link",
        "sub",
        "a.txt",
        ".private",
        "%2eprivate",
        "é",
        "%C3%A9",
        "..;",
        "?",
        "#",
      ),
      fc.string({ maxLength: 6 }),
      fc.string({ unit: "grapheme", maxLength: 3 }),
    );
    const pathArb = fc
      .tuple(fc.constantFrom("/", "//", "", "/./", "\\"), fc.array(segment, { maxLength: 7 }))
      .map(([lead, segs]) => lead + segs.join("/"));
    await fc.assert(
      fc.asyncProperty(pathArb, fc.boolean(), fc.constantFrom(0, 1, 2), async (path, normalized, which) => {
        const r = await get(sites[which]!, path, {}, "GET", { normalized });
        if (leaks(r.text)) {
          // A dotfile copy inside the root is only visible where dotfiles are allowed.
          assert.equal(which, 2, `${JSON.stringify(path)} leaked`);
          assert.ok(r.status === 200);
          return;
        }
      }),
      { numRuns: 1500 },
    );
  });
});
