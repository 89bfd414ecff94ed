/**
 * A V8 CPU profile of one Worker, taken through workerd's inspector (the Chrome DevTools protocol,
 * `ws://<inspector>/core:user:<worker>`), summed per function: self time (the function's own code,
 * and the runtime API calls it makes, which V8 charges to the calling frame) and total time (with
 * everything it called).
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  /** `name (module:line)`. */
  readonly name: string;
  /** Microseconds in the function itself. */
  readonly self: number;
  /** Microseconds in it and everything it called (recursion counted once). */
  readonly total: number;
}

export class Inspector {
  readonly #socket: WebSocket;
  #nextId = 0;
  readonly #waiting = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.#waiting.get(message.id)?.(message);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot open the inspector at ${url}`)), {
        once: true,
      });
    });
    return new Inspector(socket);
  }

  async send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#nextId;
    const answer = new Promise<{ result?: unknown; error?: unknown }>((resolve) =>
      this.#waiting.set(id, resolve),
    );
    this.#socket.send(JSON.stringify({ id, method, params }));
    const message = await answer;
    this.#waiting.delete(id);
    if (message.error !== undefined) throw new Error(`${method}: ${JSON.stringify(message.error)}`);
    return message.result as T;
  }

  /** Profiles while `work` runs; sampling every `intervalMicros`. */
  async profile(work: () => Promise<void>, intervalMicros = 50): Promise<FunctionTime[]> {
    await this.send("Profiler.enable");
    await this.send("Profiler.setSamplingInterval", { interval: intervalMicros });
    await this.send("Profiler.start");
    await work();
    const { profile } = await this.send<{ profile: Profile }>("Profiler.stop");
    await this.send("Profiler.disable");
    return summarize(profile);
  }

  close(): void {
    this.#socket.close();
  }
}

function summarize(profile: Profile): FunctionTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (frame: CallFrame) => {
    const module = frame.url.slice(frame.url.lastIndexOf("/") + 1);
    return `${frame.functionName || "(anonymous)"}${module ? ` (${module}:${frame.lineNumber + 1})` : ""}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const leaf = byId.get(id);
    if (leaf === undefined) return;
    self.set(label(leaf.callFrame), (self.get(label(leaf.callFrame)) ?? 0) + delta);
    const seen = new Set<string>();
    for (let node: ProfileNode | undefined = leaf; node; node = byId.get(parent.get(node.id) ?? -1)) {
      const name = label(node.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + delta);
    }
  });
  return [...total].map(([name, t]) => ({ name, self: self.get(name) ?? 0, total: t }));
}
