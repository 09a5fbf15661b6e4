/**
 * @module
 * nginx as a static peer: the harness writes a config and the two bodies to a
 * temporary directory and runs `nginx -p DIR -c DIR/nginx.conf` (one worker,
 * sendfile, no access log).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The nginx.conf text for one worker serving `root` on 127.0.0.1:`port`. */
export function nginxConfig(dir: string, port: number, runAsRoot: boolean): string {
  return `# written by @wirehouse/benchmarks for one run
${runAsRoot ? "user root root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 65;
  open_file_cache max=100 inactive=60s;
  client_body_temp_path ${join(dir, "tmp", "body")};
  proxy_temp_path ${join(dir, "tmp", "proxy")};
  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};
  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};
  scgi_temp_path ${join(dir, "tmp", "scgi")};
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${join(dir, "www")};
    location / { }
  }
}
`;
}

/** Writes the config and the bodies (/4k and /256k, like the other static peers); returns the config path. */
export function writeNginxSite(dir: string, port: number): string {
  mkdirSync(join(dir, "www"), { recursive: true });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  writeFileSync(join(dir, "www", "4k"), Buffer.alloc(4096, "wirehouse benchmark body\n"));
  writeFileSync(join(dir, "www", "256k"), Buffer.alloc(262144, "wirehouse benchmark body\n"));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, process.getuid?.() === 0));
  return conf;
}
