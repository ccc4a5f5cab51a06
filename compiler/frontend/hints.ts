// What to do about TypeScript errors that probe authors meet because a probe is not ordinary JavaScript:
// integers are `number`s (bigint does not mix with them), the file sees no JavaScript globals, and tsbpf's
// names come from an import. Takes a TypeScript error's code and message; gives a sentence to append, or "".

import { tsbpfClassMethods, tsbpfExports } from "./prelude.js";

/** Every name `import { ... } from "tsbpf"` offers, read from the prelude's module so that a new export has the hint too. */
let tsbpfNames: ReadonlySet<string> | undefined;
const isTsbpfName = (name: string): boolean => (tsbpfNames ??= new Set(tsbpfExports())).has(name);

/** Each map class's methods, read from the prelude as the names are. */
let mapMethods: ReadonlyMap<string, string[]> | undefined;

/** What JavaScript's Map and Set (and other libraries) call what a tsbpf map's method does. */
const METHOD_ALIASES: Readonly<Record<string, readonly string[]>> = {
  set: ["update"],
  put: ["update"],
  get: ["lookup"],
  has: ["lookup"],
  remove: ["delete"],
  add: ["record", "increment"],
  observe: ["record"],
  inc: ["increment"],
  push: ["output"],
  emit: ["output"],
  send: ["output"],
};

/** Conversions JavaScript offers that a probe writes as C casts. */
const CONVERSIONS: ReadonlySet<string> = new Set(["Number", "BigInt", "String", "Boolean", "parseInt"]);

