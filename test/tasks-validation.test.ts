// Every field rule of the contract at and just past its bounds, on create and on both update
// methods, plus bodies and query strings that are not what the routes take. Each refused request
// answers 400 naming the field, and the database is the same afterwards.
import { beforeAll, describe, expect, test } from "bun:test";
import type { Task } from "../src/modules/tasks/model.ts";
import { DESCRIPTION_MAX } from "../src/rules.ts";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";
import { createTask, unchanged } from "./tasks-helpers.ts";

const ctx = useTestApp();
let token: string;
let task: Task;

beforeAll(async () => {
  token = await tokenFor("valerie");
  task = await createTask(ctx.app, token, {
    title: "the original",
    description: "as it was",
    priority: "low",
    due_date: "2026-06-01",
  });
}, 60_000);

const TITLE = "must be 1 to 200 characters long after trimming whitespace";
const DESCRIPTION = "must be a string of at most 1000 characters, or null";
const PRIORITY = "must be one of low, medium, high, or null";
const DUE_DATE =
  "must be an ISO 8601 date-time with a time zone (2026-12-01T17:00:00Z) or a date (2026-12-01), or null";

/** Fields and what the API answers for them, on create (title added when absent) and on update. */
const accepted: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["a title of 1 character", { title: "x" }, { title: "x" }],
  ["a title of 200 characters", { title: "t".repeat(200) }, { title: "t".repeat(200) }],
  ["a title of 200 characters inside whitespace", { title: ` \t${"t".repeat(200)}\n ` }, { title: "t".repeat(200) }],
  ["a title of 100 two-unit emoji", { title: "😀".repeat(100) }, { title: "😀".repeat(100) }],
  ["a description of 1000 characters", { description: "d".repeat(1000) }, { description: "d".repeat(1000) }],
  ["an empty description", { description: "" }, { description: "" }],
  ["a null description", { description: null }, { description: null }],
  ["priority low", { priority: "low" }, { priority: "low" }],
  ["priority medium", { priority: "medium" }, { priority: "medium" }],
  ["priority high", { priority: "high" }, { priority: "high" }],
  ["a null priority", { priority: null }, { priority: null }],
  ["a plain date (midnight UTC)", { due_date: "2026-12-01" }, { due_date: "2026-12-01T00:00:00.000Z" }],
  ["a date-time in UTC", { due_date: "2026-12-01T17:00:00Z" }, { due_date: "2026-12-01T17:00:00.000Z" }],
  ["a date-time with milliseconds", { due_date: "2026-12-01T17:00:00.123Z" }, { due_date: "2026-12-01T17:00:00.123Z" }],
  ["a date-time with an offset", { due_date: "2026-12-01T17:00:00.5+02:00" }, { due_date: "2026-12-01T15:00:00.500Z" }],
  [
    "a date-time with a negative offset",
    { due_date: "2026-12-31T23:30:00-01:00" },
    { due_date: "2027-01-01T00:30:00.000Z" },
  ],
  ["a date-time without seconds", { due_date: "2026-12-01T17:05Z" }, { due_date: "2026-12-01T17:05:00.000Z" }],
  ["Feb 29 of a leap year", { due_date: "2028-02-29" }, { due_date: "2028-02-29T00:00:00.000Z" }],
  ["Feb 29 of 2000", { due_date: "2000-02-29" }, { due_date: "2000-02-29T00:00:00.000Z" }],
  ["the first day of year 1000", { due_date: "1000-01-01" }, { due_date: "1000-01-01T00:00:00.000Z" }],
  [
    "extra fraction digits, cut to milliseconds",
    { due_date: "2026-12-01T17:00:00.123999Z" },
    { due_date: "2026-12-01T17:00:00.123Z" },
  ],
  ["the last instant of year 9999", { due_date: "9999-12-31T23:59:59.999Z" }, { due_date: "9999-12-31T23:59:59.999Z" }],
  ["a null due date", { due_date: null }, { due_date: null }],
  ["completed true", { completed: true }, { completed: true }],
  ["completed false", { completed: false }, { completed: false }],
];

