/**
 * Thread-scaling probe (a design probe, as bench/variable_bins.ts): which part of the cached 64 B pair
 * stops scaling with Workers. Each variant runs in 1, 4 and 16 Workers (PROBE_WORKERS), each Worker
 * warmed up until its rounds agree (PROBE_WARM_MS: at least that long), and reports pairs per second
 * and the CPU time a pair costs each Worker: libc through bun:ffi; a bare JavaScript stack over an
 * Int32Array (plain stores, then a compare-and-swap a pair); a default pool per Worker (nothing
 * shared between Workers); a lockFree + threadLocalCache pool per Worker; one such pool shared by
 * all; one lockFree pool shared by all. PROBE_VARIANTS="libc,shared TLC pool" picks rows.
 * Not in the default rows: "shared lockFree burst", one lockFree pool shared by all whose Workers
 * allocate BURST (512) blocks and then free them, so that their JavaScript caches refill and flush
 * through the core (a batch of 64 popped or pushed on the pool's free stack, 8 of each a burst),
 * where the ring's loop never calls the core: the figure that follows the core's stack.
 *
 *   bun bench/thread_probe.ts          (on the GPU machine: 16 cores)
 */
import { MemoryPoolManager, PoolConfig } from "../src/index";
import { free, malloc } from "./anchors";
declare const self: Worker;
const WINDOW = 64;
/** Blocks a Worker of the "burst" row allocates before it frees them (its cache holds 256). */
const BURST = 512;
/** PROBE_POOL_BYTES: every probe pool's initialSize (default 1 MiB for a Worker's own, 4 MiB for a shared one). */
const POOL_BYTES = process.env.PROBE_POOL_BYTES ? Number(process.env.PROBE_POOL_BYTES) : undefined;
type Job = { variant: string; pairs: number; shared: string; id: number };
const variants = (process.env.PROBE_VARIANTS ?? "libc,js stack,js CAS,own none pool,own TLC pool,shared TLC pool,shared lockFree pool").split(",");

function workerMain() {
  self.onerror = (e) => { console.error('worker error', e); };
  self.onmessage = (e: MessageEvent<Job>) => {
    const job = e.data;
    const ring: number[] = new Array(WINDOW).fill(0);
    let run: (n: number) => void;
    let finish = () => {};
    const v = job.variant;
    if (v === "libc") {
      for (let i = 0; i < WINDOW; i++) ring[i] = malloc(64) as number;
      run = (n) => { for (let i = 0; i < n; i++) { const at = i & 63; free(ring[at] as never); ring[at] = malloc(64) as number; } };
      finish = () => { for (const p of ring) free(p as never); };
    } else if (v === "js stack" || v === "js CAS") {
      const state = new Int32Array(4096); const stack = new Int32Array(256); let top = 0;
      for (let i = 0; i < 128; i++) stack[top++] = i;
      for (let i = 0; i < WINDOW; i++) { const b = stack[--top]!; state[b] = 1; ring[i] = b; }
      const cas = v === "js CAS";
      run = (n) => { for (let i = 0; i < n; i++) { const at = i & 63; const b = ring[at]!;
        if (cas) { if (Atomics.compareExchange(state, b, 1, -1) !== 1) throw new Error("x"); } else { if (state[b] !== 1) throw new Error("x"); state[b] = -1; }
        stack[top++] = b; const c = stack[--top]!; state[c] = 1; ring[at] = c; } };
    } else {
      const m = MemoryPoolManager.getInstance();
      let pool;
      if (v.startsWith("own")) {
        const name = `probe-own-${job.id}-${v}-${Math.random()}`;
        const extra = v === "own none pool" ? {} : { threadSafety: "lockFree", threadLocalCache: true };
        pool = m.createCPUPool(name, Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: POOL_BYTES ?? 1 << 20, growth: 2 }, extra));
      } else pool = m.getPool(job.shared, "cpu");
      if (v === "shared lockFree burst") {
        const held: number[] = new Array(BURST).fill(0);
        run = (n) => { for (let i = 0; i < n; i += BURST) { for (let k = 0; k < BURST; k++) held[k] = pool.allocateRaw(64); for (let k = 0; k < BURST; k++) pool.deallocate(held[k]!); } };
      } else {
        for (let i = 0; i < WINDOW; i++) ring[i] = pool.allocateRaw(64);
        run = (n) => { for (let i = 0; i < n; i++) { const at = i & 63; pool.deallocate(ring[at]!); ring[at] = pool.allocateRaw(64); } };
        finish = () => { for (const p of ring) pool.deallocate(p); if (v.startsWith("own")) m.destroyPool(pool.name); };
      }
    }
    let fastest = Infinity, steady = 0;
    const warmUntil = performance.now() + Number(process.env.PROBE_WARM_MS ?? 0);
    for (let r = 0; performance.now() < warmUntil || (r < 40 && (r < 5 || steady < 3)); r++) { const t = performance.now(); run(100_000); const ms = performance.now() - t; steady = ms <= fastest * 1.05 ? steady + 1 : 0; fastest = Math.min(fastest, ms); }
    self.onmessage = () => { const c = process.threadCpuUsage(); const t = performance.now(); run(job.pairs); const ms = performance.now() - t; const s = process.threadCpuUsage(c); finish(); self.postMessage({ ms, cpu: (s.user + s.system) * 1000 / job.pairs }); };
    self.postMessage({ ready: true });
  };
}

async function measure(variant: string, workers: number, pairs: number) {
  const shared = `probe-shared-${variant}-${workers}`;
  const m = MemoryPoolManager.getInstance();
  if (variant.startsWith("shared")) m.createCPUPool(shared, Object.assign(PoolConfig.FixedSizeCPU(64), { initialSize: POOL_BYTES ?? 4 << 20, growth: 2, threadSafety: "lockFree", threadLocalCache: variant === "shared TLC pool" }));
  const ws = Array.from({ length: workers }, () => new Worker(import.meta.url));
  const msg = (w: Worker) => new Promise<any>((r) => (w.onmessage = (e) => r(e.data)));
  await Promise.all(ws.map((w, id) => { const p = msg(w); w.postMessage({ variant, pairs, shared, id }); return p; }));
  const t = performance.now(); const res = ws.map(msg); for (const w of ws) w.postMessage("go"); const done = await Promise.all(res); const wall = performance.now() - t;
  for (const w of ws) w.terminate();
  if (variant.startsWith("shared")) { await Bun.sleep(30); m.destroyPool(shared); }
  return { mps: workers * pairs / wall / 1000, cpu: done.reduce((a, d) => a + d.cpu, 0) / workers, max: Math.max(...done.map((d) => d.cpu)) };
}

if (Bun.isMainThread) {
  const counts = (process.env.PROBE_WORKERS ?? "1,4,16").split(",").map(Number);
  const pairs = Number(process.env.PROBE_PAIRS ?? 2_000_000);
  for (const v of variants) {
    const row: string[] = [];
    for (const n of counts) { const r = await measure(v, n, pairs); row.push(`${n}W ${r.mps.toFixed(1)} M/s cpu ${r.cpu.toFixed(1)} ns (max ${r.max.toFixed(1)})`); }
    console.log(`${v.padEnd(22)} | ${row.join(" | ")}`);
  }
} else workerMain();
