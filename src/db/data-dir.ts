// The embedded database's directory (DATA_DIR), held by one process at a time.
//
// Two processes on one PGlite directory both accepted writes and lost some (issue 20), so the
// directory is locked with flock(2) on a file inside it. The kernel releases that lock when its
// holder dies, SIGKILL included, so a killed process never leaves a stale lock behind; and it
// needs no process id, which would mean nothing across containers (each one's service is PID 1).
// Both containers on one volume see the same inode, so the second one is refused too.
//
// Also here: a first start that is stopped half-way (src/stop-signals.ts) leaves a marker, and the
// next start removes what it had made before making it again; the files are the owner's only.
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { chmod, readdir, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

const LOCK_FILE = "todo-api.lock";
/** Present while a first start makes the database; lists what the directory held before it. */
const SETUP_MARKER = "todo-api.setup";
const LOCK_EX = 2;
const LOCK_NB = 4;

/** A data directory the service cannot use; the message says what to do about it. */
export class DataDirError extends Error {}

const libc = () =>
  dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });
let flock: ReturnType<typeof libc> | undefined;

function unusable(dataDir: string, error: unknown): DataDirError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  const uid = process.getuid?.() ?? "?";
  return new DataDirError(
    `DATA_DIR ${dataDir} cannot be written by uid ${uid} (${code}): make it writable by that uid ` +
      `(chown ${uid} it, or mount a volume there), point DATA_DIR elsewhere, or set DATABASE_URL`,
  );
}

function inUse(dataDir: string, lockPath: string): DataDirError {
  let holder = "another process";
  try {
    const { pid, host, since } = JSON.parse(readFileSync(lockPath, "utf8")) as Record<string, unknown>;
    holder = `process ${pid} on host ${host} (since ${since})`;
  } catch {
    // The holder is writing its details this very moment; the refusal stands without them.
  }
  return new DataDirError(
    `DATA_DIR ${dataDir} is in use by ${holder}: an embedded database belongs to one process. ` +
      "Stop that one first, give this one its own DATA_DIR, or use PostgreSQL (DATABASE_URL) for several",
  );
}

export interface HeldDataDir {
  /** Call once the database is open: the files are made the owner's only, a first start is done. */
  opened(): Promise<void>;
  release(): void;
}

/**
 * Takes the directory for this process, or throws a DataDirError at once if another one holds it
 * or it cannot be written. New files and directories are the owner's only (umask 077).
 */
export function holdDataDir(dataDir: string): HeldDataDir {
  process.umask(0o077);
  let fd: number;
  const lockPath = join(dataDir, LOCK_FILE);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fd = openSync(lockPath, "a+", 0o600);
  } catch (error) {
    throw unusable(dataDir, error);
  }
  flock ??= libc();
  if (flock.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    closeSync(fd);
    throw inUse(dataDir, lockPath);
  }
  writeFileSync(lockPath, `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date() })}\n`);

  const marker = join(dataDir, SETUP_MARKER);
  if (exists(marker)) removeHalfMadeDatabase(dataDir, marker);
  else if (!exists(join(dataDir, "PG_VERSION"))) {
    const before = readdirSync(dataDir).filter((name) => name !== LOCK_FILE);
    writeFileSync(marker, `${JSON.stringify(before)}\n`);
  }
  return {
    async opened() {
      await ownerOnly(dataDir);
      // The directory itself too, when it is ours (a volume's root is often 0755).
      await chmod(dataDir, 0o700).catch(() => {});
      rmSync(marker, { force: true });
    },
    release: () => closeSync(fd),
  };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes what an interrupted first start made, and nothing that was there before it. */
function removeHalfMadeDatabase(dataDir: string, marker: string) {
  const before = new Set(JSON.parse(readFileSync(marker, "utf8")) as string[]);
  for (const name of readdirSync(dataDir)) {
    if (name !== LOCK_FILE && name !== SETUP_MARKER && !before.has(name)) {
      rmSync(join(dataDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * PGlite writes the files of a new database with the modes they had in its in-memory file system
 * (0666); files it makes later follow the umask. Takes group and other access away from all of them,
 * also in a directory made by an older version.
 */
async function ownerOnly(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    const { mode } = await stat(path);
    if (mode & 0o077) await chmod(path, mode & 0o700);
    if (entry.isDirectory()) await ownerOnly(path);
  }
}
