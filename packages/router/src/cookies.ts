/**
 * Cookie header parsing (RFC 6265 §5.4), for accept hooks.
 *
 * @module
 */

/**
 * Parses a `Cookie` header into a name → value record (first occurrence wins,
 * as RFC 6265 §5.4 orders the more specific cookie first). Values are
 * percent-decoded when they decode cleanly and kept raw otherwise. The record
 * has no prototype, so a cookie named `__proto__` is just a cookie.
 */
export function parseCookies(header: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!header) return out;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    if (name === "" || name in out) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
      value = value.slice(1, -1);
    }
    if (value.includes("%")) {
      try {
        value = decodeURIComponent(value);
      } catch {
        // keep the raw value
      }
    }
    out[name] = value;
  }
  return out;
}
