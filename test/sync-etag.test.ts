// ETags and conditional requests (RFC 9110) as the contract's "Versions, safe retries and sync"
// asks: a strong ETag on every one-task answer, 304 for If-None-Match, 412 for an If-Match that
// names no current version (checked by the statement that writes, nothing written), 404/403 before
// 412, a list ETag that moves with any of the user's tasks, Cache-Control, CORS and OpenAPI.
import { describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import type { App } from "../src/app.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, send, testBinary, tokenFor, useTestApp } from "./helpers.ts";
import { unchanged } from "./tasks-helpers.ts";

const ctx = useTestApp({ corsOrigins: ["http://localhost:3000"] });
const STRONG = /^"\d+"$/;
const CHANGED = { detail: "Task has changed since it was read" };

async function created(token: string, fields: Record<string, unknown> = {}) {
  const answer = await send<Task>(ctx.app, {
    method: "POST",
    path: "/api/tasks",
    token,
    body: { title: "t", ...fields },
  });
  expect(answer.status).toBe(201);
  return { task: answer.body, etag: answer.headers.get("etag")! };
}

const writes = (id: string) =>
  [
    ["PUT", `/api/tasks/${id}`, { title: "put" }],
    ["PATCH", `/api/tasks/${id}`, { title: "patched" }],
    ["PATCH", `/api/tasks/${id}/complete`, undefined],
    ["DELETE", `/api/tasks/${id}`, undefined],
  ] as const;

describe(`ETags on one task (${driver})`, () => {
  test("every one-task answer has a strong ETag; it changes on every change and only then", async () => {
    const token = await tokenFor("tagger");
    const { task, etag } = await created(token);
    expect(etag).toMatch(STRONG);
    const read = await send(ctx.app, { path: `/api/tasks/${task.id}`, token });
    expect(read.headers.get("etag")).toBe(etag);
    expect((await send(ctx.app, { path: `/api/tasks/${task.id}`, token })).headers.get("etag")).toBe(etag);
    const seen = new Set([etag]);
    for (const [method, path, body] of writes(task.id).slice(0, 3)) {
      const answer = await send(ctx.app, { method, path, token, body });
      expect(answer.status).toBe(200);
      const next = answer.headers.get("etag")!;
      expect(next).toMatch(STRONG);
      expect(seen.has(next)).toBe(false);
      seen.add(next);
      expect((await send(ctx.app, { path: `/api/tasks/${task.id}`, token })).headers.get("etag")).toBe(next);
    }
    // A PATCH that writes no field changes nothing, so the ETag stays.
    const empty = await send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}`, token, body: {} });
    expect(seen.has(empty.headers.get("etag")!)).toBe(true);
    // Another task of the same user changing does not move this one's.
    const before = (await send(ctx.app, { path: `/api/tasks/${task.id}`, token })).headers.get("etag");
    await created(token);
    expect((await send(ctx.app, { path: `/api/tasks/${task.id}`, token })).headers.get("etag")).toBe(before);
  });

  test("GET with If-None-Match naming the current ETag (alone, in a list, weak, or *): 304 with the ETag, no body", async () => {
    const token = await tokenFor("revalidator");
    const { task, etag } = await created(token);
    for (const condition of [etag, `"999999", ${etag}`, `W/${etag}`, "*"]) {
      const answer = await send(ctx.app, {
        path: `/api/tasks/${task.id}`,
        token,
        headers: { "if-none-match": condition },
      });
      expect([condition, answer.status, answer.text]).toEqual([condition, 304, ""]);
      expect(answer.headers.get("etag")).toBe(etag);
    }
    const stale = await send<Task>(ctx.app, {
      path: `/api/tasks/${task.id}`,
      token,
      headers: { "if-none-match": '"999998", "999999"' },
    });
    expect([stale.status, stale.body]).toEqual([200, task]);
  });

  test.each([0, 1, 2, 3])("write #%i with a stale If-Match: 412, the current ETag, nothing written", async (which) => {
    const token = await tokenFor("stale-writer");
    const { task, etag } = await created(token);
    const renamed = await send(ctx.app, {
      method: "PATCH",
      path: `/api/tasks/${task.id}`,
      token,
      body: { title: "x" },
    });
    const current = renamed.headers.get("etag")!;
    const [method, path, body] = writes(task.id)[which]!;
    for (const condition of [etag, `W/${current}`, "abc", `"${current}`]) {
      const answer = await unchanged(ctx.db, () =>
        send(ctx.app, { method, path, token, body, headers: { "if-match": condition } }),
      );
      expect([condition, answer.status, answer.body]).toEqual([condition, 412, CHANGED]);
      expect(answer.headers.get("etag")).toBe(current);
    }
  });

  test.each([0, 1, 2, 3])(
    "write #%i with If-Match naming the current version (alone, in a list, or *) goes through",
    async (which) => {
      const token = await tokenFor("fresh-writer");
      for (const form of ["alone", "list", "star"] as const) {
        const { task, etag } = await created(token);
        const condition = form === "alone" ? etag : form === "list" ? `"123456789", ${etag}` : "*";
        const [method, path, body] = writes(task.id)[which]!;
        const answer = await send(ctx.app, { method, path, token, body, headers: { "if-match": condition } });
        expect([form, answer.status]).toEqual([form, method === "DELETE" ? 204 : 200]);
        if (method !== "DELETE") expect(answer.headers.get("etag")).not.toBe(etag);
        else expect((await send(ctx.app, { path: `/api/tasks/${task.id}`, token })).status).toBe(404);
      }
    },
  );

  test.each([0, 1, 2, 3])(
    "write #%i: If-Match compares strongly, character by character (a leading zero, W/, spaces inside)",
    async (which) => {
      const token = await tokenFor("strong-writer");
      const { task, etag } = await created(token);
      const version = etag.slice(1, -1);
      const [method, path, body] = writes(task.id)[which]!;
      for (const condition of [`"0${version}"`, `"00${version}"`, `W/${etag}`, `" ${version}"`, `"${version}.0"`]) {
        const answer = await unchanged(ctx.db, () =>
          send(ctx.app, { method, path, token, body, headers: { "if-match": condition } }),
        );
        expect([condition, answer.status, answer.body]).toEqual([condition, 412, CHANGED]);
        expect(answer.headers.get("etag")).toBe(etag);
      }
    },
  );

  test.each([0, 1, 2, 3])(
    "write #%i with If-None-Match: * to a task that exists: 412, the current ETag, nothing written",
    async (which) => {
      const token = await tokenFor("none-match-writer");
      const { task, etag } = await created(token);
      const [method, path, body] = writes(task.id)[which]!;
      const preconditions: Record<string, string>[] = [
        { "if-none-match": "*" },
        { "if-none-match": " * ", "if-match": etag },
      ];
      for (const headers of preconditions) {
        const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token, body, headers }));
        expect([headers, answer.status, answer.body]).toEqual([headers, 412, CHANGED]);
        expect(answer.headers.get("etag")).toBe(etag);
      }
      // Another user's task stays 403 and a missing one 404.
      const stranger = await tokenFor("none-match-stranger");
      const foreign = await send(ctx.app, { method, path, token: stranger, body, headers: { "if-none-match": "*" } });
      expect(foreign.status).toBe(403);
      const missingPath = path.replace(task.id, "6e38eb30-9039-4a7c-b64e-bca990ef7571");
      const missing = await send(ctx.app, {
        method,
        path: missingPath,
        token,
        body,
        headers: { "if-none-match": "*" },
      });
      expect(missing.status).toBe(404);
    },
  );

  test("404 and 403 come before 412, whatever If-Match says", async () => {
    const owner = await tokenFor("owner-412");
    const stranger = await tokenFor("stranger-412");
    await send(ctx.app, { path: "/api/tasks", token: stranger });
    const { task } = await created(owner);
    for (const [method, path, body] of writes(task.id)) {
      for (const condition of ['"999999"', "*"]) {
        const foreign = await unchanged(ctx.db, () =>
          send(ctx.app, { method, path, token: stranger, body, headers: { "if-match": condition } }),
        );
        expect([method, path, foreign.status, foreign.body]).toEqual([
          method,
          path,
          403,
          { detail: "Not authorized to access this task" },
        ]);
        const missingPath = path.replace(task.id, "6e38eb30-9039-4a7c-b64e-bca990ef7571");
        const missing = await unchanged(ctx.db, () =>
          send(ctx.app, { method, path: missingPath, token: owner, body, headers: { "if-match": condition } }),
        );
        expect([method, missing.status, missing.body]).toEqual([method, 404, { detail: "Task not found" }]);
      }
    }
  });

  test("two writes with the same If-Match at once: one goes through, the other gets 412", async () => {
    const token = await tokenFor("racing-editors");
    for (let i = 0; i < 10; i++) {
      const { task, etag } = await created(token);
      const answers = await Promise.all(
        ["phone", "laptop"].map((title) =>
          send<Task>(ctx.app, {
            method: "PATCH",
            path: `/api/tasks/${task.id}`,
            token,
            body: { title },
            headers: { "if-match": etag },
          }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412]);
      const winner = answers.find((answer) => answer.status === 200)!;
      const loser = answers.find((answer) => answer.status === 412)!;
      expect(loser.headers.get("etag")).toBe(winner.headers.get("etag"));
      expect((await send<Task>(ctx.app, { path: `/api/tasks/${task.id}`, token })).body.title).toBe(winner.body.title);
    }
  });

  test("the hackathon shape keeps the same ETags and preconditions", async () => {
    const token = await tokenFor("shape-tags");
    const { task, etag } = await created(token);
    const read = await send(ctx.app, { path: `/api/shape-tags/tasks/${task.id}`, token });
    expect(read.headers.get("etag")).toBe(etag);
    const refused = await send(ctx.app, {
      method: "PATCH",
      path: `/api/shape-tags/tasks/${task.id}/complete`,
      token,
      headers: { "if-match": '"999999"' },
    });
    expect([refused.status, refused.body, refused.headers.get("etag")]).toEqual([412, CHANGED, etag]);
  });
});

