/**
 * A PMEM pool file that is sparse (copied with `cp --sparse=always`, or a hole punched in it) opened
 * on a file system with no room left for its holes. Found by attack17: a new file's blocks were
 * reserved (posix_fallocate) but an existing file's were not, so the pool opened, and the first write
 * to a page of a hole raised SIGBUS; the core's handler turned it into a PMEMFileError that said the
 * file "was cut short while the pool was open (truncated or overwritten)", which it was not, and the
 * writes of the pool were lost from then on. Opening now reserves the file's blocks as creating
 * does: a PMEMFileError at open that says there is no space, with the file left as it was.
 * The full file system is a 2 MiB tmpfs in a mount namespace of the child's own (unshare -m), so
 * nothing is left mounted; where this machine refuses one, the test says so and skips.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryPoolManager } from "../../src/index";
import { attackFixture, runCommand } from "../support/child";
import { poolPath, removePoolFiles } from "../pmem/helpers";

const scratch = mkdtempSync(join(tmpdir(), "memory-pool-attack17-sparse-"));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  removePoolFiles();
});

const namespaces = Bun.spawnSync(["unshare", "-m", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", scratch], { stderr: "pipe" });
const refused = namespaces.exitCode === 0 ? undefined : `no private tmpfs here (unshare -m mount: ${namespaces.stderr.toString().trim() || `exit ${namespaces.exitCode}`})`;
if (refused !== undefined) console.log(`skipped: ${refused}`);

test.skipIf(refused !== undefined)("a sparse pool file on a full file system is refused at open with a PMEMFileError that says so, and kept", async () => {
  const source = poolPath("attack17-sparse");
  const pool = MemoryPoolManager.getInstance().createPMEMPool("attack17-sparse", { pmemPoolPath: source, initialSize: 1 << 20 });
  const kept = pool.allocate(64);
  kept.bytes.set([1, 2, 3, 4]);
  pool.setRoot("kept", kept);
  pool.close();
  const copy = join(scratch, "pool.pmem");
  const child = (args: string) => `${JSON.stringify(process.execPath)} ${JSON.stringify(attackFixture("attack17-sparse-pool-child.ts"))} ${args}`;
  // In the child's own mount namespace: a 2 MiB tmpfs, the pool copied in with its holes, the rest
  // filled; the pool opened there (no room for its holes), then again once the filler is gone.
  const script = [
    `mount -t tmpfs -o size=2m tmpfs ${JSON.stringify(scratch)}`,
    `cp --sparse=always ${JSON.stringify(source)} ${JSON.stringify(copy)}`,
    `dd if=/dev/zero of=${JSON.stringify(join(scratch, "filler"))} bs=4k count=1000 2>/dev/null || true`, // it stops when the tmpfs is full
    child(JSON.stringify(copy)),
    `rm ${JSON.stringify(join(scratch, "filler"))}`,
    child(JSON.stringify(copy)),
  ].join(" && ");
  const run = await runCommand(["unshare", "-m", "sh", "-c", script], { timeout: 20_000 });
  expect({ exitCode: run.exitCode, signalCode: run.signalCode, stderr: run.stderr }).toEqual({ exitCode: 0, signalCode: null, stderr: "" });
  const [full, roomy] = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  expect(full).toEqual({ opened: false, written: 0, outcome: "PMEM_FILE", message: `cannot reserve 1048576 bytes for '${copy}': No space left on device` });
  expect(roomy).toEqual({ opened: true, kept: [1, 2, 3, 4], written: 100 });
}, 30_000);
