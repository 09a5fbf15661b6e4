/**
 * Test fixture: a temporary site of PHP scripts, php-cgi located, and a
 * php-fpm started on a temporary Unix socket (stopped by `stop`).
 * A missing binary is an error with a clear message, never a skipped test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

function findBin(names: (n: string) => boolean, extraDirs: string[]): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir || !existsSync(dir)) continue;
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!names(e)) continue;
      const p = join(dir, e);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {}
    }
  }
  return null;
}

export function phpCgiBin(): string {
  const bin = process.env.WIREHOUSE_PHP_CGI ?? findBin((n) => n === "php-cgi" || /^php-cgi\d/.test(n), ["/usr/bin"]);
  if (bin === null) {
    throw new Error(
      "php-cgi not found: install Debian's php-cgi (listed in .ci/apt-packages) or set WIREHOUSE_PHP_CGI",
    );
  }
  return bin;
}

export function phpFpmBin(): string {
  const bin =
    process.env.WIREHOUSE_PHP_FPM ??
    findBin((n) => n === "php-fpm" || /^php-fpm\d/.test(n), ["/usr/sbin", "/usr/local/sbin"]);
  if (bin === null) {
    throw new Error(
      "php-fpm not found: install Debian's php-fpm (listed in .ci/apt-packages) or set WIREHOUSE_PHP_FPM",
    );
  }
  return bin;
}

const SCRIPTS: Record<string, string> = {
  "info.php": `<?php
setcookie("srv", "from-php");
setcookie("second", "two");
header("Content-Type: application/json");
$files = [];
foreach ($_FILES as $k => $f) $files[$k] = ["name" => $f["name"], "size" => $f["size"], "md5" => md5_file($f["tmp_name"]), "error" => $f["error"]];
$keys = ["REQUEST_METHOD","QUERY_STRING","CONTENT_TYPE","CONTENT_LENGTH","SCRIPT_NAME","SCRIPT_FILENAME","PATH_INFO","PATH_TRANSLATED","SERVER_NAME","SERVER_PORT","SERVER_PROTOCOL","SERVER_SOFTWARE","GATEWAY_INTERFACE","REMOTE_ADDR","REMOTE_PORT","HTTPS","DOCUMENT_ROOT","REQUEST_URI","REDIRECT_STATUS","HTTP_PROXY","HTTP_X_CUSTOM","HTTP_HOST"];
$server = [];
foreach ($keys as $k) if (isset($_SERVER[$k])) $server[$k] = $_SERVER[$k];
echo json_encode(["get" => $_GET, "post" => $_POST, "cookie" => $_COOKIE, "server" => $server, "files" => $files, "env_proxy" => getenv("HTTP_PROXY")]);
`,
  "echo.php": `<?php
$in = fopen("php://input", "rb");
$ctx = hash_init("md5");
$n = 0;
while (!feof($in)) { $b = fread($in, 65536); $n += strlen($b); hash_update($ctx, $b); }
header("Content-Type: text/plain");
echo $n, " ", hash_final($ctx);
`,
  "status.php": `<?php
http_response_code((int)($_GET["code"] ?? 200));
header("X-Answer: 42");
echo "status page";
`,
  "redirect.php": `<?php
if (isset($_GET["local"])) { header("Location: /info.php?via=local"); http_response_code(200); exit; }
header("Location: " . $_GET["to"]);
`,
  "big.php": `<?php
header("Content-Type: application/octet-stream");
$chunk = str_repeat("0123456789abcdef", 4096); // 64 KiB
for ($i = 0; $i < 80; $i++) { echo $chunk; flush(); }  // 5 MiB
`,
  "sleep.php": `<?php
header("Content-Type: text/plain");
sleep(3);
echo "woke";
`,
  "sleep-mid.php": `<?php
header("Content-Type: text/plain");
while (ob_get_level()) ob_end_flush();
echo str_repeat("x", 100); flush();
sleep(3);
echo "late";
`,
  "crash.php": `<?php
header("Content-Type: text/plain");
if (isset($_GET["mid"])) { while (ob_get_level()) ob_end_flush(); echo str_repeat("y", 1000); flush(); }
posix_kill(getmypid(), 9);
`,
  "app.php": `<?php
header("Content-Type: text/plain");
echo $_SERVER["SCRIPT_NAME"], "|", $_SERVER["PATH_INFO"] ?? "", "|", $_SERVER["PATH_TRANSLATED"] ?? "";
`,
  "stderr.php": `<?php
error_log("note from stderr.php");
header("Content-Type: text/plain");
echo "ok";
`,
  "sub/index.php": `<?php echo "index of sub";`,
  ".hidden.php": `<?php echo "never";`,
};

export interface Fixture {
  root: string;
  dir: string;
  phpCgi: string;
  fpmSocket: string;
  /** A php-fpm pool whose single worker exits after every request (pm.max_requests = 1). */
  recycleSocket: string;
  logs: string[];
  stop(): Promise<void>;
}

