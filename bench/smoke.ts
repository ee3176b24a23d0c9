// Before a server is loaded, every scenario's request answers as the contract says, and the
// read-only ones answer exactly what the first server answered (same data, so the same bytes
// modulo key order): a server cannot look fast by answering something else.
import type { BenchData } from "./seed.ts";

/** JSON with object keys sorted, so two servers' bodies compare whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Throws what differs. `reference` holds the first server's answers; the first call fills it. */
export async function smokeTest(base: string, data: BenchData, reference: Map<string, string>) {
  const user = data.users[0]!;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const headers: Record<string, string> = auth(token);
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { response, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const expect = (ok: boolean, what: string, got: string) => {
    if (!ok) throw new Error(`${what}: ${got.slice(0, 500)}`);
  };
  const reads = {
    list: ["/api/tasks?status=pending&limit=50", user.token],
    get: [`/api/tasks/${user.taskIds[0]}`, user.token],
    big: ["/api/tasks?status=pending&limit=50", data.big.token],
  } as const;
  for (const [name, [path, token]] of Object.entries(reads)) {
    const { response, text, json } = await call("GET", path, token);
    expect(response.status === 200, `${name} answered ${response.status}`, text);
    const got = canonical({ total: response.headers.get("x-total-count"), body: json });
    const want = reference.get(name);
    if (want === undefined) reference.set(name, got);
    else
      expect(
        got === want,
        `${name} differs from the first server's answer`,
        `${got.slice(0, 240)}\n  first: ${want.slice(0, 240)}`,
      );
  }
  const created = await call("POST", "/api/tasks", user.token, { title: "Smoke test", priority: "low" });
  expect(
    created.response.status === 201 && created.response.headers.get("location") === `/api/tasks/${created.json?.id}`,
    `create answered ${created.response.status}`,
    created.text,
  );
  const toggled = await call("PATCH", `/api/tasks/${created.json?.id}/complete`, user.token);
  expect(
    toggled.response.status === 200 && toggled.json?.completed === true,
    `toggle answered ${toggled.response.status}`,
    toggled.text,
  );
  const updated = await call("PUT", `/api/tasks/${created.json?.id}`, user.token, {
    title: "Smoke test renamed",
    due_date: "2026-12-01T17:00:00.000Z",
  });
  expect(
    updated.response.status === 200 &&
      updated.json?.title === "Smoke test renamed" &&
      updated.json?.due_date === "2026-12-01T17:00:00.000Z",
    `update answered ${updated.response.status}`,
    updated.text,
  );
  const keys = (value: unknown) =>
    Object.keys(value as object)
      .sort()
      .join(",");
  const listed = JSON.parse(reference.get("get")!).body;
  expect(
    keys(updated.json) === keys(listed),
    "a written task has other fields than a read one",
    `${keys(updated.json)} vs ${keys(listed)}`,
  );
}