const refused: [string, Record<string, unknown>, string, string][] = [
  ["a title of 201 characters", { title: "t".repeat(201) }, "title", TITLE],
  ["a title of 201 characters inside whitespace", { title: `  ${"t".repeat(201)}  ` }, "title", TITLE],
  ["an empty title", { title: "" }, "title", TITLE],
  ["a title of spaces", { title: "   " }, "title", TITLE],
  ["a title of tabs and newlines", { title: "\t\n\r " }, "title", TITLE],
  ["a title of no-break spaces", { title: "\u00a0\u3000" }, "title", TITLE],
  ["a null title", { title: null }, "title", TITLE],
  ["a numeric title", { title: 42 }, "title", TITLE],
  ["an array title", { title: ["a"] }, "title", TITLE],
  ["a description of 1001 characters", { description: "d".repeat(1001) }, "description", DESCRIPTION],
  ["a numeric description", { description: 7 }, "description", DESCRIPTION],
  ["an object description", { description: { text: "x" } }, "description", DESCRIPTION],
  ["priority urgent", { priority: "urgent" }, "priority", PRIORITY],
  ["priority HIGH", { priority: "HIGH" }, "priority", PRIORITY],
  ["an empty priority", { priority: "" }, "priority", PRIORITY],
  ["a numeric priority", { priority: 3 }, "priority", PRIORITY],
  ["Feb 30", { due_date: "2026-02-30" }, "due_date", DUE_DATE],
  ["Feb 29 of a common year", { due_date: "2026-02-29" }, "due_date", DUE_DATE],
  ["Feb 29 of 1900", { due_date: "1900-02-29" }, "due_date", DUE_DATE],
  ["April 31", { due_date: "2026-04-31T10:00:00Z" }, "due_date", DUE_DATE],
  ["month 13", { due_date: "2026-13-01" }, "due_date", DUE_DATE],
  ["month 0", { due_date: "2026-00-10" }, "due_date", DUE_DATE],
  ["day 0", { due_date: "2026-01-00" }, "due_date", DUE_DATE],
  ["hour 24", { due_date: "2026-12-01T24:00:00Z" }, "due_date", DUE_DATE],
  ["minute 60", { due_date: "2026-12-01T10:60:00Z" }, "due_date", DUE_DATE],
  ["a leap second", { due_date: "2026-12-31T23:59:60Z" }, "due_date", DUE_DATE],
  ["an offset of 24 hours", { due_date: "2026-12-01T10:00:00+24:00" }, "due_date", DUE_DATE],
  ["a date-time without a time zone", { due_date: "2026-12-01T17:00:00" }, "due_date", DUE_DATE],
  ["a space instead of T", { due_date: "2026-12-01 17:00:00Z" }, "due_date", DUE_DATE],
  ["year 1", { due_date: "0001-01-01" }, "due_date", DUE_DATE],
  ["year 999", { due_date: "0999-12-31" }, "due_date", DUE_DATE],
  ["a date-time before year 1000", { due_date: "1000-01-01T00:30:00+01:00" }, "due_date", DUE_DATE],
  ["a five-digit year", { due_date: "10000-01-01" }, "due_date", DUE_DATE],
  ["a US date", { due_date: "12/01/2026" }, "due_date", DUE_DATE],
  ["a date in words", { due_date: "tomorrow" }, "due_date", DUE_DATE],
  ["an empty due date", { due_date: "" }, "due_date", DUE_DATE],
  ["a timestamp number", { due_date: 1_764_608_400_000 }, "due_date", DUE_DATE],
  ["completed as a string", { completed: "true" }, "completed", "must be true or false"],
  ["completed as a number", { completed: 1 }, "completed", "must be true or false"],
  ["completed null", { completed: null }, "completed", "must be true or false"],
];