const shared = new Map<string, Promise<Fixture>>();

/**
 * One fixture per suite name (memoised: Bun runs every test file in one
 * process); rejects with a clear message when a binary is missing.
 */
export function fixture(name: string, withFpm: boolean): Promise<Fixture> {
  let f = shared.get(name);
  if (f === undefined) {
    f = create(withFpm);
    shared.set(name, f);
  }
  return f;
}

async function create(withFpm: boolean): Promise<Fixture> {
  const phpCgi = phpCgiBin();
  const fpmBin = withFpm ? phpFpmBin() : null;
  const dir = mkdtempSync(join(tmpdir(), "wirehouse-cgi-"));
  const root = join(dir, "www");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(root, "cgi-bin"), { recursive: true });
  for (const [name, body] of Object.entries(SCRIPTS)) writeFileSync(join(root, name), body);
  // A secret outside the root and a symlink pointing at it.
  writeFileSync(join(dir, "secret.php"), "<?php echo 'secret';");
  symlinkSync(join(dir, "secret.php"), join(root, "escape.php"));
  // Plain CGI programs (shell scripts) for the generic CGI path.
  const sh = (name: string, body: string) => {
    writeFileSync(join(root, "cgi-bin", name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(root, "cgi-bin", name), 0o755);
  };
  sh("local.sh", 'printf "Location: /info.php?via=shell\\n\\n"');
  sh("malformed.sh", 'printf "this is not a header\\n\\nbody"');
  sh("nohead.sh", 'printf "Content-Type: text/plain\\n"');
  sh("segv.sh", "kill -SEGV $$");
  sh("grandchild.sh", 'printf "Content-Type: text/plain\\n\\n"; sleep 30 & sleep 30');
  sh("lf.sh", 'printf "Content-Type: text/plain\\nStatus: 201 Made\\nX-A: 1\\n\\nlf-body"');
  writeFileSync(join(root, "cgi-bin", "noexec.sh"), "#!/bin/sh\necho\n");

  const logs: string[] = [];
  let fpm: ChildProcess | null = null;
  const fpmSocket = join(dir, "fpm.sock");
  if (fpmBin !== null) {
    const conf = join(dir, "php-fpm.conf");
    writeFileSync(
      conf,
      `[global]
error_log = ${join(dir, "php-fpm.log")}
daemonize = no
[www]
listen = ${fpmSocket}
pm = static
pm.max_children = 6
catch_workers_output = yes
decorate_workers_output = no
clear_env = yes
[recycle]
listen = ${join(dir, "fpm-recycle.sock")}
pm = static
pm.max_children = 1
pm.max_requests = 1
`,
    );
    const args = ["-F", "-O", "-y", conf, "-p", dir];
    if (process.getuid?.() === 0) args.push("-R");
    const child = spawn(fpmBin, args, { stdio: ["ignore", "pipe", "pipe"] });
    fpm = child;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (d: Uint8Array) => {
        out += new TextDecoder().decode(d);
        if (out.includes("ready to handle connections")) resolve();
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.on("error", (e) => reject(new Error(`php-fpm (${fpmBin}) failed to start: ${e.message}`)));
      child.on("exit", (code) => reject(new Error(`php-fpm (${fpmBin}) exited with code ${code}: ${out}`)));
    });
  }
  return {
    root,
    dir,
    phpCgi,
    fpmSocket,
    recycleSocket: join(dir, "fpm-recycle.sock"),
    logs,
    async stop() {
      if (fpm !== null && fpm.exitCode === null) {
        const exited = new Promise((r) => fpm!.once("exit", r));
        fpm.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
