// The board's data, kept so that it works without a network: the last copy of the user's tasks in
// IndexedDB (with each task's ETag when known) and an outbox of the changes made since, which the
// board shows applied at once. The outbox drains in order when the API can be reached: each change
// carries its own Idempotency-Key (a retry after a lost answer or a 503 is safe) and the If-Match of
// the version it was made on (a 412 becomes a conflict the person resolves). The copy catches up
// through the change feed, pulled when a live event arrives. Tabs of one browser share the database;
// a Web Lock lets one of them drain at a time, and a BroadcastChannel tells the others to redraw.
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { Api, Task, TaskChanges } from "../api.ts";
import { detailOf } from "../api.ts";
import { forgetApiToken } from "../token.ts";

export type TaskCreateBody = Parameters<Api["api"]["tasks"]["post"]>[0];

/** The If-Match to send: an ETag seen, "previous" (the version our own earlier change makes), or none known. */
type IfMatch = string | "previous" | null;

interface OpBase {
  seq?: number;
  /** The task's id; for a task created offline, a local id until its create reaches the API. */
  id: string;
  /** Idempotency-Key: the same on every retry of this change. */
  key: string;
  at: string;
  /** Sent at least once: from then on its request (and key) must not change. */
  attempted?: boolean;
}
export type Op = OpBase &
  (
    | { kind: "create"; body: TaskCreateBody }
    | { kind: "edit"; changes: TaskChanges; ifMatch: IfMatch }
    | { kind: "toggle"; completed: boolean; ifMatch: IfMatch }
    | { kind: "delete"; ifMatch: IfMatch }
  );
export type NewOp = Op extends infer O ? (O extends Op ? Omit<O, "seq" | "key" | "at"> : never) : never;

export interface Conflict {
  seq?: number;
  /** The person's changes that the API refused, to apply again on the current version. */
  ops: Op[];
  /** The task as it is now on the API; null when it was deleted there. */
  current: Task | null;
}

interface Stored {
  task: Task;
  etag: string | null;
}

interface Schema extends DBSchema {
  tasks: { key: string; value: Stored };
  outbox: { key: number; value: Op };
  conflicts: { key: number; value: Conflict };
  meta: { key: string; value: string };
}

export interface ShownTask {
  task: Task;
  /** A change to it waits in the outbox. */
  pending: boolean;
  etag: string | null;
}

export interface Snapshot {
  tasks: ShownTask[];
  conflicts: Conflict[];
  waiting: number;
  online: boolean;
  /** The copy has been read from IndexedDB (it may still be empty). */
  ready: boolean;
  problem?: string;
}

const FIRST_RETRY_MS = 500;
// Short: a failed attempt costs one refused connection, and an API back from a restart is used at once.
const LAST_RETRY_MS = 1_000;

/** A plain date from a date field is stored by the API as midnight UTC: show it as it will be. */
function asStored<T extends { due_date?: string | null }>(fields: T): T {
  const due = fields.due_date;
  return due && /^\d{4}-\d{2}-\d{2}$/.test(due) ? { ...fields, due_date: `${due}T00:00:00.000Z` } : fields;
}

function apply(tasks: Map<string, ShownTask>, op: Op, userId: string) {
  const shown = tasks.get(op.id);
  if (op.kind === "create") {
    const task: Task = {
      id: op.id,
      user_id: userId,
      title: op.body.title.trim(),
      description: op.body.description ?? null,
      completed: op.body.completed ?? false,
      priority: op.body.priority ?? null,
      created_at: op.at,
      updated_at: op.at,
      ...asStored({ due_date: op.body.due_date ?? null }),
    };
    tasks.set(op.id, { task, pending: true, etag: null });
  } else if (!shown) {
    return;
  } else if (op.kind === "delete") {
    tasks.delete(op.id);
  } else {
    const changes = op.kind === "edit" ? asStored(op.changes ?? {}) : { completed: op.completed };
    tasks.set(op.id, { ...shown, task: { ...shown.task, ...changes, updated_at: op.at }, pending: true });
  }
}

type Outcome =
  | { kind: "done"; task?: Task; etag?: string | null; gone?: boolean }
  | { kind: "retry" }
  | { kind: "conflict" }
  | { kind: "gone" }
  | { kind: "refused"; problem: string };

