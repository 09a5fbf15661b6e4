/**
 * Site-relative paths: every file a script names is resolved against the
 * including file and must stay inside the site root.
 * @module
 */

/** Thrown when a script names a file outside its site root or an invalid path. */
export class PathError extends Error {
  override name = "PathError";
}

/**
 * Resolves `target` against the file `from` (both site-relative). A target
 * starting with "/" is relative to the site root. Returns a normalized
 * "/a/b.sjs"; throws {@link PathError} when the result would leave the root.
 */
export function resolveSitePath(from: string, target: string): string {
  if (target.length === 0) throw new PathError("empty path");
  if (target.includes("\0") || target.includes("\\")) throw new PathError(`invalid path: ${JSON.stringify(target)}`);
  const base = target.startsWith("/") ? [] : from.split("/").slice(0, -1);
  const out: string[] = [];
  for (const seg of base.concat(target.split("/"))) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) throw new PathError(`path outside the site root: ${target}`);
      out.pop();
    } else out.push(seg);
  }
  if (out.length === 0) throw new PathError(`not a file: ${target}`);
  return `/${out.join("/")}`;
}

/** Normalizes a site-relative path given by the host ("index.sjs" → "/index.sjs"). */
export function normalizeSitePath(path: string): string {
  return resolveSitePath("/", path);
}
