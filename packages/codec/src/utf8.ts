/**
 * Incremental UTF-8 validation (RFC 3629), so that invalid text is rejected as soon as the
 * offending byte arrives, even when a code point is split across frames or chunks.
 * @module
 */

/**
 * Validator state: 0 = between code points (accepting). Otherwise it packs the number of
 * continuation bytes still expected (bits 16+) and the allowed range of the next byte
 * (low byte in bits 8–15, high byte in bits 0–7): RFC 3629 §4 restricts the second byte
 * after E0, ED, F0 and F4 to exclude overlongs, surrogates and code points > U+10FFFF.
 */
export type Utf8State = number;

/** Returned by {@link utf8Step} when the input is not valid UTF-8. */
export const UTF8_INVALID = -1;

/**
 * Feeds `bytes[start..end)` to the validator in `state`; returns the new state, or
 * {@link UTF8_INVALID} at the first byte that cannot be part of valid UTF-8.
 * A complete text is valid when the final state is 0.
 */
export function utf8Step(state: Utf8State, bytes: Uint8Array, start: number, end: number): Utf8State {
  let need = state >>> 16;
  let lo = (state >>> 8) & 0xff;
  let hi = state & 0xff;
  let i = start;
  while (i < end) {
    if (need === 0) {
      // Fast path: runs of ASCII, 8 bytes per test.
      while (
        i + 8 <= end &&
        ((bytes[i]! |
          bytes[i + 1]! |
          bytes[i + 2]! |
          bytes[i + 3]! |
          bytes[i + 4]! |
          bytes[i + 5]! |
          bytes[i + 6]! |
          bytes[i + 7]!) &
          0x80) ===
          0
      ) {
        i += 8;
      }
      if (i === end) return 0;
      let b = bytes[i]!;
      while (b < 0x80) {
        if (++i === end) return 0;
        b = bytes[i]!;
      }
      if (b < 0xc2) return UTF8_INVALID; // continuation byte or overlong 2-byte lead
      if (b < 0xe0) {
        need = 1;
        lo = 0x80;
        hi = 0xbf;
      } else if (b < 0xf0) {
        need = 2;
        lo = b === 0xe0 ? 0xa0 : 0x80; // E0 80..9F would be overlong
        hi = b === 0xed ? 0x9f : 0xbf; // ED A0..BF would be a surrogate
      } else if (b < 0xf5) {
        need = 3;
        lo = b === 0xf0 ? 0x90 : 0x80; // F0 80..8F would be overlong
        hi = b === 0xf4 ? 0x8f : 0xbf; // F4 90.. would exceed U+10FFFF
      } else {
        return UTF8_INVALID;
      }
    } else {
      const b = bytes[i]!;
      if (b < lo || b > hi) return UTF8_INVALID;
      need--;
      lo = 0x80;
      hi = 0xbf;
    }
    i++;
  }
  return need === 0 ? 0 : (need << 16) | (lo << 8) | hi;
}

/** True when `bytes` is complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return utf8Step(0, bytes, 0, bytes.length) === 0;
}

/** An object wrapper around {@link utf8Step} for callers that prefer one. */
export class Utf8Validator {
  private state: Utf8State = 0;

  /** Feeds more bytes; false as soon as they cannot be valid UTF-8 (then stays false). */
  push(bytes: Uint8Array): boolean {
    if (this.state === UTF8_INVALID) return false;
    this.state = utf8Step(this.state, bytes, 0, bytes.length);
    return this.state !== UTF8_INVALID;
  }

  /** True when everything pushed so far is complete, valid UTF-8; resets for the next text. */
  end(): boolean {
    const ok = this.state === 0;
    this.state = 0;
    return ok;
  }

  reset(): void {
    this.state = 0;
  }
}
