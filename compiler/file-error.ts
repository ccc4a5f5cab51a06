// A file system error in words, for messages about files the user named ("no such file or directory", not ENOENT).
// No imports: the command line's start-up path uses it.

const WORDS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EEXIST: "it already exists",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
  EIO: "input/output error",
  EINVAL: "the file does not accept this (a special file?)",
  EMFILE: "the process has too many files open",
  ENFILE: "the system has too many files open",
};

/** Out of file descriptors (the process's or the system's): a failed read that says nothing about the file itself. */
export function outOfFiles(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** `error`'s reason in words (with the code, for searching), or its message when it carries no code. */
export function fileErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  const words = WORDS[code];
  return words ? `${words} (${code})` : code;
}
