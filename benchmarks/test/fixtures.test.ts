import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  FIXTURE_COMMANDS,
  findCommand,
  fixtureUnavailable,
  PHP_PAGE,
  phpFpmConfig,
  redisArgs,
} from "../src/fixtures.ts";
import { fixturesFor } from "../src/harness.ts";
import { serverTable } from "../src/servers.ts";

describe("fixture config writers", () => {
  it("php-fpm: one static pool on the given socket, foreground, logs in the run's directory", () => {
    const conf = phpFpmConfig("/tmp/run", "/tmp/run/fpm.sock", 4);
    assert.match(conf, /^\[global\]$/m);
    assert.match(conf, /^daemonize = no$/m);
    assert.match(conf, /^error_log = \/tmp\/run\/php-fpm\.log$/m);
    assert.match(conf, /^listen = \/tmp\/run\/fpm\.sock$/m);
    assert.match(conf, /^pm = static$/m);
    assert.match(conf, /^pm\.max_children = 4$/m);
    assert.match(phpFpmConfig("/d", "127.0.0.1:9000", 2), /^listen = 127\.0\.0\.1:9000$/m);
  });

  it("redis-server: loopback, the given port, no snapshots and no AOF", () => {
    const argv = redisArgs("/usr/bin/redis-server", 6390, "/tmp/r");
    assert.equal(argv[0], "/usr/bin/redis-server");
    const opt = (name: string) => argv[argv.indexOf(`--${name}`) + 1];
    assert.equal(opt("port"), "6390");
    assert.equal(opt("bind"), "127.0.0.1");
    assert.equal(opt("save"), "");
    assert.equal(opt("appendonly"), "no");
    assert.equal(opt("daemonize"), "no");
    assert.equal(opt("dir"), "/tmp/r");
  });

  it("the PHP page escapes its query value", () => {
    assert.ok(PHP_PAGE.startsWith("<?php\n"));
    assert.match(PHP_PAGE, /htmlspecialchars\(\$_GET\["name"\]/);
  });
});

describe("finding programs", () => {
  it("finds a program or its versioned name (php-fpm8.2), the highest version first", () => {
    const dir = mkdtempSync(join(tmpdir(), "wirehouse-bench-find-"));
    try {
      for (const f of ["php-fpm8.1", "php-fpm8.2", "php-fpm-helper", "wrk"]) writeFileSync(join(dir, f), "");
      assert.equal(findCommand("php-fpm", dir), join(dir, "php-fpm8.2"));
      assert.equal(findCommand("wrk", dir), join(dir, "wrk"));
      assert.equal(findCommand("no-such-program-here", dir), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says which program a fixture misses", () => {
    assert.deepEqual(FIXTURE_COMMANDS.redis, ["redis-server"]);
    assert.equal(
      fixtureUnavailable("php", () => undefined),
      "php-fpm not installed",
    );
    assert.equal(
      fixtureUnavailable("redis", () => "/usr/bin/redis-server"),
      undefined,
    );
  });

  it("a scenario starts the fixtures its runnable servers need, once", () => {
    const table = serverTable();
    const specs = ["nginx-php", "wirehouse-php-fastcgi-node", "wirehouse-redis-node", "ws-node"].map(
      (id) => table.find((s) => s.id === id)!,
    );
    const runs = specs.map((s) => ({ id: s.id, label: s.label, runtime: s.runtime, runs: [] }));
    assert.deepEqual(fixturesFor(specs, runs), ["php", "redis"]);
    const skipped = runs.map((r) =>
      r.id === "wirehouse-redis-node" ? { ...r, skipped: "redis-server not installed" } : r,
    );
    assert.deepEqual(fixturesFor(specs, skipped), ["php"]);
  });
});
