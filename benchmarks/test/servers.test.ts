import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nginxConfig, nginxPhpConfig } from "../src/nginx.ts";
import { fillArgs, type ServerSpec, serverCommand, serverTable, unavailable } from "../src/servers.ts";
import { suite, targets } from "../src/suite.ts";

describe("server table", () => {
  const table = serverTable();
  const byId = (id: string) => table.find((s) => s.id === id)!;

  it("has the peers and a slot for wirehouse on each runtime", () => {
    for (const id of ["ws-node", "bun-ws", "deno-ws", "node-http", "bun-http", "deno-http", "nginx"])
      assert.ok(byId(id), id);
    for (const rt of ["node", "deno", "bun"]) {
      assert.equal(byId(`wirehouse-${rt}`).wirehouse, true);
      assert.equal(byId(`wirehouse-${rt}`).runtime, rt);
      assert.equal(byId(`wirehouse-http-${rt}`).kind, "http");
    }
    assert.equal(new Set(table.map((s) => s.id)).size, table.length, "ids are unique");
  });

  it("builds each runtime's command with --port last", () => {
    const node = serverCommand(byId("ws-node"), 1234);
    assert.match(node[1]!, /benchmarks\/servers\/ws\.mjs$/);
    assert.deepEqual(node.slice(-2), ["--port", "1234"]);
    const deno = serverCommand(byId("deno-ws"), 1);
    assert.match(deno[0]!, /deno$/);
    assert.deepEqual(deno.slice(1, 3), ["run", "-A"]);
    assert.match(serverCommand(byId("bun-ws"), 1)[0]!, /bun$/);
    assert.deepEqual(serverCommand(byId("ws-bun"), 7).slice(-3), ["--npm-ws", "--port", "7"]);
    const ts: ServerSpec = { id: "x", label: "x", runtime: "node", kind: "ws", script: "examples/echo/main.ts" };
    assert.deepEqual(serverCommand(ts, 9).slice(1, 3), ["--import", "tsx"]);
    assert.deepEqual(serverCommand(byId("nginx"), 5, "/tmp/d/nginx.conf"), [
      "nginx",
      "-p",
      "/tmp/d",
      "-c",
      "/tmp/d/nginx.conf",
    ]);
  });

  it("says why a server cannot run", () => {
    const missing: ServerSpec = {
      id: "m",
      label: "m",
      runtime: "deno",
      kind: "ws",
      script: "examples/none/nothing.ts",
    };
    assert.match(unavailable(missing, () => true)!, /not written yet/);
    assert.equal(
      unavailable(byId("ws-node"), () => true),
      undefined,
    );
    assert.match(unavailable(byId("nginx"), () => false)!, /not installed/);
  });

  it("rows for the scripted site, EJS, PHP and Redis, with their fixtures and args", () => {
    for (const rt of ["node", "deno", "bun"]) {
      const page = byId(`wirehouse-page-${rt}`);
      assert.equal(page.kind, "http");
      assert.deepEqual(page.args, ["--config", "benchmarks/sites/scripted/settings.js"]);
      assert.equal(byId(`wirehouse-script-${rt}`).kind, "ws");
      const redis = byId(`wirehouse-redis-${rt}`);
      assert.equal(redis.instances, 2);
      assert.deepEqual(redis.needs, ["redis"]);
      assert.equal(redis.broadcast, true);
      assert.deepEqual(byId(`wirehouse-php-fastcgi-${rt}`).needs, ["php"]);
    }
    assert.equal(byId("ejs-node").wirehouse, undefined);
    assert.equal(byId("nginx-php").nginx, "php");
    assert.equal(byId("wirehouse-php-fastcgi-node").pathPrefix, "/fcgi");
    const cgi = byId("wirehouse-php-cgi-node");
    assert.equal(cgi.pathPrefix, "/cgi");
    assert.ok(cgi.httpConnections! < 100);
    assert.match(cgi.label, new RegExp(`${cgi.httpConnections} connections`));
    // The fixture's values fill the args; --port stays last.
    const argv = serverCommand(cgi, 8, undefined, { phpRoot: "/r", fpm: "/s.sock", phpCgi: "/usr/bin/php-cgi" });
    assert.match(
      argv.join(" "),
      /wirehouse-php\.ts --root \/r --fastcgi \/s\.sock --php-cgi \/usr\/bin\/php-cgi --port 8$/,
    );
    const redisArgv = serverCommand(byId("wirehouse-redis-bun"), 9, undefined, { redis: "redis://127.0.0.1:1" });
    assert.deepEqual(redisArgv.slice(-4), ["--redis", "redis://127.0.0.1:1", "--port", "9"]);
  });

  it("fills {key} args and refuses unknown keys", () => {
    assert.deepEqual(fillArgs(["a{x}b", "{y}", "plain"], { x: "1", y: "2" }), ["a1b", "2", "plain"]);
    assert.throws(() => fillArgs(["{missing}"], {}), /no value for \{missing\}/);
  });

  it("skips a row whose fixture or program is missing, with the reason", () => {
    const none = () => undefined;
    assert.match(unavailable(byId("wirehouse-redis-node"), () => true, none)!, /redis-server not installed/);
    assert.match(unavailable(byId("nginx-php"), () => true, none)!, /php-fpm not installed/);
    assert.match(unavailable(byId("nginx-php"), () => false, none)!, /nginx not installed/);
    const fpmOnly = (name: string) => (name === "php-fpm" ? "/usr/sbin/php-fpm8.2" : undefined);
    assert.match(unavailable(byId("wirehouse-php-cgi-node"), () => false, fpmOnly)!, /php-cgi not installed/);
    assert.equal(
      unavailable(byId("ejs-node"), () => true, none),
      undefined,
    );
    const unbuilt: ServerSpec = { ...byId("wirehouse-node"), packages: ["server", "no-such-package-here"] };
    assert.match(unavailable(unbuilt, () => true)!, /^@wirehouse\/no-such-package-here not built/);
    assert.equal(
      unavailable({ ...unbuilt, packages: [] }, () => true),
      undefined,
    );
  });
});

