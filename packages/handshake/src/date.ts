/**
 * The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most
 * once per second: every response in the same second reuses the string.
 * The clock is injectable so tests control time.
 */

/** Milliseconds since the epoch. */
export type Clock = () => number;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => (n < 10 ? "0" + n : "" + n);

/** Formats `ms` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
export function formatHttpDate(ms: number): string {
  const d = new Date(ms);
  return (
    DAYS[d.getUTCDay()] +
    ", " +
    two(d.getUTCDate()) +
    " " +
    MONTHS[d.getUTCMonth()] +
    " " +
    d.getUTCFullYear() +
    " " +
    two(d.getUTCHours()) +
    ":" +
    two(d.getUTCMinutes()) +
    ":" +
    two(d.getUTCSeconds()) +
    " GMT"
  );
}

export class HttpDate {
  private readonly clock: Clock;
  private second = Number.NaN;
  private cached = "";
  /** How many times the string was formatted (for tests and curiosity). */
  formatted = 0;

  constructor(clock: Clock = Date.now) {
    this.clock = clock;
  }

  /** The current Date value, reformatted only when the second changed. */
  get value(): string {
    const now = this.clock();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.cached = formatHttpDate(second * 1000);
      this.formatted++;
    }
    return this.cached;
  }
}

/** The process-wide Date cache used when no other is given. */
export const defaultHttpDate: HttpDate = new HttpDate();
