/**
 * The path table of one site: a radix tree over the literal characters of
 * route patterns, with parameter (`:name`) and prefix (`/*`) edges at segment
 * boundaries. Matching walks the request path in place (`startsWith` at an
 * offset, no slicing) and backtracks in a fixed order, so it allocates
 * nothing until a route is found.
 *
 * @module
 */

/** One registered pattern at the node where it ends. */
export interface TreeEntry<R> {
  readonly value: R;
  /** Names of the pattern's parameters, in order. */
  readonly paramNames: readonly string[];
}

class Node<R> {
  /** Literal characters consumed by this node (empty for a parameter node and the root). */
  prefix: string;
  /** Literal children keyed by their first character code. */
  children: Map<number, Node<R>> | null = null;
  /** The `:name` edge: consumes one non-empty segment. */
  param: Node<R> | null = null;
  /** A pattern that ends exactly here. */
  exact: TreeEntry<R> | null = null;
  /** A `/*` pattern whose prefix ends here. */
  wildcard: TreeEntry<R> | null = null;
  constructor(prefix: string) {
    this.prefix = prefix;
  }
}

/** A parsed pattern: literal runs, parameter edges and an optional prefix tail. */
export interface ParsedPattern {
  /** Literal strings between parameters: `literals.length === paramNames.length + 1`. */
  readonly literals: readonly string[];
  readonly paramNames: readonly string[];
  readonly wildcard: boolean;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a route pattern: `/exact/path`, `/prefix/*`, `/chat/:room`, or a mix
 * (`/user/:id/files/*`). Throws a `TypeError` on a malformed pattern.
 */
export function parsePattern(pattern: string): ParsedPattern {
  if (pattern.charCodeAt(0) !== 47) throw new TypeError(`route pattern must start with '/': ${pattern}`);
  const segments = pattern.slice(1).split("/");
  const literals: string[] = [];
  const paramNames: string[] = [];
  let wildcard = false;
  let lit = "";
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === "*") {
      if (!last) throw new TypeError(`'*' must be the last segment: ${pattern}`);
      wildcard = true;
    } else if (seg.startsWith(":")) {
      const name = seg.slice(1);
      if (!PARAM_NAME.test(name)) throw new TypeError(`bad parameter name '${name}' in ${pattern}`);
      if (paramNames.includes(name)) throw new TypeError(`duplicate parameter '${name}' in ${pattern}`);
      literals.push(lit + "/");
      paramNames.push(name);
      lit = "";
    } else {
      if (seg.includes("*")) throw new TypeError(`'*' is only allowed as a whole last segment: ${pattern}`);
      if (seg === "" && !last) throw new TypeError(`empty segment in ${pattern}`);
      if (seg === "." || seg === "..") throw new TypeError(`dot segment in ${pattern}`);
      lit += "/" + seg;
    }
  }
  literals.push(lit);
  return { literals, paramNames, wildcard };
}

function insertLiteral<R>(node: Node<R>, s: string): Node<R> {
  while (s.length > 0) {
    const c = s.charCodeAt(0);
    node.children ??= new Map();
    let child = node.children.get(c);
    if (child === undefined) {
      child = new Node<R>(s);
      node.children.set(c, child);
      return child;
    }
    const p = child.prefix;
    const n = Math.min(p.length, s.length);
    let i = 1;
    while (i < n && p.charCodeAt(i) === s.charCodeAt(i)) i++;
    if (i < p.length) {
      // Split: the shared part becomes a new node above the old child.
      const split = new Node<R>(p.slice(0, i));
      child.prefix = p.slice(i);
      split.children = new Map([[child.prefix.charCodeAt(0), child]]);
      node.children.set(c, split);
      child = split;
    }
    node = child;
    s = s.slice(i);
  }
  return node;
}

/** A radix tree of route patterns. */
export class PathTree<R> {
  private readonly root = new Node<R>("");
  /** Parameter value bounds of the current match, by parameter index. */
  private starts: number[] = [];
  private ends: number[] = [];
  /** Where the remaining path of the last match starts. */
  restStart = 0;

  /** Adds a pattern; throws if a pattern of the same shape is already there. */
  insert(pattern: string, value: R): TreeEntry<R> {
    const parsed = parsePattern(pattern);
    let node = this.root;
    for (let i = 0; i < parsed.paramNames.length; i++) {
      node = insertLiteral(node, parsed.literals[i]!);
      node = node.param ??= new Node<R>("");
    }
    node = insertLiteral(node, parsed.literals[parsed.literals.length - 1]!);
    const entry: TreeEntry<R> = { value, paramNames: parsed.paramNames };
    if (parsed.wildcard) {
      if (node.wildcard !== null) throw new TypeError(`a route of the same shape as ${pattern} exists`);
      node.wildcard = entry;
    } else {
      if (node.exact !== null) throw new TypeError(`a route of the same shape as ${pattern} exists`);
      node.exact = entry;
    }
    while (this.starts.length < parsed.paramNames.length) {
      this.starts.push(0);
      this.ends.push(0);
    }
    return entry;
  }

  /**
   * Finds the most specific pattern for `path`, or null. After a match,
   * `restStart` is where the remaining path begins and `paramValue(i)` gives
   * the i-th parameter's value.
   */
  lookup(path: string): TreeEntry<R> | null {
    return this.walk(this.root, path, 0, 0);
  }

  /** The i-th parameter value of the last successful lookup. */
  paramValue(path: string, i: number): string {
    return path.slice(this.starts[i]!, this.ends[i]!);
  }

  private walk(node: Node<R>, path: string, pos: number, depth: number): TreeEntry<R> | null {
    const len = path.length;
    if (pos === len) {
      this.restStart = len;
      if (node.exact !== null) return node.exact;
      return node.wildcard;
    }
    // 1. literal characters
    if (node.children !== null) {
      const child = node.children.get(path.charCodeAt(pos));
      if (child !== undefined && path.startsWith(child.prefix, pos)) {
        const found = this.walk(child, path, pos + child.prefix.length, depth);
        if (found !== null) return found;
      }
    }
    // 2. a parameter: one non-empty segment
    if (node.param !== null) {
      let end = path.indexOf("/", pos);
      if (end === -1) end = len;
      if (end > pos) {
        this.starts[depth] = pos;
        this.ends[depth] = end;
        const found = this.walk(node.param, path, end, depth + 1);
        if (found !== null) return found;
      }
    }
    // 3. a prefix: the rest of the path, from a segment boundary
    if (node.wildcard !== null && path.charCodeAt(pos) === 47) {
      this.restStart = pos;
      return node.wildcard;
    }
    return null;
  }
}
