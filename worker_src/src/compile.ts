/**
 * The cron compiler of cronflare/catalog/schedule.py (expand_macro, parse_cron with cronsim's
 * Field.parse, compile_cron, interval_cron), ported for runtime schedules: text sent to the Worker
 * is refused, canonicalised and compiled exactly as a catalog's schedule is, message for message
 * (tests/catalog/test_compile_parity.py holds the two to that).
 */
import type { Compiled } from "./types";

/** Thrown for a schedule Python refuses too, so a 422 reads exactly as `cronflare check` does. */
export class ScheduleError extends Error {}

// Index i expands to 0 (i > 5 ? * : 0) (i < 3 ? 1 : *) (i < 2 ? 1 : *) (i == 3 ? 0 : *).
const MACROS = "@yearly @annually @monthly @weekly @daily @midnight @hourly".split(" ");
const NAMES = "minute hour day-of-month month day-of-week".split(" ");
const ALLOWED = ["0-59", "0-23", "1-31 or L (last day)", "1-12 or JAN-DEC", "0-7 (0 and 7 are Sunday) or SUN-SAT, with nL (last) or n#k (k-th)"];
const LOW = [0, 0, 1, 1, 0];
const HIGH = [59, 23, 31, 12, 7];
// Index = value; "," never reaches a lookup (lists are split first).
const SYMBOLS = [, , , ", JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC", "SUN MON TUE WED THU FRI SAT"];
// Day-of-month L; a day-of-week nL or n#k is 70 + 10 n + k (k = 0 for L), plain weekdays are 0-7.
const LAST = -1;
const BAD = {};
// Python's int() refuses digit strings longer than sys.get_int_max_str_digits() (4300).
const LIMIT = (detail: string) => `Exceeds the limit (4300 digits) for integer string conversion${detail}; use sys.set_int_max_str_digits() to increase the limit`;