describe(`create: every field rule (${driver})`, () => {
  test.each(accepted)("%s is stored", async (_, fields, expected) => {
    const answer = await send<Task>(ctx.app, {
      method: "POST",
      path: "/api/tasks",
      token,
      body: { title: "t", ...fields },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject(expected);
    const stored = await send<Task>(ctx.app, { path: `/api/tasks/${answer.body.id}`, token });
    expect(stored.body).toMatchObject(expected);
  });

  test.each(refused)("%s is a 400 naming the field, nothing stored", async (_, fields, field, message) => {
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { title: "t", ...fields } }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ detail: "Invalid request body", errors: [{ field, message }] });
  });

  test("a missing title is a 400: title is required", async () => {
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method: "POST", path: "/api/tasks", token, body: { description: "no title" } }),
    );
    expect(answer).toMatchObject({
      status: 400,
      body: { detail: "Invalid request body", errors: [{ field: "title", message: "is required" }] },
    });
  });

  test("every bad field is named at once", async () => {
    const body = {
      title: " ",
      description: "d".repeat(1001),
      completed: "no",
      priority: "urgent",
      due_date: "2026-02-30",
    };
    const answer = await unchanged(ctx.db, () =>
      send<{ errors: { field: string }[] }>(ctx.app, { method: "POST", path: "/api/tasks", token, body }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.errors.map((error) => error.field).sort()).toEqual([
      "completed",
      "description",
      "due_date",
      "priority",
      "title",
    ]);
  });
});

describe.each(["PUT", "PATCH"])(`%s: every field rule (${driver})`, (method) => {
  test.each(accepted)("%s is stored", async (_, fields, expected) => {
    const target = await createTask(ctx.app, token, { title: "target" });
    const answer = await send<Task>(ctx.app, { method, path: `/api/tasks/${target.id}`, token, body: fields });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject(expected);
  });

  test.each(refused)("%s is a 400 naming the field, the task unchanged", async (_, fields, field, message) => {
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method, path: `/api/tasks/${task.id}`, token, body: fields }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ detail: "Invalid request body", errors: [{ field, message }] });
  });

  test("one bad field refuses the whole update", async () => {
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method, path: `/api/tasks/${task.id}`, token, body: { title: "fine", priority: "urgent" } }),
    );
    expect(answer.status).toBe(400);
    expect((await send<Task>(ctx.app, { path: `/api/tasks/${task.id}`, token })).body).toEqual(task);
  });
});

describe(`PATCH .../complete: the body (${driver})`, () => {
  test.each([
    ["a string", { completed: "yes" }],
    ["a number", { completed: 0 }],
    ["null", { completed: null }],
  ])("completed as %s is a 400, the task unchanged", async (_, body) => {
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method: "PATCH", path: `/api/tasks/${task.id}/complete`, token, body }),
    );
    expect(answer).toMatchObject({
      status: 400,
      body: { errors: [{ field: "completed", message: "must be true or false" }] },
    });
  });
});

// Bodies that are not a JSON object, on every route that takes one.
const bodyRoutes = () =>
  [
    ["POST", "/api/tasks"],
    ["PUT", `/api/tasks/${task.id}`],
    ["PATCH", `/api/tasks/${task.id}`],
    ["PATCH", `/api/tasks/${task.id}/complete`],
  ] as const;

describe(`bodies that are not JSON objects (${driver})`, () => {
  test.each([
    ["malformed JSON", "{not json", "Request body is not valid JSON"],
    ["truncated JSON", '{"title": "x"', "Request body is not valid JSON"],
    ["a JSON array", '[{"title": "x"}]', "Request body must be a JSON object"],
    ["a JSON string", '"title"', "Request body must be a JSON object"],
    ["a JSON number", "42", "Request body must be a JSON object"],
    ["JSON null", "null", "Request body must be a JSON object"],
  ])("%s is a 400 on every route with a body", async (_, body, detail) => {
    for (const [method, path] of bodyRoutes()) {
      const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token, body }));
      expect([method, path, answer.status, answer.body]).toEqual([method, path, 400, { detail }]);
    }
  });

  test.each(["POST", "PUT", "PATCH"])("%s without a body is a 400", async (method) => {
    const path = method === "POST" ? "/api/tasks" : `/api/tasks/${task.id}`;
    const answer = await unchanged(ctx.db, () => send(ctx.app, { method, path, token }));
    expect(answer.status).toBe(400);
  });

  test("JSON is read whatever the Content-Type says (curl -d sends form encoding)", async () => {
    const answer = await send<Task>(ctx.app, {
      method: "POST",
      path: "/api/tasks",
      token,
      body: '{"title":"from curl"}',
      headers: {
        "content-type": "application/x-www-form-urlencoded",
      },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.title).toBe("from curl");
  });

  test("a body over 64 KiB is a 413", async () => {
    const body = JSON.stringify({ title: "big", description: "d".repeat(70_000) });
    // A Request built in-process carries no Content-Length of its own; a client's would.
    const headers = { "content-length": String(body.length) };
    const answer = await unchanged(ctx.db, () =>
      send(ctx.app, { method: "POST", path: "/api/tasks", token, body, headers }),
    );
    expect(answer.status).toBe(413);
  });
});

