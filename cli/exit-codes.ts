// Exit codes of every tsbpf command, documented in the README.
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileErrorText } from "../compiler/file-error.js";

export const ExitCode = {
  OK: 0,
  /** A bug in tsbpf: please report it. */
  INTERNAL: 1,
  /** The command line or an input file is malformed. */
  USAGE: 2,
  /** The verifier (ours or the kernel's) rejected the program. */
  REJECTED: 3,
  /** No permission, or the running kernel lacks a feature. */
  NO_PERMISSION: 4,
  /** The program faulted or ran out of its instruction budget in the VM. */
  FAULT: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: printed as one message, never as a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.USAGE,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** A file the user named could not be read or written (exit 2), the reason in words. */
/** `name`: how the message names the file (`the recording r.jsonl`); `path` is where it is. */
export function fileError(verb: "read" | "write", path: string, error: unknown, name = path): UserError {
  // Writing, ENOENT means the directory: missing, or one that makes no new files (/proc, /sys).
  const noEntry = verb === "write" && (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  const why = !noEntry ? fileErrorText(error) : existsSync(dirname(path)) ? "its directory takes no new files (ENOENT)" : "its directory does not exist (ENOENT)";
  return new UserError(`cannot ${verb} ${name}: ${why}`);
}
