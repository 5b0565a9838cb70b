// Reads the module specifiers out of TypeScript source, for the tests that check the import graph.

/** Every module specifier a file names: static imports/exports, dynamic import(), require(). */
export function specifiersOf(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^"'`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\b(?:import|require)\s*\(\s*["'`]([^"'`]+)["'`]/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]!));
}
