// The ceiling the service is measured against: the bench routes of docs/api.md written as
// directly as Bun allows. Bun.serve with a hand-written router, Bun.SQL with prepared statements,
// HS256 checked with WebCrypto and a key imported once, rows serialized as they come from the
// driver. Same queries and same JSON as the service, none of a framework's generality: whatever
// the service spends beyond this is what its framework, validation and plumbing cost.
// Only what `bun run bench` calls is here; it is not a second implementation of the contract.
import { SQL } from "bun";

const CLOCK_TOLERANCE_SECONDS = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PRIORITIES = new Set(["low", "medium", "high"]);

const sql = new SQL({ url: process.env.DATABASE_URL!, max: Number(process.env.DB_POOL_MAX ?? 10) });
const key = await crypto.subtle.importKey(
  "raw",
  new TextEncoder().encode(process.env.BETTER_AUTH_SECRET!),
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["verify"],
);

type Json = Record<string, unknown>;
type Task = Json & { user_id: string };

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const unauthorized = (detail: string) => json(401, { detail }, { "www-authenticate": "Bearer" });
const notFound = () => json(404, { detail: "Task not found" });

class Unauthorized extends Error {}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const decodeJson = (part: string) => JSON.parse(decoder.decode(Buffer.from(part, "base64url"))) as Json;

async function userOf(request: Request): Promise<string> {
  const header = request.headers.get("authorization");
  if (!header?.startsWith("Bearer ")) throw new Unauthorized("Missing authentication token");
  const [head, body, signature] = header.slice(7).split(".");
  if (!head || !body || !signature || decodeJson(head).alg !== "HS256") throw new Unauthorized("Invalid token");
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    Buffer.from(signature, "base64url"),
    encoder.encode(`${head}.${body}`),
  );
  if (!valid) throw new Unauthorized("Invalid token");
  const claims = decodeJson(body);
  const now = Date.now() / 1000;
  if (typeof claims.exp !== "number" || claims.exp <= now - CLOCK_TOLERANCE_SECONDS)
    throw new Unauthorized("Token has expired");
  if (typeof claims.nbf === "number" && claims.nbf > now + CLOCK_TOLERANCE_SECONDS)
    throw new Unauthorized("Invalid token");
  if (typeof claims.sub !== "string" || claims.sub === "") throw new Unauthorized("Invalid token");
  await registerUser(claims.sub, claims.email, claims.name);
  return claims.sub;
}

const knownUsers = new Set<string>();
async function registerUser(id: string, email: unknown, name: unknown) {
  if (knownUsers.has(id)) return;
  const e = typeof email === "string" ? email : null;
  const n = typeof name === "string" ? name : null;
  await sql`insert into users (id, email, name) values (${id}, ${e}, ${n})
            on conflict (id) do update set email = ${e}, name = ${n}, updated_at = now()
            where users.email is distinct from ${e} or users.name is distinct from ${n}`;
  knownUsers.add(id);
}

/** 404 when no such task, 403 when it is someone else's. */
async function missing(id: string): Promise<Response> {
  const [row] = await sql`select user_id from tasks where id = ${id}`;
  return row ? json(403, { detail: "Not authorized to access this task" }) : notFound();
}

async function list(userId: string, query: URLSearchParams): Promise<Response> {
  const status = query.get("status") ?? "all";
  const limit = Number(query.get("limit") ?? 100);
  const offset = Number(query.get("offset") ?? 0);
  if (
    !["all", "pending", "completed"].includes(status) ||
    !Number.isInteger(limit) ||
    limit < 1 ||
    limit > 500 ||
    !Number.isInteger(offset) ||
    offset < 0
  ) {
    return json(400, { detail: "Invalid query parameter" });
  }
  // One round trip, the count an uncorrelated subquery riding on the rows: what a hand-written server does (the
  // service reads its kept counts instead, src/modules/tasks/counts.ts).
  const completed = status === "completed";
  const rows: (Task & { total: number })[] =
    status === "all"
      ? await sql`select id, user_id, title, description, completed, priority, due_date, created_at, updated_at,
                    (select count(*)::int from tasks where user_id = ${userId}) as total
                  from tasks where user_id = ${userId}
                  order by created_at desc, id desc limit ${limit} offset ${offset}`
      : await sql`select id, user_id, title, description, completed, priority, due_date, created_at, updated_at,
                    (select count(*)::int from tasks where user_id = ${userId} and completed = ${completed}) as total
                  from tasks where user_id = ${userId} and completed = ${completed}
                  order by created_at desc, id desc limit ${limit} offset ${offset}`;
  const total = rows[0]?.total ?? 0; // a page past the end: the service asks again, never measured here
  return json(
    200,
    rows.map(({ total: _, ...task }) => task),
    { "x-total-count": String(total) },
  );
}

async function getOne(userId: string, id: string): Promise<Response> {
  if (!UUID.test(id)) return notFound();
  const [row] = (await sql`select id, user_id, title, description, completed, priority, due_date, created_at, updated_at
    from tasks where id = ${id} and user_id = ${userId}`) as Task[];
  return row ? json(200, row) : missing(id);
}

