/**
 * Virtual hosts → sites → routes.
 *
 * @module
 */

import type { AcceptHook } from "./accept.ts";
import { normalizeHost } from "./host.ts";
import { PathTree } from "./tree.ts";

/** A registered route. `kind` is whatever the application routes to; the router never looks inside. */
export interface Route<K> {
  /** The pattern as given (`/chat/:room`), or `"*fallback*"` for a site's fallback route. */
  readonly pattern: string;
  readonly kind: K;
  readonly accept: AcceptHook | undefined;
  readonly paramNames: readonly string[];
  readonly site: Site<K>;
}

/** The answer of a lookup. */
export interface RouteMatch<K> {
  readonly route: Route<K>;
  /** Parameter values by name (decoded: the router matches normalised paths). */
  readonly params: Readonly<Record<string, string>>;
  /**
   * The part of the path a prefix route did not consume, starting with `/`
   * (`/static/*` on `/static/a/b` → `/a/b`); `""` when the route consumed it all
   * (exact routes, or `/static/*` on `/static`); the whole path for a fallback.
   * This is CGI's PATH_INFO.
   */
  readonly rest: string;
}

/** Options of one route. */
export interface RouteOptions {
  readonly accept?: AcceptHook;
}

/** A route in a site definition. */
export interface RouteDefinition<K> extends RouteOptions {
  readonly path: string;
  readonly kind: K;
}

/** A site in a router definition. */
export interface SiteDefinition<K> {
  /** A label for logs and errors; defaults to the first host name. */
  readonly name?: string;
  /** Host names: exact (`example.com`) or wildcard (`*.example.com`). */
  readonly hosts?: readonly string[];
  /** More host names, the same as `hosts` (kept apart for readability). */
  readonly aliases?: readonly string[];
  /** This site answers for host names that match no other site (and requests without Host). */
  readonly default?: boolean;
  readonly routes?: readonly RouteDefinition<K>[];
  /** The site's default route, for paths that match no route. */
  readonly fallback?: { readonly kind: K; readonly accept?: AcceptHook };
}

const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

interface Slot<K> {
  readonly route: Route<K>;
  /** The preallocated answer for routes that need no per-request data. */
  readonly fixed: RouteMatch<K> | null;
}

/** One site: a path table plus a fallback route. */
export class Site<K> {
  readonly name: string;
  private readonly tree = new PathTree<Slot<K>>();
  private readonly list: Route<K>[] = [];
  private fallbackSlot: Route<K> | null = null;

  constructor(name: string) {
    this.name = name;
  }

  /** Adds a route. Throws on a malformed pattern or one with the same shape as an existing route. */
  add(pattern: string, kind: K, options: RouteOptions = {}): Route<K> {
    const entry = this.tree.insert(pattern, { route: undefined as unknown as Route<K>, fixed: null });
    const route: Route<K> = Object.freeze({
      pattern,
      kind,
      accept: options.accept,
      paramNames: entry.paramNames,
      site: this,
    });
    const fixed = entry.paramNames.length === 0 ? Object.freeze({ route, params: EMPTY_PARAMS, rest: "" }) : null;
    const slot = entry.value as { route: Route<K>; fixed: RouteMatch<K> | null };
    slot.route = route;
    slot.fixed = fixed;
    this.list.push(route);
    return route;
  }

  /** Sets the route for paths that match no other route. */
  setFallback(kind: K, options: RouteOptions = {}): Route<K> {
    this.fallbackSlot = Object.freeze({
      pattern: "*fallback*",
      kind,
      accept: options.accept,
      paramNames: [],
      site: this,
    });
    return this.fallbackSlot;
  }

  /** The routes in the order they were added (the fallback excluded). */
  routes(): readonly Route<K>[] {
    return this.list;
  }

  get fallback(): Route<K> | null {
    return this.fallbackSlot;
  }

