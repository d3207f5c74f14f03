/** The cron oracle of the tests: the engine this Worker had before compiled schedules, croner over
 * the wall clock's fields (utcOffset 0; domAndDow when a day field starts with "*", Vixie), each
 * wall time mapped to an instant by instantOf. croner is a devDependency: not in the bundle. */
import { Cron } from "croner";
import { instantOf, wallOf } from "../src/zone";

/** The old engine: croner's next wall time after each wall time, mapped by instantOf. */
export class Oracle {
  private readonly cron: Cron;
  constructor(text: string, private readonly tz: string) {
    const [, , dom = "*", , dow = "*"] = text.split(" ");
    this.cron = new Cron(text, { utcOffset: 0, mode: "5-part", domAndDow: dom.startsWith("*") || dow.startsWith("*") });
  }
  nextAfter(after: number): number | null {
    let wall = wallOf(after, this.tz);
    for (let i = 0; i < 10_000; i++) {
      const run = this.cron.nextRun(new Date(wall));
      if (!run) return null;
      wall = run.getTime();
      const instant = instantOf(wall, this.tz);
      if (instant > after) return instant;
    }
    return null;
  }
  upcoming(after: number, count: number): number[] {
    const out: number[] = [];
    let t: number | null = after;
    while (out.length < count && (t = this.nextAfter(t)) !== null) out.push(t);
    return out;
  }
  dueIn(from: number, to: number): number[] {
    const out: number[] = [];
    let t: number | null = from;
    while ((t = this.nextAfter(t)) !== null && t <= to) out.push(t);
    return out;
  }
}

