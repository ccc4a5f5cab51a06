// User-space addresses to `function+offset`, as bpftrace prints a ustack. Takes a pid and an address (a frame of a
// BPF_F_USER_STACK stack trace); gives `symbol+offset` (decimal) from the symbol tables of the file mapped there, or
// `0x…` hex when nothing names it. A process's mappings are read from /proc/PID/maps when it is first seen and kept,
// so its frames can still be named after it has exited. A frame of a BPF_F_STACK_BUILD_ID stack (a build id and a
// file offset) needs no process: it is named from the file with that build id, looked for among the files mapped by
// processes seen, the files given, then the library directories and PATH. Code in no file (a JIT's) is named from the
// /tmp/perf-PID.map the runtime writes. Files are read with positional reads (the headers, then only
// the symbol and string tables) and their function tables are kept per file identity.

import { demangle } from "./demangle.js";
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type BigIntStats } from "node:fs";
import { delimiter, join } from "node:path";
import { SHT_DYNSYM, SHT_SYMTAB, bindingRank, definedFunctions, libraryDirs, loadSegments, type LoadSegment } from "./elfsym.js";

/** One line of /proc/PID/maps. */
export interface MapsEntry {
  start: bigint;
  /** One past the last address. */
  end: bigint;
  /** "r-xp" and the like. */
  perms: string;
  /** Offset in the file of the mapping's first byte. */
  offset: bigint;
  /** The mapped file's device, as the kernel numbers it (major, minor). */
  major: number;
  minor: number;
  /** 0 for anonymous mappings. */
  inode: bigint;
  /** The file's path without a " (deleted)" suffix, "[heap]"-style names, or "" for anonymous mappings. */
  path: string;
  /** The file was deleted (or replaced) after it was mapped. */
  deleted: boolean;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)(?: +(.*))?$/;
const DELETED = " (deleted)";

/** The entries of /proc/PID/maps text; lines that do not parse are left out. */
export function parseMaps(text: string): MapsEntry[] {
  const entries: MapsEntry[] = [];
  for (const line of text.split("\n")) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    // The path is the rest of the line: it may hold spaces.
    let path = m[8] ?? "";
    const deleted = path.startsWith("/") && path.endsWith(DELETED);
    if (deleted) path = path.slice(0, -DELETED.length);
    entries.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms: m[3]!,
      offset: BigInt(`0x${m[4]}`),
      major: parseInt(m[5]!, 16),
      minor: parseInt(m[6]!, 16),
      inode: BigInt(m[7]!),
      path,
      deleted,
    });
  }
  return entries;
}

/** A perf map's entries sorted by start (later lines win for the same start, as code is replaced). */
interface PerfMap {
  starts: number[];
  sizes: number[];
  names: string[];
}

/** The `START SIZE name` lines (hex start and size) of a /tmp/perf-PID.map; others are left out. */
export function parsePerfMap(text: string): PerfMap {
  const byStart = new Map<number, [size: number, name: string]>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.+)$/.exec(line);
    if (!m) continue;
    const start = parseInt(m[1]!, 16);
    const size = parseInt(m[2]!, 16);
    if (Number.isSafeInteger(start) && size > 0) byStart.set(start, [size, m[3]!]);
  }
  const starts = [...byStart.keys()].sort((a, b) => a - b);
  return { starts, sizes: starts.map((s) => byStart.get(s)![0]), names: starts.map((s) => byStart.get(s)![1]) };
}

/** The functions of one file, sorted by start, with what maps a file offset to their addresses. */
interface FunctionTable {
  segments: LoadSegment[];
  starts: Float64Array;
  sizes: Float64Array;
  names: string[];
  /** furthestEnds[i]: the furthest end of functions 0..i, so a search back for an enclosing function knows when to stop. */
  furthestEnds: Float64Array;
}

const NO_FUNCTIONS: Omit<FunctionTable, "segments"> = { starts: new Float64Array(0), sizes: new Float64Array(0), names: [], furthestEnds: new Float64Array(0) };

