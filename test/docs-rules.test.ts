// docs/api.md states the rules of src/rules.ts to people; this holds each line it states them in to
// the values the service enforces, so a changed limit cannot leave the reference behind. The file is
// read as text: no app, no database, the same on every target.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  CHANGES_LIMIT_DEFAULT,
  CHANGES_LIMIT_MAX,
  DESCRIPTION_MAX,
  IDEMPOTENCY_KEY_MAX,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  PRIORITIES,
  TITLE_MAX,
} from "../src/rules.ts";

const reference = await Bun.file(join(import.meta.dir, "..", "docs", "api.md")).text();

/** The cells of the table row whose first cell is `` `name` `` (the first such row). */
function row(name: string): string[] {
  const line = reference.split("\n").find((l) => l.replace(/\s+/g, " ").startsWith(`| \`${name}\` |`));
  if (!line) throw new Error(`docs/api.md has no table row for \`${name}\``);
  return line
    .split("|")
    .slice(1, -1)
    .map((cell) => cell.trim());
}

const listed = (values: readonly string[]) => values.map((v) => `\`${v}\``);

describe("docs/api.md states the rules the service enforces", () => {
  test("the task fields' table", () => {
    expect(row("title")[1]).toBe(`required on create; trimmed, then 1–${TITLE_MAX} characters`);
    expect(row("description")[1]).toBe(`\`null\` or at most ${DESCRIPTION_MAX} characters`);
    const priorities = listed(PRIORITIES);
    expect(row("priority")[1]).toBe(`\`null\`, ${priorities.slice(0, -1).join(", ")} or ${priorities.at(-1)}`);
  });

  test("the list's query table", () => {
    // The list's `priority` row is the second one of that name, after the fields' table.
    const line = reference.split("\n").filter((l) => l.replace(/\s+/g, " ").startsWith("| `priority` |"))[1]!;
    expect(line.split("|")[2]!.trim()).toBe(listed(PRIORITIES).join(", "));
    expect(row("limit").slice(1)).toEqual([`1–${LIST_LIMIT_MAX}`, String(LIST_LIMIT_DEFAULT)]);
    expect(row("q")[1]).toStartWith(`text of at most ${DESCRIPTION_MAX} characters,`);
  });

  test("the change feed's page and the Idempotency-Key format", () => {
    expect(reference).toContain(`&limit=<1–${CHANGES_LIMIT_MAX}, default ${CHANGES_LIMIT_DEFAULT}>`);
    expect(reference).toContain(`\`Idempotency-Key\`: 1–${IDEMPOTENCY_KEY_MAX} printable ASCII characters`);
  });
});