describe(`the list's ETag (${driver})`, () => {
  test("a list has an ETag; If-None-Match with it is 304 until any of the user's tasks changes", async () => {
    const token = await tokenFor("lister");
    const { task } = await created(token, { completed: true });
    await created(token);
    const path = "/api/tasks?status=pending";
    const first = await send<Task[]>(ctx.app, { path, token });
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    expect((await send(ctx.app, { path, token })).headers.get("etag")).toBe(etag);
    const notModified = await send(ctx.app, { path, token, headers: { "if-none-match": etag } });
    expect([notModified.status, notModified.text, notModified.headers.get("etag")]).toEqual([304, "", etag]);
    // Another user's change leaves it; another query has its own.
    await created(await tokenFor("someone-else"));
    expect((await send(ctx.app, { path, token, headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await send(ctx.app, { path: "/api/tasks?status=all", token })).headers.get("etag")).not.toBe(etag);
    // A change to a task this page does not even show (a completed one) moves it.
    await send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}`, token, body: { title: "hidden" } });
    const after = await send<Task[]>(ctx.app, { path, token, headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(etag);
    expect(after.body).toEqual(first.body);
    // A delete moves it too.
    const again = after.headers.get("etag")!;
    await send(ctx.app, { method: "DELETE", path: `/api/tasks/${task.id}`, token });
    expect((await send(ctx.app, { path, token, headers: { "if-none-match": again } })).status).toBe(200);
  });

  test("an empty list has an ETag too, which the first task moves", async () => {
    const token = await tokenFor("empty-lister");
    const first = await send(ctx.app, { path: "/api/tasks", token });
    const etag = first.headers.get("etag")!;
    expect([first.status, first.body, first.headers.get("x-total-count")]).toEqual([200, [], "0"]);
    expect((await send(ctx.app, { path: "/api/tasks", token, headers: { "if-none-match": etag } })).status).toBe(304);
    await created(token);
    expect((await send(ctx.app, { path: "/api/tasks", token, headers: { "if-none-match": etag } })).status).toBe(200);
  });
});

describe(`caching and cross-origin headers (${driver})`, () => {
  test("/api answers say Cache-Control: private, no-cache, 304s and errors included", async () => {
    const token = await tokenFor("cacher");
    const { task, etag } = await created(token);
    for (const [path, headers] of [
      ["/api/tasks", {}],
      [`/api/tasks/${task.id}`, {}],
      [`/api/tasks/${task.id}`, { "if-none-match": etag }],
      ["/api/tasks/changes", {}],
      ["/api/tasks/6e38eb30-9039-4a7c-b64e-bca990ef7571", {}],
    ] as const) {
      const answer = await send(ctx.app, { path, token, headers });
      expect([path, answer.status, answer.headers.get("cache-control")]).toEqual([
        path,
        answer.status,
        "private, no-cache",
      ]);
    }
  });

  test("CORS allows the sync request headers and exposes the sync answer headers", async () => {
    const preflight = await send(ctx.app, {
      method: "OPTIONS",
      path: "/api/tasks/6e38eb30-9039-4a7c-b64e-bca990ef7571",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "PATCH",
        "access-control-request-headers": "authorization, if-match, idempotency-key",
      },
    });
    const allowed = preflight.headers.get("access-control-allow-headers")!.toLowerCase().split(/,\s*/);
    for (const header of [
      "authorization",
      "content-type",
      "if-match",
      "if-none-match",
      "idempotency-key",
      "last-event-id",
      "x-request-id",
    ])
      expect(allowed).toContain(header);
    const token = await tokenFor("cors-sync");
    const answer = await send(ctx.app, { path: "/api/tasks", token, headers: { origin: "http://localhost:3000" } });
    const exposed = answer.headers.get("access-control-expose-headers")!.toLowerCase().split(/,\s*/);
    for (const header of ["x-total-count", "location", "etag", "x-request-id", "retry-after", "idempotent-replayed"])
      expect(exposed).toContain(header);
  });
});

describe(`OpenAPI: the sync parts (${driver})`, () => {
  interface Operation {
    parameters?: { name: string; in: string }[];
    responses: Record<string, { headers?: Record<string, unknown> }>;
  }
  const operation = async (path: string, method: string) => {
    const doc = (await send<{ paths: Record<string, Record<string, Operation>> }>(ctx.app, { path: "/docs/json" }))
      .body;
    return doc.paths[path]![method]!;
  };
  const headerParameters = (op: Operation) =>
    (op.parameters ?? [])
      .filter((parameter) => parameter.in === "header")
      .map((parameter) => parameter.name.toLowerCase());

  test.each(["/api", "/api/{user_id}"])("%s/tasks/changes: since, limit, 200, 400, 410", async (prefix) => {
    const op = await operation(`${prefix}/tasks/changes`, "get");
    expect(
      (op.parameters ?? [])
        .filter((p) => p.in === "query")
        .map((p) => p.name)
        .sort(),
    ).toEqual(["limit", "since"]);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "410"]));
  });

  test("request headers: If-None-Match on reads, If-Match, If-None-Match and Idempotency-Key on writes", async () => {
    expect(headerParameters(await operation("/api/tasks", "get"))).toEqual(["if-none-match"]);
    expect(headerParameters(await operation("/api/tasks/{id}", "get"))).toEqual(["if-none-match"]);
    expect(headerParameters(await operation("/api/tasks", "post"))).toEqual(["idempotency-key"]);
    for (const [path, method] of [
      ["/api/tasks/{id}", "put"],
      ["/api/tasks/{id}", "patch"],
      ["/api/tasks/{id}", "delete"],
      ["/api/tasks/{id}/complete", "patch"],
    ])
      expect(headerParameters(await operation(path!, method!)).sort()).toEqual([
        "idempotency-key",
        "if-match",
        "if-none-match",
      ]);
  });

  test("answer headers: ETag on task answers, 304 and 412; Idempotent-Replayed on writes", async () => {
    const get = await operation("/api/tasks/{id}", "get");
    expect(Object.keys(get.responses["200"]!.headers!)).toContain("etag");
    expect(Object.keys(get.responses["304"]!.headers!)).toEqual(["etag"]);
    const patch = await operation("/api/tasks/{id}", "patch");
    expect(Object.keys(patch.responses["200"]!.headers!).sort()).toEqual(["etag", "idempotent-replayed"]);
    expect(Object.keys(patch.responses["412"]!.headers!)).toEqual(["etag"]);
    const post = await operation("/api/tasks", "post");
    expect(Object.keys(post.responses["201"]!.headers!).sort()).toEqual(["etag", "idempotent-replayed", "location"]);
  });
});

// The README's example: a Next.js client edits with If-Match and meets a conflict, through Eden.
test.skipIf(!!testBinary)(
  `Eden: If-Match, 412 and the current ETag (${driver}; skipped against the binary: treaty needs the app object)`,
  async () => {
    const token = await tokenFor("eden-editor");
    // The token through onRequest, not `headers`: with default headers in its config, Eden 1.4.9
    // types a route's own optional headers (If-Match here) as never.
    const api = treaty(ctx.app as App, {
      parseDate: false,
      onRequest: () => ({ headers: { authorization: `Bearer ${token}` } }),
    });
    const created = await api.api.tasks.post({ title: "Write the report" });
    const etag = (created.headers as Headers).get("etag")!;
    const id = created.data!.id;
    // The other device renames it first.
    await api.api.tasks({ id }).patch({ title: "Write the Q4 report" });
    const { data, error, headers } = await api.api
      .tasks({ id })
      .patch({ priority: "high" }, { headers: { "if-match": etag } });
    expect(data).toBeNull();
    expect(error!.status).toBe(412);
    expect(error!.value).toEqual(CHANGED);
    const current = (headers as Headers).get("etag")!;
    expect(current).not.toBe(etag);
    // Read again, merge, write over the version just read.
    const fresh = await api.api.tasks({ id }).get();
    expect((fresh.headers as Headers).get("etag")).toBe(current);
    const retried = await api.api.tasks({ id }).patch({ priority: "high" }, { headers: { "if-match": current } });
    expect(retried.data).toMatchObject({ title: "Write the Q4 report", priority: "high" });
  },
);
