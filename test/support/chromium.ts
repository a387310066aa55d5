// A headless Chromium for tests of pages the library renders: opens a file, evaluates expressions in
// it, moves the mouse, takes screenshots, all through the DevTools protocol (a WebSocket, no packages).
import { spawn, type Subprocess } from "bun";
import { inflateSync } from "node:zlib";

/** The browser's path, or undefined where none is installed (tests then skip, saying so). */
export const chromiumPath: string | undefined = Bun.which("chromium") ?? Bun.which("chromium-browser") ?? Bun.which("google-chrome") ?? undefined;
export const noChromium = "no chromium on this machine (Debian: apt-get install chromium; node .ci/setup.mjs installs it where it can)";

export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Opens `url` in a fresh headless browser (its own profile), `width` x `height` pixels. */
export async function openPage(url: string, width = 1200, height = 800): Promise<Page> {
  if (chromiumPath === undefined) throw new Error(noChromium);
  const profile = `/tmp/memory-pool-chromium-${process.pid}-${Date.now()}`;
  const browser: Subprocess<"ignore", "ignore", "pipe"> = spawn(
    [chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", `--user-data-dir=${profile}`, "--remote-debugging-port=0", `--window-size=${width},${height}`, "about:blank"],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
  );
  const endpoint = await devToolsEndpoint(browser);
  const port = new URL(endpoint).port;
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => t.type === "page")!;
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  const loaded: (() => void)[] = [];
  socket.onmessage = (message) => {
    const data = JSON.parse(String(message.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string };
    if (data.method === "Page.loadEventFired") loaded.splice(0).forEach((done) => done());
    if (data.id === undefined) return;
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error !== undefined) pending?.reject(new Error(data.error.message));
    else pending?.resolve(data.result ?? {});
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Page.enable");
  const load = new Promise<void>((resolve) => loaded.push(resolve));
  await send("Page.navigate", { url });
  await load;
  return {
    send,
    async evaluate<T>(expression: string): Promise<T> {
      const result = (await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })) as { result: { value: T }; exceptionDetails?: { text: string } };
      if (result.exceptionDetails !== undefined) throw new Error(`in the page: ${JSON.stringify(result.exceptionDetails)}`);
      return result.result.value;
    },
    async close() {
      socket.close();
      browser.kill();
      await browser.exited;
      await Bun.$`rm -rf ${profile}`.quiet().nothrow();
    },
  };
}

/** Chromium prints "DevTools listening on ws://..." on stderr once it is ready. */
async function devToolsEndpoint(browser: Subprocess<"ignore", "ignore", "pipe">): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of browser.stderr) {
    text += decoder.decode(chunk);
    const found = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (found !== null) return found[1]!;
  }
  throw new Error(`chromium ended before it listened:\n${text}`);
}

/** The distinct colours of a PNG (8-bit RGB or RGBA, not interlaced: what Chromium writes). */
export function pngColours(png: Uint8Array): number {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Uint8Array[] = [];
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colourType, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || interlace !== 0 || (colourType !== 2 && colourType !== 6)) throw new Error(`unexpected PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
      channels = colourType === 6 ? 4 : 3;
    }
    if (type === "IDAT") data.push(body);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let row = 0; row < height; row++) {
    const filter = raw[row * (stride + 1)]!;
    const line = raw.subarray(row * (stride + 1) + 1, (row + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[row * stride + i - channels]! : 0;
      const up = row > 0 ? pixels[(row - 1) * stride + i]! : 0;
      const upLeft = row > 0 && i >= channels ? pixels[(row - 1) * stride + i - channels]! : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter]!;
      pixels[row * stride + i] = (line[i]! + predictor) & 0xff;
    }
  }
  const colours = new Set<number>();
  for (let p = 0; p < width * height; p++) colours.add((pixels[p * channels]! << 16) | (pixels[p * channels + 1]! << 8) | pixels[p * channels + 2]!);
  return colours.size;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
