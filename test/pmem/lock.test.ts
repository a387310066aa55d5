/**
 * The lock that keeps a pool file to one pool at a time: a second pool of this process is refused
 * at once; a file another process holds is waited for a moment, because a process that has just
 * exited can still hold its lock while the kernel lets go of its mappings (seen on the GPU machine:
 * about 100 ms after exit, beside NVIDIA's driver), and is refused once that moment has passed.
 */
import { afterAll, expect, test } from "bun:test";
import { MemoryPoolManager, PMEMFileError } from "../../src/index";
import { thrown } from "../support/thrown";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";

const manager = MemoryPoolManager.getInstance();
afterAll(removePoolFiles);

/** A child process that opens the pool file, holds it for `holdMs`, then exits without closing it. */
function holder(path: string, holdMs: number) {
  const script = `
    const { MemoryPoolManager } = await import(${JSON.stringify(`${import.meta.dir}/../../src/index.ts`)});
    MemoryPoolManager.getInstance().createPMEMPool("held", { pmemPoolPath: ${JSON.stringify(path)}, initialSize: 256 * 1024 });
    console.log("holding");
    await Bun.sleep(${holdMs});
    process.exit(0);`;
  return Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, PMEM_IS_PMEM_FORCE: "1" }, stdout: "pipe", stderr: "inherit" });
}

async function untilHolding(child: ReturnType<typeof holder>): Promise<void> {
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("holding")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the holder exited before it held the file: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
}

test("a second pool of this process on the same file is refused at once, naming this process", () => {
  const path = poolPath("lock-self");
  const first = manager.createPMEMPool("lock-first", pmemConfig(path));
  const started = performance.now();
  const err = thrown(() => manager.createPMEMPool("lock-second", pmemConfig(path)));
  expect(performance.now() - started).toBeLessThan(500);
  expect(err).toBeInstanceOf(PMEMFileError);
  expect((err as Error).message).toContain("another pool of this process has it open");
  first.close();
  manager.createPMEMPool("lock-second", pmemConfig(path)).close(); // free again once closed
});

test("a file another process holds for a moment is opened once that process lets it go", async () => {
  const path = poolPath("lock-brief");
  const child = holder(path, 200);
  await untilHolding(child);
  const pool = manager.createPMEMPool("lock-after", pmemConfig(path)); // waits for the holder to exit
  expect(pool.created).toBe(false);
  pool.close();
  expect(await child.exited).toBe(0);
}, 20_000);

test("a file another process keeps is refused after the wait, naming another process", async () => {
  const path = poolPath("lock-long");
  const child = holder(path, 5_000);
  await untilHolding(child);
  const err = thrown(() => manager.createPMEMPool("lock-refused", pmemConfig(path)));
  expect(err).toBeInstanceOf(PMEMFileError);
  expect((err as Error).message).toContain("another process has it open");
  child.kill();
  await child.exited;
}, 20_000);