/** A file-backed mapping kept for a pid; `table` is filled in when an address in it is first named. */
interface KeptMapping {
  entry: MapsEntry;
  /** undefined: not looked at yet; null: nothing names addresses in it. */
  table?: FunctionTable | null;
}

const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;
const SHT_NOBITS = 8;
/** Note segments larger than this are not searched for a build id (they are a few dozen bytes). */
const MAX_NOTES = 1 << 16;

/** Names user-space addresses as bpftrace names ustack frames. */
export class UserSymbolizer {
  private readonly proc: string;
  private readonly debugDir: string;
  private readonly mappings = new Map<number, KeptMapping[]>();
  /** When each pid's mappings were read (Date.now()), and how old they may get before they are read again. */
  private readonly readAt = new Map<number, number>();
  private readonly refreshMs: number;
  /** Function tables by file identity (device, inode, size, mtime); null for files without any. */
  private readonly tables = new Map<string, FunctionTable | null>();
  /** Paths of files by build id (hex, zero-padded to 20 bytes as the kernel gives it), and the identities whose build id was read. */
  private readonly byBuildId = new Map<string, string>();
  private readonly buildIdsRead = new Set<string>();
  /** Files to look in for a build id before the directories are searched (a probe's binaries, a command). */
  private readonly candidates: string[] = [];
  private searchedDirectories = false;
  /** Each pid's perf map (JIT code), sorted by start, with the file size it was read at. */
  private readonly perfMaps = new Map<number, { size: number } & PerfMap>();

  /**
   * `proc`: where procfs is (default "/proc"); `debugDir`: the root of separate debug files looked up by build id
   * (default "/usr/lib/debug", searched as DIR/.build-id/ab/cdef….debug); `refreshMs`: how old a pid's mappings may
   * get before remember() reads them again (default 1000: a library loaded since then is seen within a second).
   */
  constructor(options: { proc?: string; debugDir?: string; refreshMs?: number } = {}) {
    this.proc = options.proc ?? "/proc";
    this.debugDir = options.debugDir ?? "/usr/lib/debug";
    this.refreshMs = options.refreshMs ?? 1000;
  }

  /**
   * Reads and keeps PID's memory mappings (call when a pid is first seen, and again now and then: they are gone once
   * the process exits). Mappings read less than `refreshMs` ago are kept as they are, unless `now`; a process that has
   * gone keeps the last ones read. False when none could ever be read.
   */
  remember(pid: number, now = false): boolean {
    const kept = this.mappings.has(pid);
    if (kept && !now && Date.now() - this.readAt.get(pid)! < this.refreshMs) return true;
    if (!Number.isSafeInteger(pid) || pid <= 0) return false;
    let text: string;
    try {
      text = readFileSync(`${this.proc}/${pid}/maps`, "utf8");
    } catch {
      return kept;
    }
    // An exiting process (a zombie) reads as having none: keep the last ones read.
    if (!text && kept) return true;
    this.readAt.set(pid, Date.now());
    // Only file mappings can be named; a deleted file cannot be checked to be the one mapped.
    const mappings = parseMaps(text)
      .filter((e) => e.inode !== 0n && e.path.startsWith("/") && !e.deleted)
      .map((entry): KeptMapping => ({ entry }));
    this.mappings.set(pid, mappings);
    // A process in a mount namespace or root of its own (a container) has its files where only /proc/PID/root reaches,
    // and only while it lives: read the executable ones' tables now.
    if (!this.seesOurFiles(pid)) for (const m of mappings) if (m.entry.perms[2] === "x") this.tableOf(pid, m);
    return true;
  }

  /** Drops what is kept for PID (for long sessions: its pid may be reused by another program). */
  forget(pid: number): void {
    this.mappings.delete(pid);
    this.readAt.delete(pid);
  }

