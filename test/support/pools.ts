// CPU pools made by a test and destroyed after it, whatever the test did with them.
import { afterEach } from "bun:test";
import { MemoryPoolManager, PoolConfig, type CPUMemoryPool } from "../../src/index";

/** Registers the cleanup in the calling test file; returns the factory its tests use. */
export function cpuPoolsPerTest(): (name: string, fields?: Partial<PoolConfig>) => CPUMemoryPool {
  const manager = MemoryPoolManager.getInstance();
  let created: string[] = [];
  afterEach(() => {
    for (const name of created) if (manager.hasPool(name)) manager.destroyPool(name);
    created = [];
  });
  return (name, fields = {}) => {
    created.push(name);
    return manager.createCPUPool(name, Object.assign(new PoolConfig(), fields));
  };
}
