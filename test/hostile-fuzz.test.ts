// Property-based tests of the hostile corners of issue 10. The generators write raw JSON text, so
// they reach what JSON.stringify never writes: duplicate keys, 1e400, escaped unpaired surrogates,
// `__proto__` as a key at any depth. Text is drawn per UTF-16 unit (lone surrogates, NUL, RTL
// marks) and by whole code points (10,000 emoji). Every field gets values of every type. Token
// claims are drawn the same way and signed with the test secret.
//
// Whatever comes in: never a 5xx; an error is the contract's JSON with a request id; a 4xx leaves
// the database exactly as it was (fingerprint); an accepted body is stored exactly as sent (top-level
// keys only, the last of duplicates, trimmed title), and an accepted token names exactly its `sub`.
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { users } from "../src/db/schema.ts";
import { driver, send, tokenFor, useTestApp } from "./helpers.ts";
import { expectContractError, nowSeconds, signRawPayload } from "./hostile-helpers.ts";
import { createTask, fingerprint } from "./tasks-helpers.ts";

/** Requests per property and database; a CI run (PGlite, PostgreSQL, the binary) tries three times this. */
const RUNS = { bodies: 600, tokens: 400, queries: 200 };
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;

const ctx = useTestApp();
const FUZZ_USER = "fuzz-user";
let token: string;
let taskId: string;

beforeAll(async () => {
  token = await tokenFor(FUZZ_USER);
  taskId = (await createTask(ctx.app, token, { title: "the fuzzed task" })).id;
});

// --- text and values, as raw JSON text ----------------------------------------------------------

