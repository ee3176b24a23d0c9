// `q` finds tasks through task_texts' trigram index when it holds three letters or digits in a
// row, and by reading the user's tasks otherwise (src/modules/tasks/service.ts). Either way the
// answer must be exactly the tasks whose title or description contains `q`, case-insensitively:
// here every answer is held to a count made without LIKE and without the index (strpos over
// lower()), on text with accents, combining marks, scripts without case, emoji and LIKE's own
// characters, before and after each kind of write. task_texts is kept by triggers, so it is also
// held equal to the tasks themselves after writes through the API and by hand.
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import type { Database } from "../src/db/client.ts";
import { applyMigrations } from "../src/db/migrate.ts";
import type { Task } from "../src/modules/tasks/model.ts";
import { driver, freshDatabase, queryRows, send, tokenFor, useTestApp } from "./helpers.ts";
import { createTask } from "./tasks-helpers.ts";

const ctx = useTestApp();
let token: string;

const WORDS = [
  "plumber",
  "Plumbing",
  "PLUMB",
  "café",
  "CAFÉ",
  "cafe\u0301",
  "Straße",
  "STRASSE",
  "İstanbul",
  "ΣΊΣΥΦΟΣ",
  "σίσυφος",
  "naïve",
  "日本語テキスト",
  "東京",
  "Москва",
  "москва",
  "😀ok",
  "50%",
  "under_score",
  "back\\slash",
  "a-bc",
  "x_y_z",
  "2026",
  "o'clock",
  "…",
  "Ω",
];
const SEPARATORS = [" ", "  ", "-", ", ", "/", ""];

/** Text made of WORDS, `pieces` long, the same for the same seed. */
const phrase = (pieces: number) =>
  fc
    .tuple(
      fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: pieces }),
      fc.array(fc.constantFrom(...SEPARATORS), { minLength: pieces, maxLength: pieces }),
    )
    .map(([words, separators]) => words.map((word, i) => word + (i < words.length - 1 ? separators[i] : "")).join(""));

const draft = fc.record({
  title: phrase(4).filter((text) => text.trim() === text && text.length > 0),
  description: fc.option(phrase(8), { nil: null }),
});

/** Pieces of the stored text with their case changed here and there: what a person types. */
const fragment = fc
  .tuple(fc.constantFrom(...WORDS), fc.nat(), fc.nat(), fc.boolean())
  .map(([word, start, length, upper]) => {
    const units = [...word];
    const from = start % units.length;
    const piece = units.slice(from, from + 1 + (length % units.length)).join("");
    return upper ? piece.toUpperCase() : piece.toLowerCase();
  });

const QUERIES = [
  ...fc.sample(fragment, { numRuns: 60, seed: 18 }),
  "plumb",
  "umber p",
  "caf",
  "é",
  "e\u0301",
  "ss",
  "ß",
  "50%",
  "%",
  "_",
  "\\",
  "r_s",
  "a-b",
  "bc",
  "2026",
  "日本",
  "テキスト",
  "😀",
  "zzz",
  "plumber  café",
];

const searched = async (q: string) => {
  const answer = await send<Task[]>(ctx.app, { path: `/api/tasks?q=${encodeURIComponent(q)}&limit=500`, token });
  expect(answer.status).toBe(200);
  expect(answer.headers.get("x-total-count")).toBe(String(answer.body.length));
  return answer.body.map((task) => task.id).sort();
};

/** The tasks containing `q`, found without LIKE or any index. */
const contained = async (q: string) =>
  (
    await queryRows<{ id: string }>(
      ctx.db,
      sql`select id::text from tasks where user_id = 'searcher'
        and (strpos(lower(title), lower(${q})) > 0 or strpos(lower(coalesce(description, '')), lower(${q})) > 0)`,
    )
  )
    .map((row) => row.id)
    .sort();

const expectEveryQueryExact = async () => {
  const wrong: string[] = [];
  for (const q of QUERIES) {
    const [found, expected] = await Promise.all([searched(q), contained(q)]);
    if (JSON.stringify(found) !== JSON.stringify(expected))
      wrong.push(`${JSON.stringify(q)}: ${found.length} found, ${expected.length} contain it`);
  }
  expect(wrong).toEqual([]);
};

/** task_texts rows that differ from the task they copy, or that lack one: none. */
const strayTexts = (db: Database = ctx.db) =>
  queryRows(
    db,
    sql`select * from tasks t full join task_texts x on x.task_id = t.id
      where t.id is null or x.task_id is null
        or (t.user_id, t.title, t.description) is distinct from (x.user_id, x.title, x.description)`,
  );

beforeAll(async () => {
  token = await tokenFor("searcher");
  const others = await tokenFor("other");
  const drafts = fc.sample(draft, { numRuns: 120, seed: 2026 });
  for (const fields of drafts) await createTask(ctx.app, token, fields);
  // Another user's identical tasks must never be found.
  for (const fields of drafts.slice(0, 40)) await createTask(ctx.app, others, fields);
}, 60_000);

