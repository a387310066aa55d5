/**
 * 4. The cost of statistics: the fixed-size allocateRaw(64) + deallocate loop on a pool with
 * collectStats = true against the same loop with collectStats = false (≤ 1.05×), three rounds
 * each. The goal's margin is near the drift of a shared 2-core machine, so the same loop on two
 * identical collectStats = false pools runs too (an A/A control): its ratio is the noise floor.
 */
import { do_not_optimize, group } from "mitata";
import { MemoryPoolManager, PoolConfig, type CPUMemoryPool } from "../src/index";
import { compare, type Suite, type TimedGoal } from "./goals";

const POOLS = ["bench-stats-on", "bench-stats-off", "bench-stats-off-2"];

export function statsSuite(): Suite {
  const manager = MemoryPoolManager.getInstance();
  const fixed64 = (collectStats: boolean) => Object.assign(PoolConfig.FixedSizeCPU(64), { collectStats });
  const on = manager.createCPUPool("bench-stats-on", fixed64(true));
  const off = manager.createCPUPool("bench-stats-off", fixed64(false));
  const off2 = manager.createCPUPool("bench-stats-off-2", fixed64(false));
  const loop = (pool: CPUMemoryPool) => () => {
    const p = pool.allocateRaw(64);
    pool.deallocate(p);
    do_not_optimize(p);
  };
  const goals: TimedGoal[] = [];
  group("4. statistics on vs off (fixed 64 B allocateRaw + deallocate)", () => {
    goals.push(compare("4. collectStats on vs off (fixed 64 B)", ["collectStats=true", loop(on)], ["collectStats=false", loop(off)], 1.05, 3));
    goals.push(compare("   control: stats off vs off (noise floor)", ["collectStats=false, 2nd pool", loop(off2)], ["collectStats=false, 1st pool", loop(off)], undefined, 2));
  });
  return {
    goals,
    cleanup() {
      for (const name of POOLS) manager.destroyPool(name);
    },
  };
}
