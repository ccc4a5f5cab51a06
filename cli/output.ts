// The command line's output: text written straight to file descriptors 1 and 2 with write(2).
// Node makes process.stdout and process.stderr on first use, as streams over libuv handles: for a pipe that costs
// a `tsbpf run` about 8 ms of its start, and its writes are asynchronous, so lines can still be queued when an exit
// path runs. A synchronous write keeps the output in the order things happened and complete at exit, as C tools'
// stdio does. A descriptor that is non-blocking and full (EAGAIN) is handed to Node's stream for that write and
// every later one, so that the order holds there too.
// Takes text; gives whether its reader is still there (false once it has gone: EPIPE, as when piped into `head`).
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

function stream(fd: Fd): NodeJS.WriteStream {
  const s = fd === 1 ? process.stdout : process.stderr;
  if (s.listenerCount("error") === 0) s.on("error", () => gone.add(fd));
  return s;
}

function write(fd: Fd, text: string): boolean {
  if (gone.has(fd)) return false;
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