/** JavaScript's and Node's globals people reach for (Math.min, Date.now, console.log, Object.keys, setTimeout). */
const JS_GLOBALS: ReadonlySet<string> = new Set([
  ...["Math", "Date", "JSON", "console", "process", "globalThis", "Array", "Object", "Map", "Set", "WeakMap", "WeakSet", "Symbol", "Reflect", "RegExp", "Intl"],
  ...["Promise", "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "queueMicrotask", "fetch", "require", "structuredClone", "performance", "crypto"],
  ...["Buffer", "ArrayBuffer", "Uint8Array", "Uint16Array", "Uint32Array", "BigUint64Array", "Int8Array", "Int16Array", "Int32Array", "BigInt64Array", "Float32Array", "Float64Array", "DataView", "TextEncoder", "TextDecoder"],
]);

/** bpftrace's `@x = count()` (or sum(v), hist(v), ...): a map of class `cls`, made with `made` and added to with `add`. */
const aggregation = (cls: string, made: string, add: string): string =>
  `a map: \`const x = new ${cls}(${made})\` at module level, then \`x.${add}(${add === "increment" ? "" : "v"})\`; \`new ${cls}<u32>(${made ? `${made}, ` : ""}1024)\` and \`x.${add}(key${add === "increment" ? "" : ", v"})\` keep one per key`;

/**
 * bpftrace's builtins and functions that tsbpf spells otherwise, or has no counterpart of: what a bpftrace user names
 * in a probe (`printf("%d\n", pid)`), and what to write instead.
 */
const BPFTRACE_NAMES: Readonly<Record<string, string>> = {
  pid: "`pidTgid() >> 32`, the process id",
  tid: "`pidTgid() as u32`, the thread id",
  uid: "`uidGid() as u32`",
  gid: "`uidGid() >> 32`",
  username: "`uidGid() as u32`, the user id: tsbpf does not name users",
  nsecs: "`ktimeBootNs()` (time suspended included, as bpftrace 0.17 counts it; `ktimeNs()` leaves it out)",
  elapsed: "`ktimeBootNs()` less the time a begin() handler kept: `const t0 = new ArrayMap<u64>(1); begin(() => { t0.update(0, ktimeBootNs()); });`",
  cpu: "`smpProcessorId()`",
  curtask: "`currentTask()`",
  cgroup: "`cgroupId()`",
  cgroupid: "`cgroupId(\"/sys/fs/cgroup/PATH\")`, that cgroup's id (`cgroupId()` alone is the current task's)",
  rand: "`prandomU32()`",
  func: "`probe()`, the probe's whole name (`uprobe:/bin/bash:readline`)",
  args: 'the handler\'s parameter: `tracepoint("syscalls", "sys_enter_openat", (ctx) => printf("%s\\n", readUserStr(ctx.filename)))`',
  retval: 'a kretprobe\'s or uretprobe\'s handler\'s parameter: `uretprobe("/bin/bash", "readline", (ret: u64) => ...)`',
  str: "`readUserStr(p)` for a user pointer, `readKernelStr(p)` for a kernel one",
  count: aggregation("Count", "", "increment"),
  sum: aggregation("Sum", "", "record"),
  avg: aggregation("Avg", "", "record"),
  min: `${aggregation("Min", "", "record")}; the smaller of two values is \`a < b ? a : b\``,
  max: `${aggregation("Max", "", "record")}; the larger of two values is \`a > b ? a : b\``,
  stats: aggregation("Stats", "", "record"),
  hist: aggregation("Histogram", "", "record"),
  lhist: aggregation("LinearHistogram", "min, max, step", "record"),
  delete: "a map's method: `m.delete(key)`",
  clear: "a map's method: `m.clear()`",
  zero: "`m.clear()`, which empties the map",
  print: "a map's method: `m.print()`, or `m.print(10)` for its 10 largest entries; values are printed with printf()",
  system: "tsbpf runs no commands for a probe: print what the command needs with printf() and run it on tsbpf's output",
  cat: "tsbpf reads no files for a probe",
};

/** What tsbpf writes for bpftrace's builtin, function, argument (`arg0`), positional parameter (`$1`) or variable (`$x`). */
function bpftraceName(name: string): string | undefined {
  if (Object.hasOwn(BPFTRACE_NAMES, name)) return BPFTRACE_NAMES[name];
  if (/^arg\d+$/.test(name)) return "the handler's parameters, typed for a uprobe: `uprobe(\"libc\", \"unlinkat\", (arg0: i32, arg1: u64) => ...)`";
  if (/^\$\d+$/.test(name)) return `a parameter of the probes: \`let p${name.slice(1)} = 0;\` (or \`let p${name.slice(1)}: Str<64> = "";\`) before them, given with \`tsbpf run --set p${name.slice(1)}=VALUE\``;
  if (/^\$\w+$/.test(name)) return `a local: declare it, \`let ${name} = 0;\``;
  return undefined;
}

/** JavaScript's errors: a probe cannot throw one. */
const JS_ERRORS: ReadonlySet<string> = new Set(["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError", "AggregateError"]);

// 2583 and 2584: a name a lib other than the one given declares (TypeScript then suggests changing the lib);
// 2580 and 2591: a name Node's types declare (TypeScript then suggests installing them); 2585: a value a later lib
// declares whose type the prelude has (Promise).
const CANNOT_FIND_NAME = new Set([2304, 2552, 2580, 2583, 2584, 2585, 2591]);
const ONLY_A_TYPE = 2693;
const BIGINT_MIX = new Set([2322, 2345, 2352, 2362, 2363, 2365]);
const MISSING_PROPERTY = 2339;

/**
 * TypeScript's message with what to do in a probe: its advice to change the lib (a probe has none) dropped, a hint
 * added. `member`: the name is the object of a property access (`Number.MAX_SAFE_INTEGER`, not `Number(x)`).
 */
export function typescriptMessage(code: number, message: string, member = false): string {
  let text = CANNOT_FIND_NAME.has(code) ? message.replace(/\. Do you need to (change your target library|install type definitions for node)\?[^\n]*/, ".") : message;
  // `0x...n as u64`: TypeScript's advice to convert through unknown would hide the bigint from the compiler too.
  if (code === 2352) text = text.replace(/ If this was intentional, convert the expression to 'unknown' first\./, "");
  // Str<16> into Str<64>: the chain below the first line is about the brand that carries a Str's size.
  if (code === 2322 && /^Type 'Str<\d+>' is not assignable to type 'Str<\d+>'/.test(text)) text = text.split("\n")[0]!;
  // ustack(3) counted in a Count<UserStack>: the same for the brand that carries a stack's frame limit.
  const stack = /^(?:Argument of type|Type) '(Kernel|User)Stack(<\d+>)?' is not assignable to (?:parameter of )?type '(Kernel|User)Stack(<\d+>)?'/.exec(text);
  if ((code === 2322 || code === 2345) && stack && stack[1] === stack[3]) {
    const [, kind, given = "<127>"] = stack;
    const call = `${kind === "User" ? "u" : "k"}stack(${given === "<127>" ? "" : given.slice(1, -1)})`;
    return `${text.split("\n")[0]!} (a stack's frame limit is part of its type: ${call} is a ${kind}Stack${given === "<127>" ? "" : given}; declare the map's key or the field ${kind}Stack${given === "<127>" ? "" : given} too)`;
  }
  // A handler returning what no probe returns: TypeScript prints the handler's whole type, a tracepoint's record in it.
  // (TS2322 at the returned value of an arrow function whose body is an expression.)
  const returned =
    code === 2345 && /^Argument of type '\(/.test(text)
      ? /\n\s*Type '([^']+)' is not assignable to type 'number \| bigint \| void'\.$/.exec(text)
      : code === 2322
        ? /^Type '([^']+)' is not assignable to type 'number \| bigint \| void'\.$/.exec(text)
        : null;
  if (returned) {
    // `() => pidTgid`: a helper named without its call.
    if (returned[1]!.startsWith("(")) return "this handler returns a function, and a probe's handler returns an integer or nothing: call it (`pidTgid()`), or `return 0;`";
    return `this handler returns ${returned[1]}, and a probe's handler returns an integer or nothing: \`return 0;\` or \`return;\``;
  }
  // `import type { u64 } from "tsbpf/kernel"`: the kernel's u64 is tsbpf's, so the module spells its own `u64_`.
  const kernelsOwn = /^'"tsbpf\/kernel"' has no exported member named '(\w+)'/.exec(text);
  if ((code === 2305 || code === 2724) && kernelsOwn && isTsbpfName(kernelsOwn[1]!)) {
    return `'"tsbpf/kernel"' has no exported member named '${kernelsOwn[1]}': it is tsbpf's own, the same type as the kernel's; import it from "tsbpf" (\`import type { ${kernelsOwn[1]} } from "tsbpf"\`)`;
  }
  // `s[0]` on a Str<16>: TypeScript names the type by the brand that carries its size; the second line says it again.
  if (code === STR_INDEX && /__tsbpfLength/.test(text)) {
    const named = text.split("\n")[0]!.replace(/'String & \{ readonly __tsbpfLength\?: (\d+|number)( \| undefined)?; \}'/, (_, n: string) => `'Str<${n}>'`);
    return `${named} (a Str's bytes are read with charCodeAt(i), as \`s.charCodeAt(0)\`)`;
  }
  // `p[3]` on a Ptr<u8>: the same for the brand that carries a pointer's pointee.
  if (code === STR_INDEX && /__tsbpfPointee/.test(text)) {
    const named = text.split("\n")[0]!.replace(/'Number & \{ readonly __tsbpfPointee\?: [^}]*\}'/, "'Ptr'");
    return `${named} (what a Ptr points to is read with readUser<u8>(p + i) for a user pointer, readKernel<u8>(p + i) for a kernel one)`;
  }
  return text + typescriptHint(code, text, member);
}