describe(`list query parameters (${driver})`, () => {
  test.each([
    ["status=done", "status", "must be one of all, pending, completed"],
    ["status=", "status", "must be one of all, pending, completed"],
    ["status=PENDING", "status", "must be one of all, pending, completed"],
    ["sort=name", "sort", "must be one of created, updated, title, due_date, priority"],
    ["sort=created_at", "sort", "must be one of created, updated, title, due_date, priority"],
    ["order=up", "order", "must be one of asc, desc"],
    ["priority=urgent", "priority", "must be one of low, medium, high"],
    ["limit=0", "limit", "must be an integer from 1 to 500"],
    ["limit=501", "limit", "must be an integer from 1 to 500"],
    ["limit=-1", "limit", "must be an integer from 1 to 500"],
    ["limit=1.5", "limit", "must be an integer from 1 to 500"],
    ["limit=1e2", "limit", "must be an integer from 1 to 500"],
    ["limit=ten", "limit", "must be an integer from 1 to 500"],
    ["limit=", "limit", "must be an integer from 1 to 500"],
    ["offset=-1", "offset", "must be an integer from 0 to 9007199254740991"],
    ["offset=0.5", "offset", "must be an integer from 0 to 9007199254740991"],
    ["offset=9007199254740992", "offset", "must be an integer from 0 to 9007199254740991"],
    ["offset=x", "offset", "must be an integer from 0 to 9007199254740991"],
  ])("?%s is a 400 naming the parameter", async (query, field, message) => {
    const answer = await send(ctx.app, { path: `/api/tasks?${query}`, token });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ detail: "Invalid query parameter", errors: [{ field, message }] });
  });

  test(`q longer than ${DESCRIPTION_MAX} characters, the longest text a task holds, is a 400; that long is a 200`, async () => {
    for (const unit of ["a", "é", "😀"]) {
      // Lengths count UTF-16 code units, as for the task's own text: the emoji is two.
      const over = unit.repeat(Math.floor(DESCRIPTION_MAX / unit.length) + 1);
      const answer = await send(ctx.app, { path: `/api/tasks?q=${encodeURIComponent(over)}`, token });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        detail: "Invalid query parameter",
        errors: [{ field: "q", message: `must be a string of at most ${DESCRIPTION_MAX} characters` }],
      });
      const most = unit.repeat(Math.floor(DESCRIPTION_MAX / unit.length));
      expect((await send(ctx.app, { path: `/api/tasks?q=${encodeURIComponent(most)}`, token })).status).toBe(200);
    }
  });

  test("every bad parameter is named at once", async () => {
    const answer = await send<{ errors: { field: string }[] }>(ctx.app, {
      path: "/api/tasks?status=x&sort=y&order=z&priority=w&limit=0&offset=-1",
      token,
    });
    expect(answer.body.errors.map((error) => error.field).sort()).toEqual([
      "limit",
      "offset",
      "order",
      "priority",
      "sort",
      "status",
    ]);
  });

  test.each([
    "limit=1",
    "limit=500",
    "offset=0",
    "offset=9007199254740991",
    "limit=007",
    "q=",
    "status=all&sort=created&order=desc",
  ])("?%s is accepted", async (query) => {
    expect((await send(ctx.app, { path: `/api/tasks?${query}`, token })).status).toBe(200);
  });
});
