// compile.ts in workerd: a few direct cases. tests/catalog/test_compile_parity.py holds it to
// Python's compiler on thousands of random texts; these pin the shapes the Worker relies on.
import { describe, expect, it } from "vitest";
import { compileCron, intervalCron, ScheduleError } from "../src/compile";

const ALL_DAYS = 2 ** 32 - 2;

describe("compileCron", () => {
  it("expands macros case-blind to their canonical cron", () => {
    expect(compileCron(" @DAILY ")).toEqual({ cron: "0 0 * * *", compiled: [1, 0, 1, ALL_DAYS, 8190, 127, 1] });
  });
  it("reads names, upper-cases and single-spaces the text", () => {
    expect(compileCron("30  12 1 jan,jul *")).toEqual({ cron: "30 12 1 JAN,JUL *", compiled: [0, 1, 4096, 2, 130, 127, 1] });
    expect(compileCron("0 9 * * mon-fri").compiled[5]).toBe(62);
  });
  it("keeps day 31 a positive bit, and L as flag 2", () => {
    expect(compileCron("0 0 31 * *").compiled[3]).toBe(2147483648);
    expect(compileCron("0 0 L * *").compiled).toEqual([1, 0, 1, 0, 8190, 127, 3]);
  });
  it("makes 7 Sunday, and sorts nL / n#k pairs", () => {
    expect(compileCron("0 9 * * 7").compiled[5]).toBe(1);
    expect(compileCron("0 12 * * 5#2,7L").compiled).toEqual([1, 0, 4096, ALL_DAYS, 8190, 0, 1, [[0, 0], [5, 2]]]);
  });
  it("refuses with Python's exact words", () => {
    const refusal = (text: string) => {
      try {
        compileCron(text);
      } catch (e) {
        expect(e).toBeInstanceOf(ScheduleError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${text}`);
    };
    expect(refusal("0 9 * * 8")).toBe(
      "day-of-week field '8' is not valid; it takes 0-7 (0 and 7 are Sunday) or SUN-SAT, with nL (last) or n#k (k-th), and * , - / as usual",
    );
    expect(refusal("0 0 L,5 * *")).toBe("day-of-month 'L,5': L cannot be combined with other days");
    expect(refusal("0 9 * * 1\n")).toBe('must be printable ASCII text, such as "0 9 * * 1"');
  });
});

describe("intervalCron", () => {
  it("turns every= text into the catalog's cron, or its refusal", () => {
    expect(intervalCron(" 15M ")).toBe("*/15 * * * *");
    expect(intervalCron("2h")).toBe("0 */2 * * *");
    expect(() => intervalCron("90m")).toThrow("every='90m' (1h30m) does not divide an hour or a day evenly");
  });
});