/** "Element implicitly has an 'any' type because expression of type X can't be used to index type Y". */
const STR_INDEX = 7053;

const NO_GLOBALS = " (a probe runs in the kernel, without JavaScript's globals: it calls tsbpf's helpers, imported from \"tsbpf\")";

function typescriptHint(code: number, message: string, member: boolean): string {
  const name = /^Cannot find name '([^']+)'/.exec(message)?.[1] ?? /^'([^']+)' only refers to a type/.exec(message)?.[1];
  if (name && CANNOT_FIND_NAME.has(code) && isTsbpfName(name)) return ` (import it: \`import { ${name} } from "tsbpf"\`)`;
  if (name && (CANNOT_FIND_NAME.has(code) || code === ONLY_A_TYPE) && CONVERSIONS.has(name)) {
    // Number.MAX_SAFE_INTEGER, Number.isInteger(x), String.fromCharCode(c): the global's members, not a conversion.
    return member ? NO_GLOBALS : " (a probe's integers are numbers of a C type: convert with `u32(x)` or `x as u32`)";
  }
  // The prelude declares a few of them as types only (Object, Array, Function): TypeScript then says 2693.
  const missing = name !== undefined && (CANNOT_FIND_NAME.has(code) || code === ONLY_A_TYPE);
  if (missing && JS_ERRORS.has(name)) {
    return " (a probe runs in the kernel, without JavaScript's globals, and cannot throw: `return` leaves the handler, `printf()` says what went wrong, `exit()` ends the run)";
  }
  if (missing && (JS_GLOBALS.has(name) || name === "Function")) return NO_GLOBALS;
  const bpftrace = name !== undefined && CANNOT_FIND_NAME.has(code) ? bpftraceName(name) : undefined;
  // A counterpart ("is `pidTgid() >> 32`"), or what to do where there is none ("tsbpf has no join(): ...").
  if (bpftrace) return ` (bpftrace's \`${name}\`${bpftrace.startsWith("tsbpf ") ? ":" : " is"} ${bpftrace})`;
  // Histogram, LinearHistogram, Count, Sum, Avg, Min, Max and Stats default their key type to never: keyless.
  if (code === 2345 && /is not assignable to parameter of type 'never'/.test(message)) {
    return " (a map declared without a key type, as `new Histogram()`, has no keys: call `record(value)` (a Count's `increment()`), or declare one, `new Histogram<u32>()`, to record by key)";
  }
  const method = code === MISSING_PROPERTY ? missingMapMethod(message) : "";
  if (method) return method;
  const sizes = /^Type 'Str<(\d+)>' is not assignable to type 'Str<(\d+)>'/.exec(message);
  if (code === 2322 && sizes) return ` (a Str's size is part of its type: this string is a Str<${sizes[1]}>; declare the binding or field Str<${sizes[1]}>)`;
  const operator = /^Operator .*'bigint'/.test(message);
  const given = /type '(bigint|-?\d+n)' (is not assignable to (parameter of )?type|to type) '(number|u\d+|i\d+)'/i.test(message);
  if (BIGINT_MIX.has(code) && (operator || given)) {
    return " (a probe's integers are numbers, which TypeScript does not mix with bigint: write a number, or `u64(0xffff_ffff_ffff_fff0n)` for a constant beyond 2^53)";
  }
  return "";
}

/** `m.set(k, v)` on a HashMap: the map's methods, and the one that does what the name meant where it has one. */
function missingMapMethod(message: string): string {
  const m = /^Property '(\w+)' does not exist on type '(\w+)(<[^']*>)?'/.exec(message);
  const methods = m && (mapMethods ??= tsbpfClassMethods()).get(m[2]!);
  if (!m || !methods?.length) return "";
  const list = methods.map((x) => `${x}()`);
  const listed = list.length > 1 ? `${list.slice(0, -1).join(", ")} and ${list.at(-1)}` : list[0]!;
  const instead = (METHOD_ALIASES[m[1]!] ?? []).find((x) => methods.includes(x));
  return ` (${/^[AEIOU]/.test(m[2]!) ? "an" : "a"} ${m[2]} has ${listed}${instead ? `: call ${instead}() for ${m[1]}()` : ""})`;
}
