// Entity tags (RFC 9110 §8.8.3) for tasks and lists. A task's tag is its version, the user's change
// number at its last write, so it changes on every change of the task and only then. A list's tag is
// the user's generation and change_seq (any change of any of the user's tasks moves it) and the query.

/** The strong ETag of a task at `version`. */
export const taskEtag = (version: number) => `"${version}"`;

/** The strong ETag of a list answer: the user's state (`generation.change_seq`) and the query. */
export const listEtag = (userState: string, query: string) => `"L${userState}.${Bun.hash(query).toString(36)}"`;

// The digits taskEtag writes for a version: no leading zero, so a tag is a version only when it is
// that version's tag character by character ("07" is not "7").
const VERSION_TAG = /^(?:0|[1-9]\d{0,14})$/;

/**
 * The task versions an If-Match value names; "*" for any. The comparison is strong (RFC 9110
 * §8.8.3.2): weak tags (W/"…") never match, and this service issues no weak ones. Tags of another
 * form name no version and are skipped, so a list of them matches nothing.
 */
export function taggedVersions(header: string): number[] | "*" {
  if (header.trim() === "*") return "*";
  const versions: number[] = [];
  for (const match of header.matchAll(/(W\/)?"([^"]*)"/g))
    if (!match[1] && VERSION_TAG.test(match[2]!)) versions.push(Number(match[2]));
  return versions;
}

/** Whether an If-None-Match value names `etag` (or is "*"); weak comparison, as RFC 9110 asks for it. */
export function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  for (const match of header.matchAll(/(?:W\/)?("[^"]*")/g)) if (match[1] === etag) return true;
  return false;
}
