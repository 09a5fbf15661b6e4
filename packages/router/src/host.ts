/**
 * Host-name normalisation for virtual-host lookup.
 *
 * @module
 */

/**
 * Lower-cases a Host header value, strips its port (`example.com:8080`,
 * `[::1]:8080`) and one trailing dot (`example.com.` is the same name,
 * RFC 1034 §3.1).
 */
export function normalizeHost(host: string): string {
  let name = host;
  if (name.charCodeAt(0) === 91 /* [ */) {
    const close = name.indexOf("]");
    if (close !== -1) name = name.slice(0, close + 1);
  } else {
    const colon = name.indexOf(":");
    // Exactly one colon: a port. More than one: an unbracketed IPv6 literal, kept whole.
    if (colon !== -1 && name.indexOf(":", colon + 1) === -1) name = name.slice(0, colon);
  }
  if (name.charCodeAt(name.length - 1) === 46) name = name.slice(0, -1);
  return name.toLowerCase();
}
