/**
 * Ctrl-C for the long-running commands: the first SIGINT/SIGTERM starts a graceful stop (each
 * command handles it), a second one ends the process at once with exit code 130.
 *
 * Signals closer together than SAME_INTERRUPT_MS are one interrupt: `npm run` and `npx` forward
 * the terminal's SIGINT to their child, which the terminal already signalled (the whole
 * foreground process group gets it), so one Ctrl-C can arrive twice within milliseconds.
 */
export const SAME_INTERRUPT_MS = 300;

export interface SecondSignalOptions {
  readonly exit?: (code: number) => void;
  readonly now?: () => number;
  readonly write?: (line: string) => void;
}

/** Installs the second-interrupt handler; returns its removal. */
export function exitOnSecondSignal(options: SecondSignalOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const now = options.now ?? Date.now;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  let first: number | undefined;
  const onSignal = (): void => {
    const at = now();
    if (first === undefined || at - first < SAME_INTERRUPT_MS) {
      first ??= at;
      return;
    }
    write("Stopped at once (second interrupt); open connections were cut.\n");
    exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
