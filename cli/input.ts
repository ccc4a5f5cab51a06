// Reading command input: standard input, and hex byte strings as conformance runners send them.
import { UserError } from "./exit-codes.js";

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parses "b7 00 2a ..." (any white space, an optional 0x per byte, or one unbroken hex string). */
export function parseHexBytes(text: string | Buffer, what: string): Uint8Array {
  const source = text.toString("utf8").trim();
  if (source === "") return new Uint8Array(0);
  const tokens = source.split(/\s+/).map((t) => t.replace(/^0x/i, ""));
  const digits = tokens.length === 1 ? tokens[0]! : tokens.map((t) => (t.length === 1 ? `0${t}` : t)).join("");
  const bad = tokens.find((t) => !/^[0-9a-f]+$/i.test(t) || (tokens.length > 1 && t.length > 2));
  if (bad !== undefined || digits.length % 2 !== 0) {
    throw new UserError(`${what}: expected hex bytes separated by spaces${bad !== undefined ? `, found '${bad}'` : " (odd number of hex digits)"}`);
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
  const elf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!elf && /\.[cm]?tsx?$/.test(file)) throw new UserError(`${file} is a TypeScript probe, not a compiled BPF object; ${instead}`);
}