export class TaskSync {
  private readonly db: Promise<IDBPDatabase<Schema>>;
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Set<() => void>();
  private snapshot: Snapshot = { tasks: [], conflicts: [], waiting: 0, online: true, ready: false };
  private retryMs = FIRST_RETRY_MS;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private pulling?: Promise<void>;
  private pullAgain = false;
  /** This tab holds the outbox lock: pulls wait for the drain's end, which pulls anyway. */
  private draining = false;
  private drainWanted = false;
  private learning = false;
  private closed = false;

  constructor(
    private readonly userId: string,
    private readonly api: Api,
  ) {
    // One database per user: a second account in this browser never sees the first one's copy.
    this.db = openDB<Schema>(`todo-${userId}`, 1, {
      upgrade(db) {
        db.createObjectStore("tasks", { keyPath: "task.id" });
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        db.createObjectStore("conflicts", { keyPath: "seq", autoIncrement: true });
        db.createObjectStore("meta");
      },
    });
    this.channel = new BroadcastChannel(`todo-sync-${userId}`);
    this.channel.onmessage = () => {
      void this.refresh();
      this.drain();
    };
    this.snapshot.online = navigator.onLine;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    void this.refresh().then(() => this.drain());
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.channel.close();
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    void this.db.then((db) => db.close());
  }

  private onOnline = () => {
    this.retryMs = FIRST_RETRY_MS;
    this.set({ online: true });
    this.drain();
  };

  private onOffline = () => this.set({ online: false });

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = () => this.snapshot;

  private set(changes: Partial<Snapshot>) {
    this.snapshot = { ...this.snapshot, ...changes };
    for (const listener of this.listeners) listener();
  }

  /** Redraws from IndexedDB: the copy with the outbox applied on top, in order. */
  async refresh() {
    const db = await this.db;
    const tx = db.transaction(["tasks", "outbox", "conflicts"]);
    const [stored, ops, conflicts] = await Promise.all([
      tx.objectStore("tasks").getAll(),
      tx.objectStore("outbox").getAll(),
      tx.objectStore("conflicts").getAll(),
    ]);
    const tasks = new Map<string, ShownTask>(stored.map((s) => [s.task.id, { ...s, pending: false }]));
    for (const op of ops) apply(tasks, op, this.userId);
    this.set({ tasks: [...tasks.values()], conflicts, waiting: ops.length, ready: true });
  }

  private changed() {
    this.channel.postMessage("changed");
    return this.refresh();
  }

  /**
   * Records a change: shown at once, sent when the API can be reached. A change to a task whose
   * create has not been sent yet is folded into that create (a delete cancels it): the API sees
   * one request, or none, for a task made and changed offline.
   */
  async enqueue(change: NewOp) {
    const db = await this.db;
    const at = new Date().toISOString();
    const tx = db.transaction("outbox", "readwrite");
    const ops = await tx.store.getAll();
    const create = ops.find((o) => o.kind === "create" && o.id === change.id && !o.attempted);
    if (create?.kind === "create" && change.kind !== "create") {
      if (change.kind === "delete") {
        for (const o of ops) if (o.id === change.id) await tx.store.delete(o.seq!);
      } else {
        const fields = change.kind === "edit" ? change.changes : { completed: change.completed };
        await tx.store.put({ ...create, body: { ...create.body, ...fields } as TaskCreateBody });
      }
    } else await tx.store.add({ ...change, key: crypto.randomUUID(), at } as Op);
    await tx.done;
    await this.changed();
    this.drain();
  }

  /** The If-Match for a change to `id` made now: the version shown, which may be one of our own pending ones. */
  ifMatchFor(id: string): IfMatch {
    const shown = this.snapshot.tasks.find((t) => t.task.id === id);
    if (!shown) return null;
    return shown.pending ? "previous" : shown.etag;
  }

