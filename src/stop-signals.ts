// SIGTERM and SIGINT handlers, armed by the first import of src/index.ts, before any module that is
// slow to load. As PID 1 in a container a process ignores every signal it has no handler for, and
// the kernel keeps none for later: a stop sent while the service loads or opens its database was
// lost, and the platform killed the process 10 s later (issue 20). Until the service listens a
// signal ends start-up at once: nothing has been acknowledged yet, and an embedded database left
// half-made by a first start is made again by the next one (src/db/data-dir.ts).

type StopHandler = (signal: NodeJS.Signals) => void;

// Before the configuration is read there is nothing to log to and nothing to close.
let handler: StopHandler = () => process.exit(0);

for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => handler(signal));

/** What SIGTERM and SIGINT do from now on, in place of what they did before. */
export function onStopSignal(next: StopHandler): void {
  handler = next;
}
