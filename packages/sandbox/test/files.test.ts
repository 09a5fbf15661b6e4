import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DirectoryFiles, PageEngine, PathError, resolveSitePath } from "../src/index.ts";

describe("site files", () => {
  it("resolves paths relative to the including file and never above the root", () => {
    assert.equal(resolveSitePath("/a/b/page.sjs", "x.sjs"), "/a/b/x.sjs");
    assert.equal(resolveSitePath("/a/b/page.sjs", "../x.sjs"), "/a/x.sjs");
    assert.equal(resolveSitePath("/a/b/page.sjs", "/x.sjs"), "/x.sjs");
    assert.equal(resolveSitePath("/a/page.sjs", "./c/./d/../e.sjs"), "/a/c/e.sjs");
    for (const bad of ["../../x", "/../x", "a\0b", "..\\x", ""]) {
      assert.throws(() => resolveSitePath("/a/page.sjs", bad), PathError, JSON.stringify(bad));
    }
  });

  it("reads a directory, refusing dotfiles and symlinks that leave the root", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-sandbox-files-"));
    try {
      const root = join(dir, "web");
      mkdirSync(join(root, "parts"), { recursive: true });
      writeFileSync(join(dir, "secret.txt"), "secret");
      writeFileSync(
        join(root, "index.sjs"),
        `<?= readFile("parts/x.txt") ?>|<?= readFile("link.txt") ?>|<?= readFile(".env") ?>`,
      );
      writeFileSync(join(root, "parts", "x.txt"), "inside");
      writeFileSync(join(root, ".env"), "dot");
      symlinkSync(join(dir, "secret.txt"), join(root, "link.txt"));
      const files = new DirectoryFiles(root);
      assert.equal(files.version("/link.txt"), undefined);
      assert.equal(files.read("/.env"), undefined);
      const engine = await PageEngine.create({ files, limits: { cpuMs: 5000 } });
      try {
        const r = await engine.render("/index.sjs", { method: "GET", url: "/" });
        assert.equal(new TextDecoder().decode(r.body), "inside||");
        // A new version (mtime and size) is picked up.
        writeFileSync(join(root, "index.sjs"), "changed!");
        utimesSync(join(root, "index.sjs"), new Date(), new Date(Date.now() + 5000));
        const r2 = await engine.render("/index.sjs", { method: "GET", url: "/" });
        assert.equal(new TextDecoder().decode(r2.body), "changed!");
      } finally {
        engine.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