interface Fields {
  title?: string;
  description?: string | null;
  priority?: string | null;
  due_date?: Date | null;
}

/** The writable fields of a body, or the name of the first bad one. */
function fields(body: Json, creating: boolean): Fields | string {
  const out: Fields = {};
  if ("title" in body || creating) {
    const title = typeof body.title === "string" ? body.title.trim() : "";
    if (title.length < 1 || title.length > 200) return "title";
    out.title = title;
  }
  if ("description" in body) {
    if (body.description !== null && (typeof body.description !== "string" || body.description.length > 1000))
      return "description";
    out.description = body.description;
  }
  if ("priority" in body) {
    if (body.priority !== null && !PRIORITIES.has(body.priority as string)) return "priority";
    out.priority = body.priority as string | null;
  }
  if ("due_date" in body) {
    const due = body.due_date === null ? null : new Date(body.due_date as string);
    if (due !== null && (typeof body.due_date !== "string" || Number.isNaN(due.getTime()))) return "due_date";
    out.due_date = due;
  }
  return out;
}

async function readBody(request: Request): Promise<Json | undefined> {
  try {
    const body = await request.json();
    return body && typeof body === "object" && !Array.isArray(body) ? (body as Json) : undefined;
  } catch {
    return undefined;
  }
}

async function create(userId: string, request: Request): Promise<Response> {
  const body = await readBody(request);
  const f = body && fields(body, true);
  if (!f || typeof f === "string") return json(400, { detail: "Invalid request body" });
  const [row] = (await sql`insert into tasks (user_id, title, description, priority, due_date)
    values (${userId}, ${f.title}, ${f.description ?? null}, ${f.priority ?? null}, ${f.due_date ?? null})
    returning id, user_id, title, description, completed, priority, due_date, created_at, updated_at`) as Task[];
  return json(201, row, { location: `/api/tasks/${row!.id}` });
}

async function update(userId: string, id: string, request: Request): Promise<Response> {
  const body = await readBody(request);
  const f = body && fields(body, false);
  if (!f || typeof f === "string") return json(400, { detail: "Invalid request body" });
  if (!UUID.test(id)) return notFound();
  // One statement for every subset of fields: a flag per field says whether to write it.
  const [row] = (await sql`update tasks set
      title = coalesce(${f.title ?? null}, title),
      description = case when ${"description" in f} then ${f.description ?? null} else description end,
      priority = case when ${"priority" in f} then ${f.priority ?? null} else priority end,
      due_date = case when ${"due_date" in f} then ${f.due_date ?? null}::timestamptz else due_date end,
      updated_at = greatest(now(), updated_at + interval '1 millisecond')
    where id = ${id} and user_id = ${userId}
    returning id, user_id, title, description, completed, priority, due_date, created_at, updated_at`) as Task[];
  return row ? json(200, row) : missing(id);
}

async function toggle(userId: string, id: string, request: Request): Promise<Response> {
  if (!UUID.test(id)) return notFound();
  const text = await request.text();
  let completed: boolean | null = null;
  if (text !== "") {
    const body = JSON.parse(text) as Json;
    if (typeof body.completed !== "boolean") return json(400, { detail: "Invalid request body" });
    completed = body.completed;
  }
  const [row] =
    (await sql`update tasks set completed = coalesce(${completed}, not completed), updated_at = greatest(now(), updated_at + interval '1 millisecond')
    where id = ${id} and user_id = ${userId} returning id, user_id, title, description, completed, priority, due_date, created_at, updated_at`) as Task[];
  return row ? json(200, row) : missing(id);
}

async function route(request: Request, url: URL): Promise<Response> {
  const parts = url.pathname.split("/");
  if (parts[1] !== "api" || parts[2] !== "tasks" || parts.length > 5) return json(404, { detail: "Not found" });
  const userId = await userOf(request);
  const id = parts[3];
  const method = request.method;
  if (id === undefined) {
    if (method === "GET") return list(userId, url.searchParams);
    if (method === "POST") return create(userId, request);
  } else if (parts[4] === "complete") {
    if (method === "PATCH") return toggle(userId, id, request);
  } else if (parts.length === 4) {
    if (method === "GET") return getOne(userId, id);
    if (method === "PUT" || method === "PATCH") return update(userId, id, request);
  }
  return json(405, { detail: "Method not allowed" });
}

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 8001),
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return json(200, { status: "healthy" });
    try {
      return await route(request, url);
    } catch (error) {
      if (error instanceof Unauthorized) return unauthorized(error.message);
      if (error instanceof SyntaxError) return json(400, { detail: "Request body is not valid JSON" });
      console.error(error);
      return json(500, { detail: "Internal server error" });
    }
  },
});
console.log(`baseline listening on ${server.url.href}`);

process.on("SIGTERM", async () => {
  await server.stop();
  await sql.close();
  process.exit(0);
});
