/**
 * A range that does not fit is named by the call that was asked: flush and memcpyPersist said
 * "cannot persist", which sends a reader to a call they did not make.
 */
import { afterAll, expect, test } from "bun:test";
import { InvalidPointerError, InvalidSizeError, MemoryPoolManager } from "../../src/index";
import { pmemConfig, poolPath, removePoolFiles } from "./helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);

test("persist, flush and memcpyPersist name themselves when a range does not fit, on an allocation and on a view", () => {
  using pm = MemoryPoolManager.getInstance().createPMEMPool("pm-range-messages", pmemConfig(poolPath("range-messages")));
  const a = pm.allocate(64);
  const cases: [string, () => unknown][] = [
    ["cannot persist 65 bytes", () => pm.persist(a, 65)],
    ["cannot flush 65 bytes", () => pm.flush(a, 65)],
    ["cannot copy into 128 bytes", () => pm.memcpyPersist(a, new Uint8Array(128))],
    ["cannot persist 65 bytes", () => pm.persist(a.bytes, 65)],
    ["cannot flush 65 bytes", () => pm.flush(a.bytes, 65)],
    ["cannot copy into 128 bytes", () => pm.memcpyPersist(a.bytes, new Uint8Array(128))],
  ];
  for (const [message, call] of cases) {
    const error = thrown(call);
    expect(error).toBeInstanceOf(InvalidSizeError);
    expect((error as Error).message).toContain(message);
  }
  const notOurs = thrown(() => pm.flush({} as never));
  expect(notOurs).toBeInstanceOf(InvalidPointerError);
  expect((notOurs as Error).message).toContain("cannot flush");
  a.free();
});
