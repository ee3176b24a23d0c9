// Every task route exists in two shapes that behave the same (docs/api.md): /api/tasks..., where
// the user is the token's, and /api/:user_id/tasks..., the hackathon shape, which is 403 unless
// :user_id is that user. Each feature under /tasks (tasks, the change feed, live events) writes its
// routes once and is mounted in both shapes here.
import { type AnyElysia, Elysia, t } from "elysia";
import type { authentication } from "../auth/plugin.ts";
import { HttpError } from "../http/errors.ts";

class ForeignUserError extends HttpError {
  constructor() {
    super(403, "Not authorized to access this user's tasks");
  }
}

const UserId = t.String({ description: "Must be the token's `sub`", examples: ["PRFtYahHnGm9bx6StXSFrO1NfZEEy1Xj"] });

/** `routes()` under /tasks and under /:user_id/tasks; it is called once per shape. */
export function inBothShapes<const Routes extends AnyElysia>(
  auth: ReturnType<typeof authentication>,
  routes: () => Routes,
) {
  return (
    new Elysia()
      // Answers carry ETags and cursors of one user's data: browsers must ask again (with
      // If-None-Match) rather than reuse a stored copy, and shared caches must not keep them.
      .onTransform(({ set }) => {
        set.headers["cache-control"] = "private, no-cache";
      })
      .group("/tasks", (group) => group.use(routes()))
      .use(auth)
      .group("/:user_id/tasks", { params: t.Object({ user_id: UserId }) }, (group) =>
        group
          // A derive runs before validation: a caller naming another user learns nothing more.
          .derive(({ params, user }) => {
            if (params.user_id !== user.id) throw new ForeignUserError();
            return {};
          })
          .use(routes()),
      )
  );
}