describe(`q through the trigram index and without it (${driver})`, () => {
  test("every query finds exactly the tasks that contain it, and some find many", async () => {
    await expectEveryQueryExact();
    expect((await contained("plumb")).length).toBeGreaterThan(20);
  });

  test("after edits of titles and descriptions, toggles and deletions, the answers still hold", async () => {
    const mine = (await send<Task[]>(ctx.app, { path: "/api/tasks?limit=500", token })).body;
    const edits = fc.sample(draft, { numRuns: 40, seed: 7 });
    for (const [i, task] of mine.slice(0, 40).entries()) {
      const path = `/api/tasks/${task.id}`;
      const change = [{ title: edits[i]!.title }, { description: edits[i]!.description }, edits[i]!][i % 3];
      expect((await send(ctx.app, { method: "PATCH", path, token, body: change })).status).toBe(200);
    }
    for (const task of mine.slice(40, 60)) {
      const path = `/api/tasks/${task.id}/complete`;
      expect((await send(ctx.app, { method: "PATCH", path, token })).status).toBe(200);
    }
    for (const task of mine.slice(60, 80)) {
      expect((await send(ctx.app, { method: "DELETE", path: `/api/tasks/${task.id}`, token })).status).toBe(204);
    }
    expect(await strayTexts()).toEqual([]);
    await expectEveryQueryExact();
  });

  test("a task's old text is no longer found once it is replaced, and its new text is", async () => {
    const task = await createTask(ctx.app, token, { title: "Call the locksmith", description: "before noon" });
    expect(await searched("locksmith")).toContain(task.id);
    const path = `/api/tasks/${task.id}`;
    await send(ctx.app, { method: "PATCH", path, token, body: { title: "Call the glazier", description: null } });
    expect(await searched("locksmith")).not.toContain(task.id);
    expect(await searched("noon")).not.toContain(task.id);
    expect(await searched("GLAZIER")).toContain(task.id);
  });

  test("racing edits, toggles and deletions of one task leave task_texts as the task is (10 rounds)", async () => {
    for (let round = 0; round < 10; round++) {
      const task = await createTask(ctx.app, token, { title: "race start" });
      const path = `/api/tasks/${task.id}`;
      const edit = (i: number) => (i % 2 ? { title: `race ${round}.${i}` } : { description: `race notes ${i}` });
      const answers = await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => send(ctx.app, { method: "PATCH", path, token, body: edit(i) })),
        send(ctx.app, { method: "PATCH", path: `${path}/complete`, token }),
        ...(round % 2 ? [send(ctx.app, { method: "DELETE", path, token })] : []),
      ]);
      // A write that comes after the deletion finds no task; none fails otherwise.
      for (const answer of answers) expect([200, 204, 404]).toContain(answer.status);
    }
    expect(await strayTexts()).toEqual([]);
    await expectEveryQueryExact();
  });

  test("migration 0011 copies the tasks written before it, and they are found", async () => {
    const database = await freshDatabase({ migrated: false });
    try {
      await applyMigrations(database.db, 11);
      await database.db.execute(sql`insert into users (id) values ('before')`);
      await database.db.execute(sql`insert into tasks (user_id, title, description)
        values ('before', 'Ring the plumber', null), ('before', 'Paint', 'the café door'), ('before', 'x', null)`);
      await applyMigrations(database.db);
      expect(await strayTexts(database.db)).toEqual([]);
      const found = await queryRows<{ title: string }>(
        database.db,
        sql`select title from task_texts where user_id = 'before' and (title ilike '%PLUMB%' or description ilike '%caf%')
          order by title`,
      );
      expect(found).toEqual([{ title: "Paint" }, { title: "Ring the plumber" }]);
    } finally {
      await database.close();
    }
  }, 30_000);

  test("rows written by hand keep task_texts too: insert, update, delete and truncate", async () => {
    await ctx.db.execute(sql`insert into tasks (user_id, title, description)
      values ('searcher', 'Hand-made chandelier', null), ('searcher', 'Second hand', 'chandelier too')`);
    await ctx.db.execute(sql`update tasks set description = 'no lights' where title = 'Hand-made chandelier'`);
    await ctx.db.execute(sql`delete from tasks where title = 'Second hand'`);
    expect(await strayTexts()).toEqual([]);
    const [row] = await queryRows<{ n: number }>(
      ctx.db,
      sql`select count(*)::int as n from task_texts where title ilike '%chandelier%' or description ilike '%chandelier%'`,
    );
    expect(row!.n).toBe(1);
    await expectEveryQueryExact();
    await ctx.db.execute(sql`truncate tasks`);
    expect(await queryRows(ctx.db, sql`select * from task_texts`)).toEqual([]);
  });
});