  /**
   * `symbol+offset` for an address of PID (its kept mappings, read now if not yet kept), else `0x…` hex; without
   * `offsets`, the symbol alone (bpftrace's usym()). Never throws for bad input: unreadable files, stripped binaries,
   * anonymous/[vdso]/[stack] mappings, deleted files all give hex.
   */
  symbolize(pid: number, address: bigint, offsets = true): string {
    const hex = `0x${BigInt.asUintN(64, address).toString(16)}`;
    // Code no file holds (a JIT's) may be named in the perf map the runtime writes.
    const jitted = () => this.perfMapName(pid, address, offsets) ?? hex;
    if (!this.remember(pid)) return jitted();
    const mapping = this.mappings.get(pid)!.find((m) => address >= m.entry.start && address < m.entry.end);
    if (!mapping) return jitted();
    const table = this.tableOf(pid, mapping);
    if (!table) return hex;
    const fileOffset = address - mapping.entry.start + mapping.entry.offset;
    const vaddr = fileVirtualAddress(table.segments, fileOffset, mapping.entry.perms[2] === "x");
    if (vaddr === undefined) return hex;
    return nameIn(table, Number(vaddr), offsets) ?? hex;
  }

  /**
   * `name+offset` from /tmp/perf-PID.map, where JIT compilers (node --perf-basic-prof, Java's perf-map-agent, Python's
   * -X perf) list the code they generate as `START SIZE name` lines in hex; read again when it has grown.
   */
  private perfMapName(pid: number, address: bigint, offsets = true): string | undefined {
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    let map = this.perfMaps.get(pid);
    // The process's own /tmp first (it may be in another mount namespace), then ours once it has gone.
    for (const path of [`${this.proc}/${pid}/root/tmp/perf-${pid}.map`, `/tmp/perf-${pid}.map`]) {
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        continue;
      }
      if (map?.size !== size) {
        try {
          this.perfMaps.set(pid, (map = { size, ...parsePerfMap(readFileSync(path, "utf8")) }));
        } catch {
          continue;
        }
      }
      break;
    }
    if (!map) return undefined;
    const at = Number(address);
    // The last entry starting at or below the address, if the address is inside it.
    let lo = 0;
    let hi = map.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (map.starts[mid]! <= at) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0 || at >= map.starts[found]! + map.sizes[found]!) return undefined;
    return offsets ? `${map.names[found]}+${at - map.starts[found]!}` : map.names[found];
  }

  /** Files to look in first when a build id names a frame's file (a probe's binaries, the command a run starts). */
  addFiles(paths: Iterable<string>): void {
    this.candidates.push(...paths);
  }

  /**
   * `symbol+offset` for an offset into the file whose GNU build id is `buildId` (hex), as a BPF_F_STACK_BUILD_ID
   * stack gives a frame; where nothing names it, the file's virtual address for it (what addr2line and gdb take:
   * `0x401159 (/usr/bin/x)` in an executable loaded at 0x400000), or the offset and the build id when no file with it
   * is found (`0x1159 (build id 93ac…)`). An offset below 0 is `[unknown]`: the kernel takes a
   * frame's file from the first mapping ending above its address, so a stray value under a mapping (a frame-pointer
   * walk through code built without them) gets a negative offset into it, which names nothing.
   */
  symbolizeBuildId(buildId: string, fileOffset: bigint): string {
    if (BigInt.asIntN(64, fileOffset) < 0n) return "[unknown]";
    const unnamed = `0x${BigInt.asUintN(64, fileOffset).toString(16)}`;
    const path = this.fileWithBuildId(buildId.toLowerCase().padEnd(40, "0"));
    if (!path) return `${unnamed} (build id ${buildId})`;
    let table: FunctionTable | null;
    try {
      const key = identity(statSync(path, { bigint: true }));
      if (!this.tables.has(key)) this.tables.set(key, this.readTable(path, (st) => identity(st) === key));
      table = this.tables.get(key)!;
    } catch {
      table = null;
    }
    const vaddr = table ? fileVirtualAddress(table.segments, fileOffset, true) : undefined;
    return (vaddr !== undefined && nameIn(table!, Number(vaddr))) || `${vaddr !== undefined ? `0x${vaddr.toString(16)}` : unnamed} (${path})`;
  }

  /** The path of a file with build id `padded`: among the files seen mapped, those given, then every file in the directories. */
  private fileWithBuildId(padded: string): string | undefined {
    const found = (paths: Iterable<string>): string | undefined => {
      for (const path of paths) {
        if (this.byBuildId.has(padded)) break;
        this.readBuildId(path);
      }
      return this.byBuildId.get(padded);
    };
    const mapped = function* (mappings: Map<number, KeptMapping[]>) {
      for (const kept of mappings.values()) for (const m of kept) yield m.entry.path;
    };
    const hit = this.byBuildId.get(padded) ?? found(mapped(this.mappings)) ?? found(this.candidates);
    if (hit || this.searchedDirectories) return hit;
    this.searchedDirectories = true;
    const dirs = [...new Set([...libraryDirs(), ...(process.env.PATH ?? "").split(delimiter).filter(Boolean)])];
    return found((function* () {
      for (const dir of dirs) {
        let names: string[];
        try {
          names = readdirSync(dir);
        } catch {
          continue;
        }
        for (const name of names) yield join(dir, name);
      }
    })());
  }

  /** Reads the build id of the file at `path` unless a file with its identity was read before. */
  private readBuildId(path: string): void {
    withFile(path, (fd, st) => {
      const key = identity(st);
      if (this.buildIdsRead.has(key)) return null;
      this.buildIdsRead.add(key);
      const id = readLayout(fd, st.size)?.buildId;
      if (id && !this.byBuildId.has(id.padEnd(40, "0"))) this.byBuildId.set(id.padEnd(40, "0"), path);
      return null;
    });
  }

  /** Whether PID sees files at the paths we do: the same mount namespace and root. */
  private seesOurFiles(pid: number): boolean {
    try {
      for (const what of ["ns/mnt", "root"]) {
        const theirs = statSync(`${this.proc}/${pid}/${what}`);
        const ours = statSync(`${this.proc}/self/${what}`);
        if (theirs.dev !== ours.dev || theirs.ino !== ours.ino) return false;
      }
      return true;
    } catch {
      // Not visible (a test's fake procfs, or no permission): nothing to read early.
      return true;
    }
  }

  private tableOf(pid: number, mapping: KeptMapping): FunctionTable | null {
    if (mapping.table !== undefined) return mapping.table;
    const { entry } = mapping;
    mapping.table = null;
    // The process's own view of the path first (it may live in another mount namespace), then ours once it is gone.
    for (const path of [`${this.proc}/${pid}/root${entry.path}`, entry.path]) {
      let st: BigIntStats;
      try {
        st = statSync(path, { bigint: true });
      } catch {
        continue;
      }
      if (!st.isFile() || !isMappedFile(st, entry)) continue;
      const key = identity(st);
      if (!this.tables.has(key)) this.tables.set(key, this.readTable(path, (opened) => isMappedFile(opened, entry)));
      mapping.table = this.tables.get(key)!;
      break;
    }
    return mapping.table;
  }

  /** The function table of the file at `path`, if the file opened is the one `expected` says (the one a mapping maps). */
  private readTable(path: string, expected: (st: BigIntStats) => boolean): FunctionTable | null {
    return withFile(path, (fd, st) => {
      if (!expected(st)) return null;
      const layout = readLayout(fd, st.size);
      if (!layout) return null;
      let functions = readFunctions(fd, st.size, layout, SHT_SYMTAB);
      // A distribution's stripped file keeps its full table in a debug file named by its build id.
      if (!functions && layout.buildId) {
        const debugPath = `${this.debugDir}/.build-id/${layout.buildId.slice(0, 2)}/${layout.buildId.slice(2)}.debug`;
        functions = withFile(debugPath, (debugFd, debugSt) => {
          const debugLayout = readLayout(debugFd, debugSt.size);
          return debugLayout ? readFunctions(debugFd, debugSt.size, debugLayout, SHT_SYMTAB) : null;
        });
      }
      functions ??= readFunctions(fd, st.size, layout, SHT_DYNSYM);
      // The debug file's program headers describe no file contents: the mapped file's own translate offsets. A file
      // that names no function still translates them, into the addresses addr2line takes.
      return layout.segments.length ? { segments: layout.segments, ...(functions ?? NO_FUNCTIONS) } : null;
    });
  }
}