describe("nginx config", () => {
  it("one worker, sendfile, no access log, loopback on the given port, everything in the run's directory", () => {
    const conf = nginxConfig("/tmp/run", 8123, false);
    assert.match(conf, /worker_processes 1;/);
    assert.match(conf, /sendfile on;/);
    assert.match(conf, /access_log off;/);
    assert.match(conf, /listen 127\.0\.0\.1:8123;/);
    assert.match(conf, /root \/tmp\/run\/www;/);
    assert.match(conf, /pid \/tmp\/run\/nginx\.pid;/);
    assert.doesNotMatch(conf, /^user /m);
    assert.match(nginxConfig("/tmp/run", 1, true), /^user root root;/m);
  });
});

describe("nginx PHP config", () => {
  it("one worker, *.php to the php-fpm pool with the CGI parameters, loopback on the given port", () => {
    const conf = nginxPhpConfig("/tmp/run", 8124, "/tmp/php/www", "/tmp/php/fpm.sock", false);
    assert.match(conf, /worker_processes 1;/);
    assert.match(conf, /access_log off;/);
    assert.match(conf, /listen 127\.0\.0\.1:8124;/);
    assert.match(conf, /root \/tmp\/php\/www;/);
    assert.match(conf, /location ~ \\\.php\$ \{/);
    assert.match(conf, /fastcgi_pass unix:\/tmp\/php\/fpm\.sock;/);
    assert.match(conf, /fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;/);
    assert.match(conf, /fastcgi_param REDIRECT_STATUS 200;/);
    assert.match(conf, /fastcgi_param QUERY_STRING \$query_string;/);
    assert.doesNotMatch(conf, /include /);
    assert.match(nginxPhpConfig("/d", 1, "/w", "127.0.0.1:9000", true), /fastcgi_pass 127\.0\.0\.1:9000;/);
    assert.match(nginxPhpConfig("/d", 1, "/w", "127.0.0.1:9000", true), /^user root root;/m);
  });
});

describe("suites", () => {
  it("quick: echo 32 B and 16 KiB, 10k connections, broadcast, static 4 KiB; full adds 256 KiB and the scripted, PHP and Redis scenarios", () => {
    const quick = suite("quick", true).scenarios.map((s) => s.id);
    assert.deepEqual(quick, ["echo-32", "echo-16k", "connect-10k", "broadcast-1k", "static-4k-wrk"]);
    assert.ok(suite("quick").limitSeconds <= 300, "the quick suite is bounded to 5 minutes");
    assert.deepEqual(
      suite("quick", false)
        .scenarios.map((s) => s.id)
        .slice(-1),
      ["static-4k-autocannon"],
    );
    const full = suite("full").scenarios.map((s) => s.id);
    for (const id of [
      "broadcast-1k",
      "static-256k-autocannon",
      "static-256k-wrk",
      "static-4k-autocannon",
      "page-20",
      "script-echo-32",
      "php",
      "broadcast-1k-redis",
    ])
      assert.ok(full.includes(id), id);
    assert.ok(suite("full").repeats > suite("quick").repeats);
  });

  it("the scripted, PHP and Redis scenarios run the issues' loads next to their peers", () => {
    const byId = (id: string) => suite("full").scenarios.find((s) => s.id === id)!;
    const page = byId("page-20");
    assert.deepEqual(page.run, {
      type: "http",
      tool: "autocannon",
      path: "/shop.sjs",
      connections: 100,
      seconds: 10,
      perCore: true,
    });
    assert.equal(page.reference, "ejs-node");
    assert.ok(page.servers.includes("wirehouse-page-node"));
    const echo = byId("script-echo-32");
    assert.equal(echo.run.type === "echo" && echo.run.path, "/echo");
    assert.equal(echo.reference, "wirehouse-node");
    assert.ok(echo.servers.includes("wirehouse-script-node"));
    const php = byId("php");
    assert.equal(php.reference, "nginx-php");
    assert.ok(php.servers.includes("wirehouse-php-fastcgi-node") && php.servers.includes("wirehouse-php-cgi-node"));
    const redis = byId("broadcast-1k-redis");
    assert.equal(redis.run.type === "broadcast" && redis.run.subscribers, 1000);
    assert.equal(redis.reference, "wirehouse-node");
    assert.ok(redis.servers.includes("wirehouse-redis-node"));
    assert.deepEqual(
      redis.metrics.map((m) => [m.key, m.higher]),
      [
        ["msgs", true],
        ["p99", false],
      ],
    );
    const all = targets(suite("full").scenarios.map((s) => s.id));
    const t = (text: string) => all.find((x) => x.text.startsWith(text));
    assert.deepEqual(
      [t("page script: wirehouse (Node) ≥ 2,000")?.value, t("page script: wirehouse (Node) ≥ 2,000")?.peer],
      [2000, undefined],
    );
    assert.equal(t("page script: wirehouse (Node) ≥ 25%")?.value, 0.25);
    assert.equal(t("websocket-script echo: wirehouse (Node)")?.value, 0.5);
    assert.equal(t("websocket-script echo: wirehouse (Node)")?.peer, "wirehouse-node");
    assert.equal(t("PHP via FastCGI")?.value, 0.8);
    assert.equal(t("PHP via FastCGI")?.peer, "nginx-php");
  });

  it("every target names a wirehouse server and a scenario metric that exist", () => {
    const s = suite("full");
    const table = serverTable();
    const t = targets(s.scenarios.map((x) => x.id));
    assert.ok(t.length >= 16);
    for (const target of t) {
      const sc = s.scenarios.find((x) => x.id === target.scenario)!;
      assert.ok(
        sc.metrics.some((m) => m.key === target.metric),
        target.text,
      );
      assert.ok(sc.servers.includes(target.server), target.text);
      assert.equal(table.find((x) => x.id === target.server)?.wirehouse, true, target.text);
      if (target.peer) assert.ok(sc.servers.includes(target.peer), target.text);
    }
  });
});
