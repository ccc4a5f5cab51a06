// One turn of the event loop, for readers whose data may never run dry.
// A reader that finds data every time it looks would otherwise go on in promise callbacks alone, which the event
// loop never interrupts: timers, signal handlers and I/O callbacks would wait for the data to stop (a probe that
// prints on every write(2), tsbpf's own included, kept Ctrl-C and --duration from ever stopping `tsbpf run`).
// Readers take one turn per batch (up to 64 KB of trace_pipe, a ring buffer drained), so a flood costs little.

/** Settles after the event loop has run what was waiting (setImmediate: after pending timers and I/O). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
