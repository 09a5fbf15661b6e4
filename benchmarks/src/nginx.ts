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

/** The FastCGI parameters nginx passes (Debian's fastcgi_params, written out so the config stands alone). */
const FASTCGI_PARAMS = [
  ["QUERY_STRING", "$query_string"],
  ["REQUEST_METHOD", "$request_method"],
  ["CONTENT_TYPE", "$content_type"],
  ["CONTENT_LENGTH", "$content_length"],
  ["SCRIPT_NAME", "$fastcgi_script_name"],
  ["SCRIPT_FILENAME", "$document_root$fastcgi_script_name"],
  ["REQUEST_URI", "$request_uri"],
  ["DOCUMENT_URI", "$document_uri"],
  ["DOCUMENT_ROOT", "$document_root"],
  ["SERVER_PROTOCOL", "$server_protocol"],
  ["REQUEST_SCHEME", "$scheme"],
  ["GATEWAY_INTERFACE", "CGI/1.1"],
  ["SERVER_SOFTWARE", "nginx/$nginx_version"],
  ["REMOTE_ADDR", "$remote_addr"],
  ["REMOTE_PORT", "$remote_port"],
  ["SERVER_ADDR", "$server_addr"],
  ["SERVER_PORT", "$server_port"],
  ["SERVER_NAME", "$server_name"],
  ["REDIRECT_STATUS", "200"],
];

/**
 * nginx.conf for the PHP peer: one worker on 127.0.0.1:`port`, `*.php` under `root` to the php-fpm pool at
 * `fpm` (a Unix socket path or host:port). A new FastCGI connection per request, nginx's default: with
 * keepalive nginx keeps more connections than the static pool has workers, and the kept ones pin the
 * workers (packages/cgi's bench saw the rest stall as timeouts).
 */
export function nginxPhpConfig(dir: string, port: number, root: string, fpm: string, runAsRoot: boolean): string {
  const upstream = fpm.startsWith("/") ? `unix:${fpm}` : fpm;
  return `# written by @wirehouse/benchmarks for one run
${runAsRoot ? "user root root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 20000; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 65;
  client_body_temp_path ${join(dir, "tmp", "body")};
  proxy_temp_path ${join(dir, "tmp", "proxy")};
  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};
  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};
  scgi_temp_path ${join(dir, "tmp", "scgi")};
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ \\.php$ {
      fastcgi_pass ${upstream};
${FASTCGI_PARAMS.map(([k, v]) => `      fastcgi_param ${k} ${v};`).join("\n")}
    }
  }
}
`;
}

/** Writes the PHP peer's config (the page is the php fixture's); returns the config path. */
export function writeNginxPhpSite(dir: string, port: number, root: string, fpm: string): string {
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxPhpConfig(dir, port, root, fpm, process.getuid?.() === 0));
  return conf;
}