const fail = (message: string): never => {
  throw new ScheduleError(message);
};
const bad = (): never => {
  throw BAD;
};
const ascii = (text: string, example: string) => /[^ -~]/.test(text) && fail(`must be printable ASCII text, such as "${example}"`);
// Python's repr() of printable ASCII text.
const repr = (s: string) => {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(q == "'" ? /[\\']/g : /\\/g, "\\$&") + q;
};
const cut = (s: string, c: string) => {
  const i = s.indexOf(c);
  return [s.slice(0, i), s.slice(i + 1)] as const;
};
const digits = (v: string) => (/^\d+$/.test(v) && v.length <= 4300 ? +v : bad());
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// cronsim's Field.parse: the values of field f (0 = minute ... 4 = day-of-week), or BAD.
function parseField(f: number, part: string): number[] {
  const hi = HIGH[f]!;
  const num = (v: string) => {
    const n = SYMBOLS[f]?.split(" ").indexOf(v) ?? -1;
    const x = n < 0 ? digits(v) : n;
    return n < 0 && (x < LOW[f]! || x > hi) ? bad() : x;
  };
  const parse = (s: string): number[] => {
    if (s == "*") return range(LOW[f]!, hi);
    if (s.includes(",")) return s.split(",").flatMap(parse);
    if (f == 4 && s.includes("L")) return /^\d+$/.test(s.slice(0, -1)) ? [70 + 10 * num(s.slice(0, -1))] : bad();
    if (f == 4 && s.includes("#")) {
      const [t, k] = cut(s, "#");
      const n = digits(k);
      return n < 1 || n > 5 ? bad() : [70 + 10 * num(t) + n];
    }
    if (s.includes("/")) {
      const [t, k] = cut(s, "/");
      const step = digits(k) || bad();
      const items = parse(t);
      if (items[0] == LAST) return items;
      return (items.length == 1 ? range(items[0]!, hi) : items).filter((_, i) => i % step == 0);
    }
    if (s.includes("-")) {
      const [a, b] = cut(s, "-").map(num) as [number, number];
      return b < a ? bad() : range(a, b);
    }
    return f == 2 && s == "L" ? [LAST] : [num(s)];
  };
  return [...new Set(parse(part))];
}

// Bit v - lo for each distinct v in [lo, hi): arithmetic, as day 31 is 2^31 and must stay positive.
const bits = (xs: number[], lo = 0, hi = 70) => [...new Set(xs)].reduce((a, v) => (v < lo || v >= hi ? a : a + 2 ** (v - lo)), 0);

/** Runtime schedules arrive as text; this is the catalog's validation and compile, so both agree. */
export function compileCron(text: string): { cron: string; compiled: Compiled } {
  ascii(text, "0 9 * * 1");
  let cron = text.split(" ").filter((w) => w).join(" ");
  const i = MACROS.indexOf(cron.toLowerCase());
  if (cron[0] != "@") cron = cron.toUpperCase();
  else if (i < 0) fail(`unknown macro ${repr(cron)}; use one of ${MACROS.join(", ")}`);
  else cron = `0 ${i > 5 ? "*" : 0} ${i < 3 ? 1 : "*"} ${i < 2 ? 1 : "*"} ${i == 3 ? 0 : "*"}`;
  const parts = cron ? cron.split(" ") : [];
  if (parts.length != 5) fail(`${repr(cron)} has ${parts.length} fields; a cron needs 5: ${NAMES.join(" ")}`);
  const [mins, hours, days, months, dow] = parts.map((part, f) => {
    const name = NAMES[f]!;
    const same = /(?<![\d-])(\d+)-\1\/\d+/.exec(part);
    if (f == 2 && part.includes("W")) fail(`day-of-month ${repr(part)}: W (nearest weekday) is not supported`);
    if (same) {
      const n = same[1];
      fail(`${name} ${repr(part)}: a one-value range with a step (${same[0]}) is just ${n} to Vixie cron but runs on to the field's end in others; write ${n}, or ${n}-<last>/<step>`);
    }
    try {
      return parseField(f, part);
    } catch (e) {
      if (e !== BAD) throw e;
      return fail(`${name} field ${repr(part)} is not valid; it takes ${ALLOWED[f]}, and * , - / as usual`);
    }
  }) as [number[], number[], number[], number[], number[]];
  const last = days.includes(LAST);
  if (last && days.length > 1) fail(`day-of-month ${repr(parts[2]!)}: L cannot be combined with other days`);
  const nth = dow.filter((x) => x >= 70).map((x): [number, number] => [((x / 10) | 0) % 7, x % 10]);
  const compiled: Compiled = [
    bits(mins, 0, 30),
    bits(mins, 30, 60),
    bits(hours),
    bits(days),
    bits(months),
    bits(dow.map((w) => (w < 70 ? w % 7 : w))),
    (parts[2]![0] == "*" || parts[4]![0] == "*" ? 1 : 0) | (last ? 2 : 0),
  ];
  if (nth.length) compiled[7] = nth.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { cron, compiled };
}

/** every= text of a runtime schedule, read as the catalog reads it: the same cron or the same refusal. */
export function intervalCron(every: string): string {
  ascii(every, "15m");
  let text = every.toLowerCase().replaceAll(" ", "");
  let s = 0n;
  if (/^\d+$/.test(text)) text += "s"; // seconds
  if (!/^(\d+[smhd])+$/.test(text)) fail(`${repr(every)} is not a duration such as 30s, 15m, 2h or 1h30m`);
  for (const [, n, u] of text.matchAll(/(\d+)(.)/g)) s += (n!.length > 4300 ? fail(LIMIT(`: value has ${n!.length} digits`)) : BigInt(n!)) * { s: 1n, m: 60n, h: 3600n, d: 86400n }[u as "s"];
  if (s <= 0n) fail("an interval must be longer than zero");
  if (s % 60n) fail(`${repr(every)} is finer than a minute; the scheduler ticks once a minute`);
  const m = s / 60n;
  const h = m / 60n;
  const d = h / 24n;
  if (m < 60n && 60n % m == 0n) return m > 1n ? `*/${m} * * * *` : "* * * * *";
  if (m % 60n == 0n && 24n % h == 0n) return h == 24n ? "0 0 * * *" : h > 1n ? `0 */${h} * * *` : "0 * * * *";
  if (`${d}`.length > 4300) fail(LIMIT(""));
  return fail(
    `every=${repr(every)} (${d ? d + "d" : ""}${h % 24n ? (h % 24n) + "h" : ""}${m % 60n ? (m % 60n) + "m" : ""}) does not divide an hour or a day evenly, so it could not land on the same minutes every hour or day; use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes, or 1, 2, 3, 4, 6, 8, 12 or 24 hours, or write a cron schedule`,
  );
}

/** A duration as Python's parse_duration reads a catalog's (a jitter): whole seconds, or its refusal. */
export function parseDuration(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value)) return value < 0 ? fail("a duration cannot be negative") : value;
  if (typeof value !== "string") return fail("expected a duration such as 30s, 15m or 2h");
  ascii(value, "5m");
  const text = value.trim().toLowerCase().replaceAll(" ", "");
  if (/^\d+$/.test(text)) return +text;
  if (!/^(\d+[smhd])+$/.test(text)) fail(`${repr(value)} is not a duration such as 30s, 15m, 2h or 1h30m`);
  let s = 0;
  for (const [, n, u] of text.matchAll(/(\d+)(.)/g)) s += +n! * { s: 1, m: 60, h: 3600, d: 86400 }[u as "s"];
  return s;
}