  /**
   * Sends the outbox in order, unless another tab of this browser is doing it already (that tab
   * hears of the new change through the channel). Changes queued while this tab drains are picked
   * up by the running loop; the copy catches up once the outbox is empty.
   */
  drain() {
    if (this.closed) return;
    this.drainWanted = true;
    clearTimeout(this.retryTimer);
    if (this.draining) return;
    void navigator.locks
      .request(`todo-outbox-${this.userId}`, { ifAvailable: true }, async (lock) => {
        if (!lock) return false;
        this.draining = true;
        let finished = true;
        try {
          while (this.drainWanted && finished) {
            this.drainWanted = false;
            finished = await this.drainHoldingLock();
          }
        } finally {
          this.draining = false;
        }
        if (!finished && !this.closed) {
          this.retryTimer = setTimeout(() => this.drain(), this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
        }
        return finished;
      })
      .then((finished) => {
        if (!finished) return;
        this.retryMs = FIRST_RETRY_MS;
        void this.pull();
      });
  }

  /** True when the outbox is empty; false when the API could not be reached (try again later). */
  private async drainHoldingLock(): Promise<boolean> {
    const db = await this.db;
    for (;;) {
      if (this.closed) return false;
      // Taken and marked in one transaction: enqueue() folds changes only into creates not yet sent.
      const taking = db.transaction("outbox", "readwrite");
      const cursor = await taking.store.openCursor();
      const op = cursor?.value;
      if (cursor && op && !op.attempted) await cursor.update({ ...op, attempted: true });
      await taking.done;
      if (!op) return true;
      const outcome = await this.send(op);
      if (outcome.kind === "retry") return false;
      // Read before the transaction: an IndexedDB transaction ends at the first await on anything else.
      let current: Stored | null = null;
      if (outcome.kind === "conflict") {
        try {
          current = await this.read(op.id);
        } catch {
          return false;
        }
      }
      const tx = db.transaction(["tasks", "outbox", "conflicts"], "readwrite");
      const outbox = tx.objectStore("outbox");
      const later = (await outbox.getAll()).filter((o) => o.seq! > op.seq! && o.id === op.id);
      await outbox.delete(op.seq!);
      if (outcome.kind === "done") {
        if (outcome.task && !outcome.gone) {
          await tx.objectStore("tasks").put({ task: outcome.task, etag: outcome.etag ?? null });
          // A task created offline gets its real id: its later changes follow it.
          if (op.kind === "create") for (const o of later) await outbox.put({ ...o, id: outcome.task.id });
        } else await tx.objectStore("tasks").delete(op.id);
        this.set({ problem: undefined });
      } else if (outcome.kind === "conflict") {
        // This change and the later ones on the same task wait for the person's decision.
        for (const o of later) await outbox.delete(o.seq!);
        if (current) await tx.objectStore("tasks").put(current);
        else await tx.objectStore("tasks").delete(op.id);
        await tx.objectStore("conflicts").add({ ops: [op, ...later], current: current?.task ?? null });
      } else {
        for (const o of later) await outbox.delete(o.seq!);
        await tx.objectStore("tasks").delete(op.id);
        if (outcome.kind === "refused") this.set({ problem: outcome.problem });
      }
      await tx.done;
      await this.changed();
    }
  }

  private async read(id: string): Promise<Stored | null> {
    const { data, error, response } = await this.api.api.tasks({ id }).get();
    if (data) return { task: data, etag: response.headers.get("etag") };
    if (error?.status === 404) return null;
    throw new Error(`GET /api/tasks/${id}: ${error?.status}`);
  }

  private async send(op: Op): Promise<Outcome> {
    const headers: Record<string, string> = { "idempotency-key": op.key };
    if (op.kind !== "create") {
      const ifMatch = op.ifMatch === "previous" ? (await (await this.db).get("tasks", op.id))?.etag : op.ifMatch;
      if (ifMatch) headers["if-match"] = ifMatch;
    }
    let result: { data: unknown; error: { status: unknown; value: unknown } | null; response: Response | null };
    try {
      const task = this.api.api.tasks;
      if (op.kind === "create") result = await task.post(op.body, { headers });
      else if (op.kind === "edit") result = await task({ id: op.id }).patch(op.changes, { headers });
      else if (op.kind === "toggle")
        result = await task({ id: op.id }).complete.patch({ completed: op.completed }, { headers });
      else result = await task({ id: op.id }).delete(undefined, { headers });
    } catch {
      return { kind: "retry" }; // no token (offline, or signed out meanwhile) or no network
    }
    const status = result.response?.status ?? (result.error?.status as number);
    if (!result.error) {
      return op.kind === "delete"
        ? { kind: "done", gone: true }
        : { kind: "done", task: result.data as Task, etag: result.response?.headers.get("etag") ?? null };
    }
    if (status === 412) return { kind: "conflict" };
    if (status === 404) return op.kind === "delete" ? { kind: "done", gone: true } : { kind: "gone" };
    if (status === 401) forgetApiToken();
    // Unreachable (Eden reports a failed fetch as 503), overloaded, in progress elsewhere, or a
    // token to renew: the same request, with the same key, later.
    if ([401, 408, 409, 429].includes(status) || status >= 500) return { kind: "retry" };
    return { kind: "refused", problem: detailOf(result.error as { value: unknown }) };
  }

  /** Catches the copy up with the API through the change feed. */
  pull(): Promise<void> {
    if (this.draining) return Promise.resolve();
    if (this.pulling !== undefined) {
      this.pullAgain = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      do {
        this.pullAgain = false;
        await this.pullOnce().catch(() => {});
      } while (this.pullAgain && !this.closed);
    })().finally(() => {
      this.pulling = undefined;
    });
    return this.pulling;
  }

