/** Bench only: the order-free digest of a minute's due runs that bench/tick.mjs compares. */

/** Per minute: [due count, sum mod 2^32 of the due job names' hashes]. */
export type Digest = [number, number];

/** FNV-1a of a job name. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
