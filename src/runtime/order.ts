/**
 * Comparators for sorting, in one place. Strings compare by UTF-16 code unit (what `<` does), not
 * by locale: the order is the same on every machine and matches Go's `sort.Strings`, so objects we
 * write (EndpointSlices, status lists, metric exposition) come out byte-identical for equal input.
 */

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders anything with a pod name by that name. */
export function byPod(a: { readonly pod: string }, b: { readonly pod: string }): number {
  return compareStrings(a.pod, b.pod);
}

/** Orders `[key, value]` entries by key. */
export function byEntryKey(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return compareStrings(a[0], b[0]);
}
