// The compiled executable's entry. The stop handlers are armed before the rest of the program is
// even evaluated: a static import of src/index.ts would be evaluated first, with every module it
// loads (~0.3 s of a loaded machine in the binary), and a SIGTERM to PID 1 in that time was lost.
import "./stop-signals.ts";

await import("./index.ts");
