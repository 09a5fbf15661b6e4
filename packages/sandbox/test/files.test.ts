import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
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

  it("sees edits, deletions and a directory swapped for a symlink out of the root at once, with real paths remembered", () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-sandbox-files-"));
    try {
      const root = join(dir, "web");
      mkdirSync(join(root, "d"), { recursive: true });
      mkdirSync(join(dir, "outside"));
      writeFileSync(join(dir, "outside", "p.sjs"), "outside!");
      writeFileSync(join(root, "d", "p.sjs"), "one");
      const files = new DirectoryFiles(root);
      const v1 = files.version("/d/p.sjs");
      assert.ok(v1);
      assert.equal(files.version("/d/p.sjs"), v1);
      writeFileSync(join(root, "d", "p.sjs"), "two!");
      assert.notEqual(files.version("/d/p.sjs"), v1);
      unlinkSync(join(root, "d", "p.sjs"));
      assert.equal(files.version("/d/p.sjs"), undefined);
      writeFileSync(join(root, "d", "p.sjs"), "three");
      assert.ok(files.version("/d/p.sjs"));
      // The directory becomes a symlink leaving the root: the remembered real path is gone, so the
      // path is resolved again and refused.
      renameSync(join(root, "d"), join(dir, "old-d"));
      symlinkSync(join(dir, "outside"), join(root, "d"));
      assert.equal(files.version("/d/p.sjs"), undefined);
      assert.equal(files.read("/d/p.sjs"), undefined);
      assert.equal(files.version("/d"), undefined); // a directory is not a file
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
