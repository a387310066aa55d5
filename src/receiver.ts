/**
 * Methods called on what is not an object of their class: `Object.create(CPUMemoryPool.prototype)
 * .allocate(64)`, `pool.getStats.call({})`, `Allocation.prototype.free.call(otherObject)`. The
 * classes keep their state in private fields, and the engine's answer to reading one of an object
 * that lacks it is an untyped TypeError ("Cannot access invalid private field") from deep inside
 * the method; a caller is owed a typed error that says what was wrong. Each public class's
 * prototype has its public methods and accessors wrapped once, where the class is defined, by a
 * check of the receiver's brand (a private field only the class's own objects have: a Proxy does
 * not forward it, and no prototype trick gives it).
 *
 * The wrapper is a call in front of the method: on the hot paths (a pool's allocate and deallocate,
 * a handle's free, bytes, ptr and size) it cost the 64-byte raw pair about 2x (bench/receivers.ts),
 * so those check `#field in this` in their bodies instead, with the same refusals. Internal
 * methods, which the library calls only on its own objects, are left as they are.
 */
import { describe, InvalidArgumentError, InvalidPointerError, type MemoryPoolError } from "./errors";

/** What a class's check is told: whether `value` is one of its objects. */
export type Brand = (value: unknown) => boolean;

/**
 * Wraps `names` of `prototype` (its own methods and accessors; a name it does not hold is a mistake
 * here, not skipped) so that a receiver `isOwn` refuses is `refused(member, receiver)` thrown.
 * `owner` is how members are named in messages (`pool.allocate`, `Allocation.free`).
 */
export function checkReceivers(prototype: object, owner: string, isOwn: Brand, names: readonly PropertyKey[], refused: Refusal): void {
  for (const name of names) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (descriptor === undefined) throw new Error(`checkReceivers: the prototype has no own ${String(name)}`);
    const member = `${owner}${typeof name === "symbol" ? `[${name.description}]` : `.${name}`}`;
    if (typeof descriptor.value === "function") descriptor.value = name === Bun.inspect.custom ? printed(descriptor.value, isOwn) : checked(descriptor.value, member, isOwn, refused);
    if (descriptor.get !== undefined) descriptor.get = checked(descriptor.get, member, isOwn, refused);
    if (descriptor.set !== undefined) descriptor.set = checked(descriptor.set, member, isOwn, refused);
    Object.defineProperty(prototype, name, descriptor);
  }
}

/** The error for `member` called on `receiver`. */
export type Refusal = (member: string, receiver: unknown) => MemoryPoolError;

/**
 * `method` behind the receiver check, with its name and length (what stack traces, `fn.length` and
 * console.log(fn) show). A method, as what it wraps is: no constructor (`new pool.getStats()` is the
 * engine's "not a constructor", not a refusal of the object `new` made) and no `prototype`.
 */
function checked(method: (...args: unknown[]) => unknown, member: string, isOwn: Brand, refused: Refusal): (...args: unknown[]) => unknown {
  // Fixed parameters, not a rest array (which the wrapper would make on every call): no public
  // method takes more than four, and one left out arrives as undefined, as it would have.
  const wrapper = {
    [method.name](this: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown): unknown {
      if (!isOwn(this)) throw refused(member, this);
      return method.call(this, a, b, c, d, e);
    },
  }[method.name]!;
  named(wrapper, method);
  return wrapper;
}

/** `wrapper` shows `method`'s length, and its name where Bun.inspect looks (displayName: it reads no computed name). */
function named(wrapper: (...args: unknown[]) => unknown, method: (...args: unknown[]) => unknown): void {
  Object.defineProperty(wrapper, "length", { value: method.length });
  Object.defineProperty(wrapper, "displayName", { value: method.name });
}

/**
 * An inspect hook behind the check: console.log and Bun.inspect call it on whatever holds it, the
 * class's prototype too (printed where a REPL or a test's failure shows the class), and printing must
 * not throw. An object the library did not make prints as what it is, not as one of its objects.
 */
function printed(method: (...args: unknown[]) => unknown, isOwn: Brand): (...args: unknown[]) => unknown {
  const wrapper = {
    [method.name](this: unknown, a?: unknown, b?: unknown, c?: unknown): unknown {
      if (!isOwn(this)) return `[${describe(this)} the library did not make]`;
      return method.call(this, a, b, c);
    },
  }[method.name]!;
  named(wrapper, method);
  return wrapper;
}

/**
 * The refusal where `this` is an argument of the wrong kind (pools, the manager, streams, statistics,
 * shared GPU memory): `what` names what it must be ("a pool that MemoryPoolManager made").
 */
export function foreignReceiver(what: string): Refusal {
  return (member, receiver) => new InvalidArgumentError("this", refusalText(member, receiver, what));
}

/** The refusal for an allocation's members: a handle no pool made, as a forged handle given to deallocate() or copy() is. */
export function foreignHandle(what: string): Refusal {
  return (member, receiver) => new InvalidPointerError(refusalText(member, receiver, what));
}

function refusalText(member: string, receiver: unknown, what: string): string {
  if (typeof receiver !== "object" || receiver === null) return `${member} was called on ${describe(receiver)}, not on ${what}`;
  return `${member} was called on ${describe(receiver)} the library did not make (an object given the class's prototype, a Proxy, or another object as this): call it on ${what}`;
}
