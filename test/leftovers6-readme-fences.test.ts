// test/readme.test.ts runs every ```ts block of the README and type-checks it (test/types.test.ts);
// a block fenced as ```js, ```typescript or ```javascript would be neither, and could rot unseen.
// Every fence is ts (run), sh (commands, whose scripts and files readme.test.ts checks) or bare
// (printed output, a layout), and every bare block holds no import: code a reader would paste.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { README_PATH, readmeBlocks } from "./support/readme_blocks";

const readme = readFileSync(README_PATH, "utf8");
const fences = [...readme.matchAll(/^```(\S*)\n([\s\S]*?)^```$/gm)].map((match) => ({ language: match[1]!, body: match[2]! }));

test("every code block of the README is one readme.test.ts runs, a shell command, or output", () => {
  expect(fences.length).toBeGreaterThan(20);
  expect(fences.filter((fence) => !["ts", "sh", ""].includes(fence.language)).map((fence) => fence.language)).toEqual([]);
  expect(fences.filter((fence) => fence.language === "" && /^\s*(import|const|let|await) /m.test(fence.body)).map((fence) => fence.body.slice(0, 60))).toEqual([]);
  // readme.test.ts finds as many ts blocks as there are ts fences: none is skipped by its pattern.
  expect(readmeBlocks(readme).length).toBe(fences.filter((fence) => fence.language === "ts").length);
});