  private async pullOnce() {
    const db = await this.db;
    let since = await db.get("meta", "cursor");
    for (;;) {
      const { data, error } = await this.api.api.tasks.changes.get({ query: since ? { since } : {} });
      if (error) {
        if (error.status === 410 || error.status === 400) {
          await db.delete("meta", "cursor");
          since = undefined;
          continue;
        }
        return;
      }
      const tx = db.transaction(["tasks", "meta"], "readwrite");
      const tasks = tx.objectStore("tasks");
      // Without a cursor the answer is the whole list: what it lacks is gone.
      if (!since)
        for (const key of await tasks.getAllKeys()) if (!data.tasks.some((t) => t.id === key)) await tasks.delete(key);
      for (const task of data.tasks) {
        const known = await tasks.get(task.id);
        await tasks.put({ task, etag: known?.task.updated_at === task.updated_at ? known.etag : null });
      }
      for (const id of data.deleted) await tasks.delete(id);
      await tx.objectStore("meta").put(data.cursor, "cursor");
      await tx.done;
      since = data.cursor;
      if (!data.has_more) break;
    }
    await this.changed();
    // Not awaited: a pull asked for meanwhile (a live event) must not wait for these reads.
    void this.learnEtags();
  }

  /** The feed carries no ETags: read them for tasks without one, so changes made offline can carry If-Match. */
  private async learnEtags() {
    if (this.learning) return;
    this.learning = true;
    try {
      await this.readMissingEtags();
    } finally {
      this.learning = false;
    }
  }

  private async readMissingEtags() {
    const db = await this.db;
    const unknown = (await db.getAll("tasks")).filter((s) => s.etag === null);
    for (const stored of unknown.slice(0, 50)) {
      if (this.closed) return;
      const current = await this.read(stored.task.id).catch(() => null);
      if (current && current.task.updated_at === stored.task.updated_at) {
        const latest = await db.get("tasks", stored.task.id);
        if (latest?.task.updated_at === current.task.updated_at) await db.put("tasks", current);
      }
    }
  }

  /** The person's answer to a conflict: their changes again on the current version, or dropped. */
  async resolve(conflict: Conflict, keepMine: boolean) {
    const db = await this.db;
    await db.delete("conflicts", conflict.seq!);
    if (keepMine && conflict.current) {
      const etag = (await db.get("tasks", conflict.current.id))?.etag ?? null;
      let first = true;
      for (const op of conflict.ops) {
        if (op.kind === "create") continue;
        const { seq: _, key: __, at: ___, ...change } = op;
        await db.add("outbox", {
          ...change,
          id: conflict.current.id,
          ifMatch: first ? etag : "previous",
          key: crypto.randomUUID(),
          at: new Date().toISOString(),
        } as Op);
        first = false;
      }
    }
    await this.changed();
    this.drain();
  }
}
