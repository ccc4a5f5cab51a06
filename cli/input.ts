// Reading command input: files named on the command line, standard input, and hex byte strings as conformance
// runners send them.
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { UserError, fileError } from "./exit-codes.js";

/** The most a named input may hold: far beyond any probe or object, and a bound on a pipe that never ends. */
const MAX_INPUT = 256 << 20;

/**
 * A file named on the command line, read once: a regular file, or a pipe (`<(cat probe.ts)`, a FIFO) read to its end.
 * A device (/dev/zero would never end) or a directory is refused, and so is more than 256 MiB; each as a UserError.
 * Standard input's names go through readInput, which reads it as `-` is read.
 */
export function readInputFile(file: string): Buffer {
  // An unset shell variable (`tsbpf run "$F"`): opening "" would say ENOENT without a name.
  if (file === "") throw new UserError("the file name is empty: name a file, or - for standard input");
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw fileError("read", file, error);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new UserError(`cannot read ${file}: it is a directory (EISDIR)`);
    if (stat.isCharacterDevice() || stat.isBlockDevice()) throw new UserError(`cannot read ${file}: it is a device, not a file (standard input is read as - or /dev/stdin)`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // A regular file in one read of its size (and one more byte, to see its end); a pipe in 64 KiB pieces.
      const chunk = Buffer.allocUnsafe(stat.isFile() && chunks.length === 0 ? Math.min(stat.size + 1, MAX_INPUT + 1) : 1 << 16);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        throw fileError("read", file, error);
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > MAX_INPUT) throw new UserError(`cannot read ${file}: it holds more than ${MAX_INPUT >> 20} MiB, more than any probe or object`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether a file named on the command line is standard input: `-`, or a name of its descriptor (`/dev/stdin`,
 * `/dev/fd/0`, `/proc/self/fd/0`), which cannot be opened when it is a socket and is a device when it is a terminal.
 */
export const namesStdin = (file: string): boolean => file === "-" || /^\/(dev\/stdin|dev\/fd\/0|proc\/self\/fd\/0)$/.test(file);

/**
 * The name a command reads its file by and diagnostics show: `-` (standard input) as /dev/stdin, which readInput
 * reads from fd 0 (/dev/stdin cannot be opened when it is a socket, and is a device when it is a terminal).
 */
export const inputName = (file: string): string => (file === "-" ? "/dev/stdin" : file);

/** Whether bytes start as an ELF file does. */
export const isElf = (bytes: Uint8Array): boolean => bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;

/** A file named on the command line (readInputFile), or standard input read to its end when the name is one of its. */
export async function readInput(file: string): Promise<Buffer> {
  return namesStdin(file) ? readStdin() : readInputFile(file);
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parses "b7 00 2a ..." (any white space, an optional 0x per byte, or one unbroken hex string). */
export function parseHexBytes(text: string | Buffer, what: string, elf = ""): Uint8Array {
  // Binary bytes (an object, raw instructions) would be echoed into the message as they are: name them instead.
  if (typeof text !== "string" && text.some((b) => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) {
    throw new UserError(`${what} holds binary bytes, not hex text: give the instructions as hex bytes, such as "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00"${isElf(text) && elf ? ` (${elf})` : ""}`);
  }
  const source = text.toString("utf8").trim();
  if (source === "") return new Uint8Array(0);
  const tokens = source.split(/\s+/).map((t) => t.replace(/^0x/i, ""));
  const digits = tokens.length === 1 ? tokens[0]! : tokens.map((t) => (t.length === 1 ? `0${t}` : t)).join("");
  const bad = tokens.find((t) => !/^[0-9a-f]+$/i.test(t) || (tokens.length > 1 && t.length > 2));
  if (bad !== undefined || digits.length % 2 !== 0) {
    const shown = bad !== undefined && bad.length > 24 ? `${bad.slice(0, 24)}... (${bad.length} characters)` : bad;
    throw new UserError(`${what}: expected hex bytes separated by spaces${bad !== undefined ? `, found '${shown}'` : " (odd number of hex digits)"}`);
  }
  return Uint8Array.from(Buffer.from(digits, "hex"));
}

/** A numeric option that must be a whole number of at least `min`: undefined when not given, else the number. */
export function integerOption(argv: Record<string, unknown>, name: string, min: number): number | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UserError(`--${name} was given more than once`);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) throw new UserError(`--${name} must be a whole number of at least ${min}, not ${Number.isNaN(value) ? "a word" : String(value)}`);
  return value;
}

/** Refuses a TypeScript probe file given where a compiled object belongs, saying which command takes it. */
export function refuseProbeFile(file: string, bytes: Uint8Array, instead: string): void {
  if (!isElf(bytes) && /\.[cm]?tsx?$/.test(file)) throw new UserError(`${file} is a TypeScript probe, not a compiled BPF object; ${instead}`);
}

/**
 * A probe file's text, refused before the compiler sees it when it is not text: TypeScript would print its bytes as
 * a source line. An ELF file is most likely a compiled object given to the wrong command.
 */
export function probeText(file: string, contents: Uint8Array): string {
  const bytes = contents.subarray(0, 4096);
  if (isElf(bytes)) {
    throw new UserError(`${file} is an ELF file, not a TypeScript probe; a compiled BPF object is loaded with tsbpf load ${file}`);
  }
  if (bytes.includes(0)) throw new UserError(`${file} is a binary file, not a TypeScript probe`);
  return Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength).toString("utf8");
}

/** Whether two paths name one existing file (an output that would overwrite the input). */
export function sameFile(a: string, b: string): boolean {
  const [x, y] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
}
