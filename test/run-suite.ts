/**
 * The whole test suite (`npm test` runs it after type-checking and lint): starts ONE real
 * control plane for the run (building its binaries first if this machine has none cached),
 * runs every test file with Node's test runner against it, and stops it again.
 *
 * Test files find the control plane through environment variables (see test/support/cluster.ts);
 * a test that needs it and does not find it fails, it never skips.
 * Arguments are passed to `node --test` (e.g. a file glob to run a subset).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from './cluster/control-plane.ts';
import { serveControl } from './cluster/control-server.ts';

const DEFAULT_FILES = ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

async function main(args: string[]): Promise<number> {
  const plane = await startControlPlane();
  const control = await serveControl(plane);
  const stateFile = join(plane.state.workDir, 'state.json');
  writeFileSync(stateFile, JSON.stringify(plane.state));
  try {
    const files = args.length > 0 ? args : DEFAULT_FILES;
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=600000', ...files], {
      stdio: 'inherit',
      env: { ...process.env, TUNNELKEEPER_TEST_STATE: stateFile, TUNNELKEEPER_TEST_CONTROL_URL: control.url },
    });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code ?? 1));
    });
  } finally {
    control.server.close();
    await plane.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test suite could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
