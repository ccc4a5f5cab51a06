// The command line's output: text written straight to file descriptors 1 and 2 with write(2).
// Node makes process.stdout and process.stderr on first use, as streams over libuv handles: for a pipe that costs
// a `tsbpf run` about 8 ms of its start, and its writes are asynchronous, so lines can still be queued when an exit
// path runs. A synchronous write keeps the output in the order things happened and complete at exit, as C tools'
// stdio does. A descriptor that is non-blocking and full (EAGAIN) is handed to Node's stream for that write and
// every later one, so that the order holds there too.
// Takes text; gives whether its reader is still there (false once it has gone: EPIPE, as when piped into `head`).
// A long run paces standard output (paceOutput): a reader that stops reading (a pager, a paused terminal) must not
// block the process in write(2), where neither a signal nor a timer can end the run. It writes only what the
// descriptor takes at once (a poll says so), keeps the rest in a backlog that a poll-driven flush writes later, and
// tells the run how large the backlog is, so that it stops reading the kernel's buffers meanwhile (they drop and count).
// This module is on every command's start-up path: node builtins only.

const { writeSync } = process.getBuiltinModule("node:fs");

type Fd = 1 | 2;

/** Standard output cannot take what is written (a full disk, an I/O error): the command cannot do its job. */
export class OutputError extends Error {
  constructor(readonly code: string) {
    super(`cannot write to standard output (${code}${code === "ENOSPC" ? ": no space left on the device it goes to" : ""})`);
    this.name = "OutputError";
  }
}

/** Descriptors whose writes go through Node's stream (after an EAGAIN), and those whose reader has gone. */
const viaStream = new Set<Fd>();
const gone = new Set<Fd>();

/** Whether standard output takes more now without blocking, and a wait (bounded) until it may. */
export interface Writability {
  now(): boolean;
  wait(): Promise<void>;
}

/** At most this much is written after one poll: a pipe that polls writable has a page free, so this never blocks. */
const PACED_CHUNK = 4096;
let pace: Writability | undefined;
/**
 * What paced standard output could not write yet, in order: lines from `head` on (a list consumed from the front by
 * index, since shift() of a long array moves it all), and before them `carry`, a chunk partly written. A write error
 * the flush met is said at the next write.
 */
let backlog: Buffer[] = [];
let head = 0;
let carry: Buffer | undefined;
let backlogBytes = 0;
let flushing = false;
let failed: OutputError | undefined;
const roomWaiters: { limit: number; resolve: () => void }[] = [];

/** From now on standard output is written only as fast as its reader reads (see above). */
export function paceOutput(w: Writability): void {
  pace = w;
}

/** Bytes of standard output waiting for its reader. */
export const outputBacklog = (): number => backlogBytes;

/** Resolves once the backlog is at most `limit` bytes (or the reader has gone). */
export function outputRoom(limit: number): Promise<void> {
  if (backlogBytes <= limit || gone.has(1)) return Promise.resolve();
  return new Promise((resolve) => roomWaiters.push({ limit, resolve }));
}

function wakeRoomWaiters(): void {
  for (let i = roomWaiters.length - 1; i >= 0; i--) {
    const w = roomWaiters[i]!;
    if (backlogBytes <= w.limit || gone.has(1) || failed) {
      roomWaiters.splice(i, 1);
      w.resolve();
    }
  }
}

/** Writes what `bytes` standard output takes now; the count written, or -1 once its reader has gone. */
function writeWhileReady(bytes: Buffer): number {
  let done = 0;
  while (done < bytes.length && pace!.now()) {
    try {
      done += writeSync(1, bytes, done, Math.min(PACED_CHUNK, bytes.length - done));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EINTR" || code === "EAGAIN") continue;
      if (code === "EPIPE") {
        gone.add(1);
        return -1;
      }
      throw new OutputError(code ?? "an unknown error");
    }
  }
  return done;
}

/** The next up to PACED_CHUNK bytes of the backlog, small lines joined into one write. */
function nextChunk(): Buffer | undefined {
  if (carry) {
    const c = carry;
    carry = undefined;
    return c;
  }
  const parts: Buffer[] = [];
  let n = 0;
  while (head < backlog.length && n < PACED_CHUNK) {
    const b = backlog[head]!;
    const take = Math.min(b.length, PACED_CHUNK - n);
    parts.push(take === b.length ? b : b.subarray(0, take));
    n += take;
    if (take === b.length) head++;
    else backlog[head] = b.subarray(take);
  }
  if (head === backlog.length) [backlog, head] = [[], 0];
  return parts.length <= 1 ? parts[0] : Buffer.concat(parts, n);
}

const hasBacklog = (): boolean => carry !== undefined || head < backlog.length;

function writePaced(bytes: Buffer): boolean {
  if (failed) throw failed;
  if (!hasBacklog()) {
    const done = writeWhileReady(bytes);
    if (done < 0) return false;
    if (done === bytes.length) return true;
    bytes = bytes.subarray(done);
  }
  backlog.push(bytes);
  backlogBytes += bytes.length;
  void flush();
  return true;
}

/** Writes the backlog as the reader takes it; keeps the process alive until it is written (or the reader goes). */
async function flush(): Promise<void> {
  if (flushing) return;
  flushing = true;
  try {
    while (hasBacklog() && !gone.has(1)) {
      await pace!.wait();
      for (let chunk = nextChunk(); chunk; chunk = nextChunk()) {
        const done = writeWhileReady(chunk);
        if (done < 0) break;
        backlogBytes -= done;
        if (done < chunk.length) {
          carry = chunk.subarray(done);
          break;
        }
      }
      wakeRoomWaiters();
    }
  } catch (error) {
    failed = error instanceof OutputError ? error : new OutputError(String(error));
  } finally {
    if (gone.has(1)) [backlog, head, carry, backlogBytes] = [[], 0, undefined, 0];
    flushing = false;
    wakeRoomWaiters();
  }
}

function stream(fd: Fd): NodeJS.WriteStream {
  const s = fd === 1 ? process.stdout : process.stderr;
  if (s.listenerCount("error") === 0) s.on("error", () => gone.add(fd));
  return s;
}

function write(fd: Fd, text: string): boolean {
  if (gone.has(fd)) return false;
  if (fd === 1 && pace) return writePaced(Buffer.from(text, "utf8"));
  if (viaStream.has(fd)) {
    stream(fd).write(text);
    return !gone.has(fd);
  }
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EINTR") continue;
      // The reader has gone. (A descriptor closed before the start cannot fail here: Node opens /dev/null in its place.)
      if (code === "EPIPE") {
        gone.add(fd);
        return false;
      }
      if (code !== "EAGAIN") {
        // Standard error has nowhere to say why it failed: it counts as gone.
        if (fd === 2) {
          gone.add(fd);
          return false;
        }
        throw new OutputError(code ?? "an unknown error");
      }
      viaStream.add(fd);
      stream(fd).write(bytes.subarray(done));
      return !gone.has(fd);
    }
  }
  return true;
}

/** Writes to standard output; false once its reader has gone. */
export const writeOut = (text: string): boolean => write(1, text);

/** Writes to standard error; false once its reader has gone. */
export const writeErr = (text: string): boolean => write(2, text);

/** Whether standard error is a terminal (for colour), without making process.stderr. node:tty loads node:net (~8 ms), so only when asked. */
export const stderrIsTTY = (): boolean => process.getBuiltinModule("node:tty").isatty(2);