const identity = (st: BigIntStats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;

/** Whether a stat describes the file a maps entry names (glibc's st_dev encoding of major and minor). */
export function isMappedFile(st: BigIntStats, entry: MapsEntry): boolean {
  const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
  const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
  return st.ino === entry.inode && major === entry.major && minor === entry.minor;
}

/** Runs `use` on the regular file at `path` opened for reading, closing it on every path; null when it cannot be read. */
function withFile<T>(path: string, use: (fd: number, st: BigIntStats) => T | null): T | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.isFile() ? use(fd, st) : null;
  } catch {
    // A file shorter than its headers say, or one that changed under us: nothing to name with.
    return null;
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes at `position`; throws when the file ends before them. */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new RangeError(`file ends at ${position + done}, ${length - done} bytes short`);
    done += n;
  }
  return buffer;
}

interface SectionHeader {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

interface ElfLayout {
  segments: LoadSegment[];
  sections: SectionHeader[];
  /** Lower-case hex of the NT_GNU_BUILD_ID note. */
  buildId: string | undefined;
}

/** The program and section headers and build id of a little-endian ELF64 file; undefined for anything else. */
function readLayout(fd: number, fileSize: bigint): ElfLayout | undefined {
  const size = Number(fileSize);
  if (size < 64) return undefined;
  const ehdr = readAt(fd, 0, 64);
  if (ehdr.readUInt32BE(0) !== 0x7f454c46 || ehdr[4] !== 2 || ehdr[5] !== 1) return undefined;
  const phoff = Number(ehdr.readBigUInt64LE(0x20));
  const shoff = Number(ehdr.readBigUInt64LE(0x28));
  const phentsize = ehdr.readUInt16LE(0x36);
  const phnum = ehdr.readUInt16LE(0x38);
  const shentsize = ehdr.readUInt16LE(0x3a);
  let shnum = ehdr.readUInt16LE(0x3c);

  const inFile = (at: number, length: number): boolean => at >= 0 && length >= 0 && at + length <= size;
  let segments: LoadSegment[] = [];
  let buildId: string | undefined;
  if (phnum && inFile(phoff, phnum * phentsize)) {
    const phdrs = readAt(fd, phoff, phnum * phentsize);
    segments = loadSegments(phdrs, 0, phnum, phentsize);
    for (let i = 0; i < phnum && !buildId && phentsize >= 56; i++) {
      const at = i * phentsize;
      if (phdrs.readUInt32LE(at) !== PT_NOTE) continue;
      const noteOffset = Number(phdrs.readBigUInt64LE(at + 8));
      const noteSize = Number(phdrs.readBigUInt64LE(at + 32));
      if (noteSize <= MAX_NOTES && inFile(noteOffset, noteSize)) buildId = gnuBuildId(readAt(fd, noteOffset, noteSize));
    }
  }

  const sections: SectionHeader[] = [];
  if (shoff && shentsize >= 64) {
    // More than 0xff00 sections: the count is in the first header's sh_size.
    if (shnum === 0 && inFile(shoff, 64)) shnum = Number(readAt(fd, shoff, 64).readBigUInt64LE(0x20));
    if (inFile(shoff, shnum * shentsize)) {
      const shdrs = readAt(fd, shoff, shnum * shentsize);
      for (let at = 0; at < shdrs.length; at += shentsize) {
        sections.push({
          type: shdrs.readUInt32LE(at + 4),
          offset: Number(shdrs.readBigUInt64LE(at + 0x18)),
          size: Number(shdrs.readBigUInt64LE(at + 0x20)),
          link: shdrs.readUInt32LE(at + 0x28),
          entsize: Number(shdrs.readBigUInt64LE(at + 0x38)),
        });
      }
    }
  }
  return { segments, sections, buildId };
}

/** The GNU build id among notes (namesz, descsz, type, name and desc each padded to 4 bytes), as hex. */
function gnuBuildId(notes: Buffer): string | undefined {
  for (let at = 0; at + 12 <= notes.length; ) {
    const nameSize = notes.readUInt32LE(at);
    const descSize = notes.readUInt32LE(at + 4);
    const type = notes.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align4(nameSize);
    if (descAt + descSize > notes.length) return undefined;
    if (type === NT_GNU_BUILD_ID && nameSize === 4 && notes.toString("latin1", nameAt, nameAt + 4) === "GNU\0" && descSize > 0) {
      return notes.toString("hex", descAt, descAt + descSize);
    }
    at = descAt + align4(descSize);
  }
  return undefined;
}

/** Symbol values above this are not user-space code (and would lose precision as numbers). */
const MAX_ADDRESS = BigInt(Number.MAX_SAFE_INTEGER);

const align4 = (n: number): number => (n + 3) & ~3;

/** The functions of the file's first symbol table of type `tableType`, sorted and one per start; null when it has none. */
function readFunctions(fd: number, fileSize: bigint, layout: ElfLayout, tableType: number): Omit<FunctionTable, "segments"> | null {
  const size = Number(fileSize);
  const table = layout.sections.find((s) => s.type === tableType && s.size > 0);
  const strings = table && layout.sections[table.link];
  if (!table || !strings || strings.type === SHT_NOBITS || table.offset + table.size > size || strings.offset + strings.size > size) return null;
  // Parallel arrays and a sorted index: a large binary (node's) has 100k+ functions.
  const values: number[] = [];
  const lengths: number[] = [];
  const ranks: number[] = [];
  const labels: string[] = [];
  for (const f of definedFunctions(readAt(fd, table.offset, table.size), table.entsize, readAt(fd, strings.offset, strings.size))) {
    // Value 0 is an undefined weak reference or a placeholder, never code; user space lies far below 2^53.
    if (f.value === 0n || f.value > MAX_ADDRESS) continue;
    values.push(Number(f.value));
    lengths.push(Number(f.size));
    ranks.push(bindingRank(f.bind));
    // .symtab spells a symbol's version into its name (clock_nanosleep@GLIBC_2.2.5): frames name the function.
    const at = f.name.indexOf("@");
    labels.push(at > 0 ? f.name.slice(0, at) : f.name);
  }
  if (!values.length) return null;
  // Among equal starts and bindings, the table's first wins.
  const order = Array.from(values.keys()).sort((a, b) => values[a]! - values[b]! || ranks[a]! - ranks[b]! || a - b);
  const kept = order.filter((at, i) => i === 0 || values[order[i - 1]!] !== values[at]);
  const starts = new Float64Array(kept.length);
  const sizes = new Float64Array(kept.length);
  const furthestEnds = new Float64Array(kept.length);
  kept.forEach((at, i) => {
    starts[i] = values[at]!;
    sizes[i] = lengths[at]!;
    furthestEnds[i] = Math.max(starts[i]! + sizes[i]!, i ? furthestEnds[i - 1]! : 0);
  });
  return { starts, sizes, names: kept.map((at) => labels[at]!), furthestEnds };
}

/** The ELF virtual address a file offset is loaded at, through the PT_LOAD segment holding it (an executable one first for code). */
function fileVirtualAddress(segments: LoadSegment[], fileOffset: bigint, executable: boolean): bigint | undefined {
  const holding = segments.filter((s) => fileOffset >= s.fileOffset && fileOffset < s.fileOffset + s.fileSize);
  const segment = holding.find((s) => s.executable === executable) ?? holding[0];
  return segment && segment.vaddr + (fileOffset - segment.fileOffset);
}

/** `name+offset` of the function holding `vaddr`: one whose [start, start+size) does, or the nearest below when it has no size. */
function nameIn(table: FunctionTable, vaddr: number, offsets = true): string | undefined {
  const { starts, sizes, names, furthestEnds } = table;
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= vaddr) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return undefined;
  const named = (i: number) => (offsets ? `${demangle(names[i]!)}+${vaddr - starts[i]!}` : demangle(names[i]!));
  if (sizes[found] === 0) return named(found);
  // A function can enclose others (nested labels with sizes): look back while anything earlier reaches this far.
  for (let i = found; i >= 0 && furthestEnds[i]! > vaddr; i--) {
    if (vaddr < starts[i]! + sizes[i]!) return named(i);
  }
  return undefined;
}
