/**
 * The seed's helper functions: typed arrays from the manager's default CPU pool.
 */
import type { TypedArrayConstructor } from "./allocation";
import { GPUAllocation } from "./gpu";
import { InvalidPointerError, InvalidSizeError } from "./errors";
import { MemoryPoolManager } from "./manager";

/** allocate(n): a Uint8Array of n bytes. allocate(Int32Array, n): n elements of that type. */
export function allocate(size: number): Uint8Array<ArrayBuffer>;
export function allocate<T extends TypedArrayConstructor>(type: T, length: number): InstanceType<T>;
export function allocate(typeOrSize: TypedArrayConstructor | number, length?: number): ArrayBufferView {
  const pool = MemoryPoolManager.getInstance().defaultCPUPool;
  if (typeof typeOrSize === "number") return pool.allocate(typeOrSize).bytes;
  if (!(typeof length === "number" && Number.isSafeInteger(length) && length > 0)) {
    throw new InvalidSizeError(`allocate(${typeOrSize?.name}, ${length}): the length is a whole number of elements above 0`);
  }
  return pool.allocate(length * typeOrSize.BYTES_PER_ELEMENT).as(typeOrSize);
}

/** Frees an array from allocate(). */
export function deallocate(array: ArrayBufferView): void {
  MemoryPoolManager.getInstance().defaultCPUPool.deallocate(array);
}

/** allocateGPU(Float32Array, 1000): a device allocation of 1000 floats, from the default GPU pool. */
export function allocateGPU<T extends TypedArrayConstructor>(type: T, length: number): GPUAllocation {
  if (!(typeof length === "number" && Number.isSafeInteger(length) && length > 0)) {
    throw new InvalidSizeError(`allocateGPU(${type?.name}, ${length}): the length is a whole number of elements above 0`);
  }
  const allocation = MemoryPoolManager.getInstance().defaultGPUPool.allocate(length * type.BYTES_PER_ELEMENT);
  allocation.elementType = type;
  return allocation;
}

/** Frees an allocation from allocateGPU(). */
export function deallocateGPU(allocation: GPUAllocation): void {
  if (!(allocation instanceof GPUAllocation)) throw new InvalidPointerError("deallocateGPU takes the GPUAllocation that allocateGPU returned");
  MemoryPoolManager.getInstance().defaultGPUPool.deallocate(allocation);
}