  /** Finds the route for a normalised path (see `normalizePath`), or null. */
  match(path: string): RouteMatch<K> | null {
    const tree = this.tree;
    const entry = tree.lookup(path);
    if (entry !== null) {
      const slot = entry.value;
      const rest = tree.restStart === path.length ? "" : path.slice(tree.restStart);
      if (slot.fixed !== null && rest === "") return slot.fixed;
      const names = entry.paramNames;
      let params = EMPTY_PARAMS;
      if (names.length > 0) {
        const p: Record<string, string> = {};
        for (let i = 0; i < names.length; i++) p[names[i]!] = tree.paramValue(path, i);
        params = p;
      }
      return { route: slot.route, params, rest };
    }
    if (this.fallbackSlot !== null) return { route: this.fallbackSlot, params: EMPTY_PARAMS, rest: path };
    return null;
  }
}

/** How many distinct raw Host values the lookup cache remembers before starting over. */
const HOST_CACHE_LIMIT = 1024;

/**
 * The whole table. Host lookup: exact name (a Map), then wildcard suffixes
 * from the longest (`*.a.example.com` before `*.example.com`), then the
 * default site. Raw Host header values are cached, so a repeated Host costs
 * one Map lookup and no string work.
 */
export class Router<K> {
  private readonly exact = new Map<string, Site<K>>();
  private readonly wildcard = new Map<string, Site<K>>();
  private defaultSite: Site<K> | null = null;
  private readonly cache = new Map<string, Site<K> | null>();
  private readonly list: Site<K>[] = [];

  constructor(sites: readonly SiteDefinition<K>[] = []) {
    for (const def of sites) this.addSite(def);
  }

  /** Adds a site from a definition. Throws if a host name is already taken or a second default is set. */
  addSite(def: SiteDefinition<K>): Site<K> {
    const names = [...(def.hosts ?? []), ...(def.aliases ?? [])];
    const site = new Site<K>(def.name ?? names[0] ?? "default");
    for (const name of names) this.addHost(name, site);
    if (def.default) this.setDefault(site);
    for (const r of def.routes ?? []) site.add(r.path, r.kind, r.accept ? { accept: r.accept } : {});
    if (def.fallback) site.setFallback(def.fallback.kind, def.fallback.accept ? { accept: def.fallback.accept } : {});
    this.list.push(site);
    return site;
  }

  /** Adds a host name (exact or `*.suffix`) to a site. */
  addHost(name: string, site: Site<K>): void {
    const wild = name.startsWith("*.");
    const key = normalizeHost(wild ? name.slice(2) : name);
    if (key === "" || key.includes("*")) throw new TypeError(`bad host name: ${name}`);
    const map = wild ? this.wildcard : this.exact;
    const owner = map.get(key);
    if (owner !== undefined && owner !== site)
      throw new TypeError(`host ${name} already belongs to site ${owner.name}`);
    map.set(key, site);
    this.cache.clear();
  }

  /** Makes a site the default one. */
  setDefault(site: Site<K>): void {
    if (this.defaultSite !== null && this.defaultSite !== site) {
      throw new TypeError(`site ${this.defaultSite.name} is already the default`);
    }
    this.defaultSite = site;
    this.cache.clear();
  }

  /** The sites in the order they were added. */
  sites(): readonly Site<K>[] {
    return this.list;
  }

  /** The site for a Host header value (raw: any case, with port, trailing dot), or null. */
  site(host: string | null | undefined): Site<K> | null {
    if (host === null || host === undefined || host === "") return this.defaultSite;
    const cached = this.cache.get(host);
    if (cached !== undefined) return cached;
    const found = this.resolve(normalizeHost(host));
    if (this.cache.size >= HOST_CACHE_LIMIT) this.cache.clear();
    this.cache.set(host, found);
    return found;
  }

  private resolve(name: string): Site<K> | null {
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    if (this.wildcard.size > 0) {
      // `*.example.com` covers every name below example.com, at any depth, but not example.com itself.
      let dot = name.indexOf(".");
      while (dot !== -1 && dot < name.length - 1) {
        const site = this.wildcard.get(name.slice(dot + 1));
        if (site !== undefined) return site;
        dot = name.indexOf(".", dot + 1);
      }
    }
    return this.defaultSite;
  }

  /**
   * Finds the site for `host` and the route for `path` (normalised, see
   * `normalizePath`). Null when no site answers for the host, or the site has
   * no route for the path and no fallback.
   */
  match(host: string | null | undefined, path: string): RouteMatch<K> | null {
    const site = this.site(host);
    return site === null ? null : site.match(path);
  }
}
