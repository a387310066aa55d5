/**
 * The seed's helper functions: typed arrays from the manager's default CPU pool.
 */
import type { Allocation, TypedArrayConstructor } from "./allocation";
import { isGPUAllocation, setElementType, type GPUAllocation } from "./gpu";
import { describe, InvalidPointerError, InvalidSizeError } from "./errors";
import { MemoryPoolManager } from "./manager";
import { LARGEST_VIEW_BYTES } from "./pool";
import { typedArrayTypeArg } from "./validate";

/** allocate(n): a Uint8Array of n bytes. allocate(Int32Array, n): n elements of that type. */
export function allocate(size: number): Uint8Array<ArrayBuffer>;
export function allocate<T extends TypedArrayConstructor>(type: T, length: number): InstanceType<T>;
export function allocate(typeOrSize: TypedArrayConstructor | number, length?: number): ArrayBufferView {
  const pool = MemoryPoolManager.getInstance().defaultCPUPool;
  // One argument is a size (the pool refuses one of the wrong type); with a length, a type comes first.
  if (length === undefined && typeof typeOrSize !== "function") return viewOf(pool.allocate(viewable(typeOrSize as number)), (allocation) => allocation.bytes);
  const type = typedArrayTypeArg("allocate(type, length)", typeOrSize as TypedArrayConstructor);
  return viewOf(pool.allocate(viewable(elements("allocate", type, length), type, length)), (allocation) => allocation.as(type));
}

/**
 * `bytes`, where a view can span them: a request no view can serve is refused before the pool
 * places it (it would commit the memory, then free it unseen). `bytes` is the size given to
 * allocate(n) as it came (the pool refuses one of the wrong type), or the bytes of `length`
 * elements of `type`.
 */
function viewable(bytes: number, type?: TypedArrayConstructor, length?: number): number {
  if (typeof bytes === "number" && bytes > LARGEST_VIEW_BYTES) {
    const call = type === undefined ? `allocate(${bytes})` : `allocate(${type.name}, ${length})`;
    throw new InvalidSizeError(`${call}: ${bytes} bytes, and a JavaScript view is at most 4 GiB (allocate from a pool and pass .ptr to native code instead)`);
  }
  return bytes;
}

/**
 * The view the caller gets of a new allocation; where none can be made (over 4 GiB), the
 * allocation is freed before the error goes on: the caller never held its handle to free it.
 */
function viewOf<T>(allocation: Allocation, view: (allocation: Allocation) => T): T {
  try {
    return view(allocation);
  } catch (err) {
    allocation.free();
    throw err;
  }
}

/** Bytes of `length` elements of `type`; InvalidSizeError unless the length is a whole number above 0. */
function elements(call: string, type: TypedArrayConstructor, length: unknown): number {
  if (!(typeof length === "number" && Number.isSafeInteger(length) && length > 0)) {
    throw new InvalidSizeError(`${call}(${type.name}, ${describe(length)}): the length is a whole number of elements above 0`);
  }
  return length * type.BYTES_PER_ELEMENT;
}

/** Frees an array from allocate(). */
export function deallocate(array: ArrayBufferView): void {
  MemoryPoolManager.getInstance().defaultCPUPool.deallocate(array);
}

/** allocateGPU(Float32Array, 1000): a device allocation of 1000 floats, from the default GPU pool. */
export function allocateGPU<T extends TypedArrayConstructor>(type: T, length: number): GPUAllocation {
  const bytes = elements("allocateGPU", typedArrayTypeArg("allocateGPU", type), length);
  const allocation = MemoryPoolManager.getInstance().defaultGPUPool.allocate(bytes);
  setElementType(allocation, type);
  return allocation;
}

/** Frees an allocation from allocateGPU(). */
export function deallocateGPU(allocation: GPUAllocation): void {
  if (!isGPUAllocation(allocation)) throw new InvalidPointerError("deallocateGPU takes the GPUAllocation that allocateGPU returned");
  MemoryPoolManager.getInstance().defaultGPUPool.deallocate(allocation);
}
