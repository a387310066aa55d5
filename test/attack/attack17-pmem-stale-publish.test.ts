/**
 * A PMEM allocation freed between the pool's check of its handle and the core's call that publishes
 * it: a LinkOptions getter that frees the parent (and allocates again, so its block holds another
 * allocation), and in the core, a handle's id that is no longer there (what another Worker's free
 * does). Found by attack17: link() checked the parent, then read its options, so the getter's free
 * reached the core, whose check of the handle's id said DoubleFreeError ("cannot link from
 * allocation #3: it was freed") where a stale handle is a UseAfterFreeError, as the pool's own check
 * and every range call (persist, flush, memcpyPersist) say it; a freed block not taken again was an
 * InvalidPointerError. The core (journal.zig liveBlock, claim) now says UseAfterFree in both cases,
 * link() reads its options first, as setRoot() does, and setRoot, link, linked and commitUnpublished
 * mark the handle dead on that status.
 */
import { afterAll, expect, test } from "bun:test";
import { idOfAllocation, offsetOfAllocation } from "../../src/allocation";
import { handleOf } from "../../src/pool";
import { MemoryPoolManager, UseAfterFreeError } from "../../src/index";
import * as native from "../../src/native";
import { poolPath, removePoolFiles } from "../pmem/helpers";
import { thrown } from "../support/thrown";

afterAll(removePoolFiles);
const manager = MemoryPoolManager.getInstance();

test("a LinkOptions getter that frees the parent and takes its block again: UseAfterFreeError, and nothing is linked", () => {
  using pm = manager.createPMEMPool("attack17-stale-link", { pmemPoolPath: poolPath("attack17-stale-link"), initialSize: 1 << 20 });
  const parent = pm.allocate(64);
  pm.setRoot("parent", parent);
  const child = pm.allocate(64);
  let taker: ReturnType<typeof pm.allocate> | undefined;
  const error = thrown(() =>
    pm.link(parent, 0, child, {
      get freePrevious() {
        pm.setRoot("parent", null);
        parent.free();
        taker = pm.allocate(64); // the parent's block, now another allocation's
        return false;
      },
    }),
  );
  expect(error).toBeInstanceOf(UseAfterFreeError);
  expect(error.message).toContain(`cannot link from allocation #${idOfAllocation(parent)}`);
  expect(taker!.ptr).toBe(parent.ptr);
  pm.setRoot("taker", taker!);
  expect(pm.linked(taker!, 0)).toBeUndefined();
  expect(pm.allocations({ unreachable: true }).map((a) => a.ptr)).toContain(child.ptr); // not published by a link
});

test("the core says UseAfterFree for a handle's id that is gone, whether its block is free or taken again", () => {
  using pm = manager.createPMEMPool("attack17-stale-core", { pmemPoolPath: poolPath("attack17-stale-core"), initialSize: 1 << 20 });
  const head = pm.allocate(64);
  pm.setRoot("head", head);
  const freed = pm.allocate(64);
  const at = offsetOfAllocation(freed);
  const id = idOfAllocation(freed);
  const name = native.encodeName("stale");
  const calls = () => ({
    setRoot: native.setPmemRoot(handleOf(pm), name, at, id, false),
    linkTo: native.linkPmem(handleOf(pm), offsetOfAllocation(head), idOfAllocation(head), 0, at, id, false),
    linkFrom: native.linkPmem(handleOf(pm), at, id, 0, 0, 0, false),
    linked: native.pmemLinked(handleOf(pm), at, id, 0),
    commit: native.commitUnpublishedPmem(handleOf(pm), at, id),
  });
  const useAfterFree = native.Status.useAfterFree;
  const everyCall = { setRoot: useAfterFree, linkTo: useAfterFree, linkFrom: useAfterFree, linked: useAfterFree, commit: useAfterFree };
  freed.free();
  expect(calls()).toEqual(everyCall); // the block is free
  const taker = pm.allocate(64);
  expect(offsetOfAllocation(taker)).toBe(at);
  expect(calls()).toEqual(everyCall); // the block holds another allocation
  expect(pm.roots()).toEqual(["head"]);
  expect(pm.linked(head, 0)).toBeUndefined();
});
