// The OpenAPI document at /docs/json describes every task route in both shapes: parameters, the
// JSON bodies, every success and error status, the bearer scheme and examples. It is built in
// process from the route schemas, so it needs no network.
import { beforeAll, describe, expect, test } from "bun:test";
import { driver, send, useTestApp } from "./helpers.ts";

interface Operation {
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  security?: unknown[];
  summary?: string;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
  security: unknown[];
}

const ctx = useTestApp();
let doc: Document;

beforeAll(async () => {
  const response = await send(ctx.app, { path: "/docs/json" });
  expect(response.status).toBe(200);
  doc = response.body as Document;
}, 60_000);

const operations = [
  ["get", "/tasks", 200],
  ["post", "/tasks", 201],
  ["get", "/tasks/{id}", 200],
  ["put", "/tasks/{id}", 200],
  ["patch", "/tasks/{id}", 200],
  ["delete", "/tasks/{id}", 204],
  ["patch", "/tasks/{id}/complete", 200],
] as const;
const shapes = ["/api", "/api/{user_id}"];
const every = shapes.flatMap((prefix) =>
  operations.map(([method, path, success]) => [method, `${prefix}${path}`, success] as const),
);

describe(`OpenAPI document (${driver})`, () => {
  test("lists exactly the task paths of both shapes, beside health", () => {
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/health",
        "/health/ready",
        ...shapes.flatMap((prefix) =>
          ["/tasks", "/tasks/changes", "/tasks/events", "/tasks/{id}", "/tasks/{id}/complete"].map((p) => prefix + p),
        ),
      ].sort(),
    );
    expect(doc.openapi).toMatch(/^3\./);
  });

  test.each(every)("%s %s: summary, success and every error status", (method, path, success) => {
    const operation = doc.paths[path]![method]!;
    expect(operation.summary).toBeString();
    const statuses = Object.keys(operation.responses).sort();
    const takesBody = ["post", "put", "patch"].includes(method);
    const errors = [
      "401",
      "403",
      "404",
      "503",
      ...(takesBody ? ["400", "413"] : method === "get" && !path.endsWith("}") ? ["400"] : []),
      // The sync statuses: If-Match (412) on writes to a task, Idempotency-Key (409, 422, 429) on writes.
      ...(method === "get" ? [] : method === "post" ? ["409", "422", "429"] : ["409", "412", "422", "429"]),
    ];
    // If-None-Match: 304 on reads.
    expect(statuses).toEqual([String(success), ...(method === "get" ? ["304"] : []), ...errors].sort());
    for (const status of errors)
      expect(operation.responses[status]!.content!["application/json"]!.schema).toMatchObject({ type: "object" });
  });

  test.each(every)("%s %s: path parameters", (method, path) => {
    const operation = doc.paths[path]![method]!;
    const inPath = (operation.parameters ?? [])
      .filter((parameter) => parameter.in === "path")
      .map((parameter) => parameter.name);
    expect(inPath.sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).sort());
  });

  test.each(shapes)("GET %s/tasks documents every query parameter", (prefix) => {
    const parameters = doc.paths[`${prefix}/tasks`]!.get!.parameters!.filter((parameter) => parameter.in === "query");
    expect(parameters.map((parameter) => parameter.name).sort()).toEqual([
      "limit",
      "offset",
      "order",
      "priority",
      "q",
      "sort",
      "status",
    ]);
    const byName = Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter]));
    expect(byName.status!.schema).toMatchObject({ enum: ["all", "pending", "completed"], default: "all" });
    expect(byName.sort!.schema).toMatchObject({
      enum: ["created", "updated", "title", "due_date", "priority"],
      default: "created",
    });
    expect(byName.order!.schema).toMatchObject({
      enum: ["asc", "desc"],
      description: expect.stringContaining("come last"),
    });
    expect(byName.limit!.schema).toMatchObject({ default: "100" });
    expect(parameters.every((parameter) => !parameter.required)).toBe(true);
  });

  test.each(shapes.flatMap((prefix) => [`${prefix}/tasks`, `${prefix}/tasks/{id}`]))(
    "%s: JSON request bodies with examples",
    (path) => {
      for (const [method, operation] of Object.entries(doc.paths[path]!)) {
        if (!["post", "put", "patch"].includes(method)) continue;
        const schema = operation.requestBody!.content["application/json"]!.schema;
        expect(Object.keys(schema.properties as object).sort()).toEqual([
          "completed",
          "description",
          "due_date",
          "priority",
          "title",
        ]);
        expect(schema.examples).toBeArray();
      }
    },
  );

  test("the task schema in answers has every field, with an example", () => {
    const schema = doc.paths["/api/tasks/{id}"]!.get!.responses["200"]!.content!["application/json"]!.schema;
    expect(Object.keys(schema.properties as object).sort()).toEqual([
      "completed",
      "created_at",
      "description",
      "due_date",
      "id",
      "priority",
      "title",
      "updated_at",
      "user_id",
    ]);
    expect((schema.examples as unknown[])[0]).toMatchObject({
      id: expect.any(String),
      due_date: "2026-12-01T17:00:00.000Z",
    });
  });

  test("the bearer scheme is declared and required by default", () => {
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  test("the interactive page is served at /docs", async () => {
    const response = await send(ctx.app, { path: "/docs" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
  });
});