const SPECIALS = [
  "\u0000",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\u200f",
  "\u202e",
  "\u2028",
  "\ufeff",
  "\ufffd",
  "\u0085",
  "\u007f",
  "😀",
  "e\u0301",
  " ",
  "\t",
  "%",
  "_",
  "\\",
];
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  fc.constantFrom(...SPECIALS),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
);
/** Any JS string: lone surrogates, NUL, controls, marks; sometimes 10,000 emoji. */
const hostileText = fc.oneof(
  { arbitrary: fc.string({ unit: anyUnit, maxLength: 24 }), weight: 8 },
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }), weight: 4 },
  {
    arbitrary: fc.constantFrom("😀".repeat(10_000), "\u200f".repeat(2000), "x".repeat(1001), " ".repeat(300)),
    weight: 1,
  },
);
/** JSON.stringify escapes unpaired surrogates and controls, as a careless client's JSON library does. */
const textJson = hostileText.map((text) => JSON.stringify(text));
const numberJson = fc.oneof(
  fc.constantFrom(
    "1e400",
    "-1e400",
    "1e308",
    "-0",
    "0",
    "1",
    "-1",
    "9007199254740993",
    "1e-400",
    "0.5",
    "123456789012345678901234567890",
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
);
const PROTOTYPE_KEYS = ['"__proto__"', '"constructor"', '"prototype"', '"__pro\\u0074o__"'];
/** Objects that break string conversion, arrays, and other shapes a field never expects. */
const oddJson = fc.constantFrom(
  '{"toString":1}',
  '{"valueOf":1,"toString":null}',
  '{"toString":{"toString":1}}',
  '{"toJSON":1}',
  '{"__proto__":{"toString":1}}',
  '{"length":1e400}',
  "{}",
  "[]",
  "[null]",
  '["a","b"]',
  "[[[[[[[[]]]]]]]]",
);
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    textJson,
    numberJson,
    fc.constantFrom("true", "false", "null"),
    oddJson,
    tie("array"),
    tie("object"),
  ),
  array: fc.array(tie("value"), { maxLength: 3 }).map((items) => `[${items.join(",")}]`),
  object: fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, '"title"', '"completed"'), textJson), tie("value")), {
      maxLength: 3,
    })
    .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}`),
})).value;

// --- task bodies --------------------------------------------------------------------------------

const WRITABLE = ["title", "description", "completed", "priority", "due_date"] as const;
type Writable = (typeof WRITABLE)[number];
const validJson: Record<Writable, fc.Arbitrary<string>> = {
  title: fc.constantFrom('"a task"', '"  padded  "', '"\\u200fRTL title"', '"😀 emoji"'),
  description: fc.constantFrom('"some words"', "null", '"\\u202e"'),
  completed: fc.constantFrom("true", "false"),
  priority: fc.constantFrom('"low"', '"medium"', '"high"', "null"),
  due_date: fc.constantFrom('"2026-12-01"', '"2026-12-01T17:00:00Z"', "null"),
};
type Entry = [key: string, value: string];
const fieldEntry: fc.Arbitrary<Entry> = fc
  .constantFrom(...WRITABLE, "id", "user_id", "created_at", "updated_at", "unknown")
  .chain((name) =>
    fc
      .oneof(
        { arbitrary: name in validJson ? validJson[name as Writable] : fc.constant('"other-user"'), weight: 3 },
        { arbitrary: textJson, weight: 2 },
        { arbitrary: oddJson, weight: 1 },
        { arbitrary: numberJson, weight: 1 },
        { arbitrary: fc.constantFrom("true", "false", "null"), weight: 1 },
        { arbitrary: jsonText, weight: 1 },
      )
      .map((value): Entry => [JSON.stringify(name), value]),
  );
/** A prototype key holding, at some depth, the fields an attacker wants set. */
const prototypeEntry: fc.Arbitrary<Entry> = fc
  .tuple(
    fc.array(fc.constantFrom(...PROTOTYPE_KEYS), { minLength: 1, maxLength: 3 }),
    fc.array(fieldEntry, { maxLength: 3 }),
  )
  .map(([path, fields]) => {
    let value = `{${[...fields, ['"completed"', "true"] as Entry, ['"priority"', '"high"'] as Entry].map(([k, v]) => `${k}:${v}`).join(",")}}`;
    for (const key of path.slice(1).reverse()) value = `{${key}:${value}}`;
    return [path[0]!, value];
  });
/** Entries in any order, with duplicate keys; JSON.parse keeps the last of each. */
const taskBody = fc
  .array(fc.oneof({ arbitrary: fieldEntry, weight: 3 }, { arbitrary: prototypeEntry, weight: 1 }), { maxLength: 8 })
  .map((entries) => ({ entries, text: `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}` }));

/** What the body says at its top level: the last value of each writable field, prototype keys ignored. */
function topLevel(entries: Entry[]): Partial<Record<Writable, unknown>> {
  const given: Partial<Record<Writable, unknown>> = {};
  for (const [key, value] of entries) {
    const name = JSON.parse(key) as string;
    if ((WRITABLE as readonly string[]).includes(name) && !PROTOTYPE_KEYS.includes(key))
      given[name as Writable] = JSON.parse(value);
  }
  return given;
}

/**
 * PGlite (0.5.16) returns every text value through a TextDecoder that drops a leading U+FEFF as a
 * byte-order mark: the row holds it, the answer lacks it. PostgreSQL keeps it. A PGlite bug, not
 * ours (see the failing-on-PGlite test in hostile-cases.test.ts); here it is expected on PGlite only.
 */
const asAnswered = (value: unknown) =>
  driver === "pglite" && typeof value === "string" ? value.replace(/^\ufeff/, "") : value;

const DEFAULTS: Record<Writable, unknown> = {
  title: undefined,
  description: null,
  completed: false,
  priority: null,
  due_date: null,
};

/** Given fields as sent (title trimmed); the others their default on create, unchanged on update. */
function expectStoredAsSent(
  task: Record<string, unknown>,
  given: Partial<Record<Writable, unknown>>,
  previous: Record<string, unknown> | undefined,
  where: string,
) {
  expect(task.user_id, where).toBe(FUZZ_USER);
  for (const field of WRITABLE) {
    if (!(field in given)) {
      if (field !== "title") expect(task[field], where).toEqual(previous ? previous[field] : DEFAULTS[field]);
      continue;
    }
    const value = given[field];
    if (field === "title") expect(task.title, where).toBe((value as string).trim());
    else if (field === "due_date") expect(task.due_date === null, where).toBe(value === null);
    else expect(task[field], where).toEqual(asAnswered(value));
  }
}

// --- token claims -------------------------------------------------------------------------------

const claimValue = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ arbitrary: valid, weight: 3 }, textJson, numberJson, oddJson, fc.constantFrom("true", "null"), jsonText);
const timeJson = (offset: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: -120, max: 120 }).map((d) => String(nowSeconds() + offset + d)), weight: 3 },
    numberJson,
    fc.constant(`"${nowSeconds() + offset}"`),
  );
const claimEntry: fc.Arbitrary<Entry> = fc.oneof(
  claimValue(
    fc.constantFrom(
      '"token-user"',
      '"Token User 😀"',
      '"\\u200ftoken"',
      `"${"s".repeat(255)}"`,
      `"${"s".repeat(256)}"`,
    ),
  ).map((v): Entry => ['"sub"', v]),
  fc.oneof(timeJson(600), fc.constant(String(nowSeconds() - 3600))).map((v): Entry => ['"exp"', v]),
  timeJson(0).map((v): Entry => ['"iat"', v]),
  timeJson(0).map((v): Entry => ['"nbf"', v]),
  claimValue(fc.constant('"t@example.com"')).map((v): Entry => ['"email"', v]),
  claimValue(fc.constant('"Token User"')).map((v): Entry => ['"name"', v]),
  fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.constant('{"sub":"proto-user","exp":1e12}')),
);
const tokenClaims = fc
  .tuple(fc.array(claimEntry, { maxLength: 8 }), fc.boolean(), fc.boolean())
  .map(([entries, withSub, withExp]) => {
    // Mostly with a plausible sub and exp first, so the other claims decide.
    const base: Entry[] = [];
    if (withSub) base.push(['"sub"', '"token-user"']);
    if (withExp) base.push(['"exp"', String(nowSeconds() + 600)]);
    const all = [...base, ...entries];
    return `{${all.map(([k, v]) => `${k}:${v}`).join(",")}}`;
  });

/**
 * The contract's token rules, written out here independently of src/: "valid", or which 401
 * details are true of it. An expired token that is also malformed may be called either.
 */
function contractAnswers(payloadJson: string, token: string): "valid" | string[] {
  // The service refuses tokens over 8 KiB before decoding them (Better Auth's are under 1 KB).
  if (token.length > 8 * 1024) return ["Invalid token"];
  const claims = JSON.parse(payloadJson) as Record<string, unknown>;
  const now = nowSeconds();
  const { sub, exp, iat, nbf } = claims;
  const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const expired = finite(exp) && exp <= now - 60;
  const wellFormed =
    typeof sub === "string" &&
    sub.length >= 1 &&
    sub.length <= 255 &&
    sub.isWellFormed() &&
    !/\p{Cc}/u.test(sub) &&
    sub.trim() !== "" &&
    finite(exp) &&
    (nbf === undefined || (finite(nbf) && nbf <= now + 60)) &&
    (iat === undefined || (finite(iat) && iat <= now + 60));
  if (wellFormed) return expired ? ["Token has expired"] : "valid";
  return expired ? ["Invalid token", "Token has expired"] : ["Invalid token"];
}
/** Claims within a few seconds of a boundary could fall either side by the time they are checked. */
function nearBoundary(payloadJson: string): boolean {
  const claims = JSON.parse(payloadJson) as Record<string, unknown>;
  const now = nowSeconds();
  return [claims.exp, claims.iat, claims.nbf].some(
    (v) => typeof v === "number" && (Math.abs(v - (now - 60)) <= 3 || Math.abs(v - (now + 60)) <= 3),
  );
}

// --- the properties -----------------------------------------------------------------------------

let tried = 0;
/**
 * Bun's HTTP server refuses a request line and headers over about 16 KiB with its own 431 before
 * the service sees them (README, "Limits"); generated tokens and URLs past 12 KiB are not sent.
 */
const fitsInHeaders = (text: string) => text.length <= 12 * 1024;

describe(`hostile input, property-based (${driver})`, () => {
  test(`${RUNS.bodies} task bodies of raw JSON text on create and update`, async () => {
    const where = { method: fc.constantFrom("POST", "PATCH", "PUT"), body: taskBody };
    await fc.assert(
      fc.asyncProperty(fc.record(where), async ({ method, body }) => {
        tried++;
        const path = method === "POST" ? "/api/tasks" : `/api/tasks/${taskId}`;
        const previous =
          method === "POST" ? undefined : (await send<Record<string, unknown>>(ctx.app, { path, token })).body;
        const before = await fingerprint(ctx.db);
        const answer = await send<Record<string, unknown>>(ctx.app, { method, path, token, body: body.text });
        const label = `${method} ${body.text.slice(0, 300)} -> ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, label).toBeLessThan(500);
        expect(answer.headers.get("x-request-id"), label).toBeTruthy();
        if (answer.status >= 400) {
          expectContractError(answer, label);
          expect(await fingerprint(ctx.db), label).toBe(before);
          return;
        }
        expect(answer.status, label).toBe(method === "POST" ? 201 : 200);
        expectStoredAsSent(answer.body, topLevel(body.entries), previous, label);
      }),
      { numRuns: RUNS.bodies, seed },
    );
  }, 60_000);

  test(`${RUNS.tokens} tokens whose claims are drawn the same way, signed with the test secret`, async () => {
    await fc.assert(
      fc.asyncProperty(tokenClaims, fc.boolean(), async (payload, create) => {
        const token = signRawPayload(payload);
        fc.pre(fitsInHeaders(token));
        tried++;
        const before = await fingerprint(ctx.db);
        const answer = await send<Record<string, unknown>>(ctx.app, {
          method: create ? "POST" : "GET",
          path: "/api/tasks",
          token,
          body: create ? { title: "from a fuzzed token" } : undefined,
        });
        const label = `${payload.slice(0, 400)} -> ${answer.status} ${answer.text.slice(0, 200)}`;
        expect(answer.status, label).toBeLessThan(500);
        expect(answer.headers.get("x-request-id"), label).toBeTruthy();
        const expected = contractAnswers(payload, token);
        if (!nearBoundary(payload)) {
          if (expected === "valid") expect(answer.status, label).toBe(create ? 201 : 200);
          else {
            expect(answer.status, label).toBe(401);
            expect(expected, label).toContain(answer.body.detail as string);
          }
        }
        if (answer.status >= 400) {
          expectContractError(answer, label);
          expect(await fingerprint(ctx.db), label).toBe(before);
          return;
        }
        // Exactly this sub's row: never another user's, never a U+FFFD copy.
        const sub = (JSON.parse(payload) as { sub: string }).sub;
        const rows = await ctx.db.select({ id: users.id }).from(users).where(eq(users.id, sub));
        expect(rows, label).toHaveLength(1);
        if (create) expect(answer.body.user_id, label).toBe(asAnswered(sub) as string);
      }),
      { numRuns: RUNS.tokens, seed },
    );
  }, 60_000);

  test(`${RUNS.queries} list queries of raw percent-encoded bytes and odd numbers`, async () => {
    const bytes = fc
      .uint8Array({ maxLength: 12 })
      .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, "0")}`).join(""));
    const param = fc.tuple(
      fc.constantFrom("q", "limit", "offset", "sort", "order", "status", "priority", "__proto__", "constructor", "q[]"),
      fc.oneof(
        bytes,
        textJson.map((t) => encodeURIComponent(JSON.parse(t).isWellFormed() ? JSON.parse(t) : "x")),
        numberJson,
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 4 }), async (params) => {
        const path = `/api/tasks?${params.map(([k, v]) => `${k}=${v}`).join("&")}`;
        fc.pre(fitsInHeaders(path));
        tried++;
        const answer = await send(ctx.app, { path, token });
        const label = `${path.slice(0, 300)} -> ${answer.status} ${answer.text.slice(0, 200)}`;
        expect(answer.status, label).toBeLessThan(500);
        expect(answer.headers.get("x-request-id"), label).toBeTruthy();
        if (answer.status >= 400) expectContractError(answer, label);
        else expect(Array.isArray(answer.body), label).toBe(true);
      }),
      { numRuns: RUNS.queries, seed },
    );
    console.log(`hostile fuzz (${driver}): ${tried} generated requests, none answered 5xx`);
  }, 60_000);
});
