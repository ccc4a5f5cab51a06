// Lowering printf(), time(), exit() and the other actions: records sent to the actions ring buffer for tsbpf run to print.

import type * as TS from "typescript";
import { ACTIONS, INET_STRUCT, MAX_STRFTIME_FORMAT, droppedCounterName, strftimeFormatOf } from "../../btf/tags.js";
import { I32, I64, MAX_STACK_FRAMES, PTR, U32, U64, U8, typeName, type Block, type Layout, type MapDef, type Operand, type VReg } from "../../ir/index.js";
import {
  argKind,
  checkTimeFormat,
  formatPrintf,
  formatText,
  parseFormat,
  joinSpec,
  printfLayout,
  strftimeSpec,
  type ArgSpec,
  type Conversion,
  type FormatPiece,
} from "../../ir/printf.js";
import { Helper } from "../../isa/helpers.js";
import { Code } from "../diagnostics.js";
import { ACTIONS_MAP, ACTION_RECORD, AF_INET, AF_INET6, COMM_LAYOUT, INET_LAYOUT, strftimeLayout, MAP_TYPES, MAX_BUF, PRINTED_STRING, PRINTF_RING_BYTES, USER_SYMBOL_LAYOUT } from "./constants.js";
import { PrintkLowering } from "./printk.js";
import { aLayout, imm, withArticle } from "./types.js";
import type { PrintfArg, Ref, Val } from "./values.js";

/** join()'s most strings, and the bytes each is read into: bpftrace 0.17's (16 arguments of up to 1023 bytes). */
const JOIN_COUNT = 16;
const JOIN_SIZE = 1024;

export abstract class PrintfLowering extends PrintkLowering {
  /** The actions ring buffer, created by the first request; made larger by the first printf(), whose records are. */
  actionsMap(printf: boolean): void {
    const def: MapDef = { name: ACTIONS_MAP, type: MAP_TYPES.RingBuf, maxEntries: printf ? PRINTF_RING_BYTES : 4096, internal: true, actions: this.cx.actionTargets, printf: this.cx.printfSites, times: this.cx.timeFormats };
    const at = this.cx.maps.findIndex((m) => m.name === ACTIONS_MAP);
    if (at < 0) this.cx.maps.push(def);
    else if (printf) this.cx.maps[at] = def;
  }

  /**
   * printf(format, ...values), as bpftrace's printf: the values in a record sent to the actions ring buffer,
   * formatted by tsbpf run in user space (C's conversions, widths and all; no trace_pipe, no limit of values).
   * Integers keep their width (at least 32 bits, as C's varargs promote them) and sign; strings their Str size, 64
   * bytes for one read straight in (bpftrace's str()), 16 for comm().
   * A template literal is a format too, each value printed as the template would print it (`${pid}` with %d or %u
   * by its type, a string with %s, a boolean as `true` or `false`).
   */
  printf(e: TS.CallExpression): void {
    const [formatArg, ...rest] = e.arguments;
    const template = formatArg && this.ts.isTemplateExpression(formatArg) ? this.templateFormat(formatArg) : undefined;
    if (template && rest.length) this.fail(rest[0]!, Code.BadPrintk, "a template literal format holds its values: printf(`${pid} ${comm()}\\n`), or a C format and values: printf(\"%d %s\\n\", pid, comm())");
    const formatSource = template ? "" : formatArg && this.formatText(formatArg);
    if (formatSource === undefined) {
      return this.fail(formatArg ?? e, Code.BadPrintk, 'printf() takes a format first (a string literal, a template literal, or a module-level string constant), then its values: printf("%-6d %s\\n", pid, name)');
    }
    // The format travels as a C string (in BTF, and to the reader): a NUL would end it there.
    if ((template?.pieces ?? [formatSource]).some((p) => typeof p === "string" && p.includes("\0"))) {
      this.fail(formatArg!, Code.BadPrintk, "a printf format cannot hold a NUL character (\\0): it ends a C string; print it with %c and 0 if it must be written");
    }
    const pieces = template?.pieces ?? parseFormat(formatSource);
    if (typeof pieces === "string") return this.fail(formatArg!, Code.BadPrintk, pieces);
    const values = template?.values ?? rest;
    const conversions = pieces.filter((p): p is Conversion => typeof p !== "string");
    if (conversions.length !== values.length) this.fail(e, Code.BadPrintk, `the format has ${conversions.length} conversion${conversions.length === 1 ? "" : "s"} and printf() is given ${values.length} value${values.length === 1 ? "" : "s"}`);
    // Text known now joins the format: a string literal's (a header's "%-6s", "PID"), a template's constants.
    const literal = (x: TS.Expression): x is TS.StringLiteral | TS.NoSubstitutionTemplateLiteral => this.ts.isStringLiteral(x) || this.ts.isNoSubstitutionTemplateLiteral(x);
    const folded = values.map((x, i): string | undefined => (argKind(conversions[i]!) !== "str" ? undefined : literal(x) ? x.text : this.ts.isIdentifier(x) ? this.formatText(x) : undefined));
    const kept = values.flatMap((x, i) => (folded[i] === undefined ? [{ x, c: conversions[i]!, i }] : []));
    // Integers are evaluated now, into registers; strings are read or copied into the record once it is reserved.
    const args = kept.flatMap<PrintfArg>(({ x, c, i }) => {
      if (template?.byType.has(c)) {
        const v = this.value(x);
        const t = v.op.type;
        if (v.op.kind === "imm") {
          folded[i] = t.bool ? String(v.op.value !== 0n) : t.ptr ? `0x${BigInt.asUintN(64, v.op.value).toString(16)}` : String(v.op.value);
          c.spec = "s";
          return [];
        }
        if (t.bool) {
          const flag = v.op;
          c.spec = "s";
          return { spec: "s6", layout: { kind: "str", size: 6, align: 1 }, fill: (dst) => this.boolInto(dst, flag, x) };
        }
        c.spec = t.ptr ? "p" : t.signed ? "d" : "u";
        return this.printfInt(v, x);
      }
      if (argKind(c) === "bytes") {
        // A Buf kept in a local, field or map: its count and bytes, as buf() would have read them into the record.
        const kept = !(this.ts.isCallExpression(x) && ["buf", "kbuf"].includes(this.cx.builtin(x.expression) ?? "")) && this.checker.getTypeAtLocation(x).getProperty("__tsbpfBuf") ? this.tryRef(x) : undefined;
        if (kept?.layout.kind === "struct") {
          const room = kept.layout.size - 4;
          return { spec: `r${room}`, layout: kept.layout, fill: (dst) => this.chunks(dst, kept.layout.size, x, kept) };
        }
        return this.bytes(x, c);
      }
      if (argKind(c) === "str") {
        const address = this.ntop(x);
        if (address) return address;
        const mac = this.macaddr(x);
        if (mac) return mac;
        const stamp = this.strftime(x);
        if (stamp) return stamp;
        // probe()'s id (a ProbeName): tsbpf run prints the probe's name.
        const type = this.checker.getTypeAtLocation(x);
        if (type.getProperty("__tsbpfProbeName")) {
          const value = this.value(x);
          return { spec: "p", layout: this.cx.intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
        }
        if (type.getProperty("__tsbpfKsym")) {
          const value = this.value(x);
          return { spec: "ksym", layout: this.cx.intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
        }
        // usym()'s address and process: tsbpf run prints the function it is in within that process.
        if (type.getProperty("__tsbpfUsym")) {
          const src = this.tryRef(x);
          if (!src) return this.fail(x, Code.BadPrintk, `%${c.spec} of a UserSymbol takes usym(address) or a value it gave`);
          return { spec: "usym", layout: USER_SYMBOL_LAYOUT, fill: (dst) => this.chunks(dst, USER_SYMBOL_LAYOUT.size, x, src) };
        }
        // A Strftime kept in a local, field or map: its nanoseconds, printed in the format its type carries.
        if (type.getProperty("__tsbpfStrftime")) {
          const src = this.tryRef(x);
          const format = src?.layout.kind === "struct" ? strftimeFormatOf(src.layout.name) : undefined;
          if (format === undefined) return this.fail(x, Code.BadPrintk, `%${c.spec} of a Strftime takes strftime(format, ns) or a value it gave`);
          return { spec: strftimeSpec(format), layout: src!.layout, fill: (dst) => this.chunks(dst, 8, x, src!) };
        }
        // A MacAddr or IpAddr kept in a local, field or map: its bytes (an IpAddr with its family) into the record.
        if (type.getProperty("__tsbpfMacAddr") || type.getProperty("__tsbpfIpAddr")) {
          const src = this.tryRef(x);
          if (!src || src.layout.kind !== "struct") return this.fail(x, Code.BadPrintk, `%${c.spec} of ${type.getProperty("__tsbpfMacAddr") ? "a MacAddr takes macaddr(addr)" : "an IpAddr takes ntop(addr)"} or a value it gave`);
          const layout = src.layout;
          return { spec: layout.name === INET_STRUCT ? "inet" : "m6", layout, fill: (dst) => this.chunks(dst, layout.size, x, src) };
        }
        if (type.getProperty("__tsbpfBuf")) {
          const fixed = formatText(pieces.map((p) => (p === c ? { ...c, spec: "r" } : p)));
          return this.fail(x, Code.BadPrintk, `%s prints a string, and buf()'s bytes print with %r: printf(${JSON.stringify(fixed)}, ${values.map((v) => v.getText(this.file)).join(", ")})`);
        }
        // A kstack()/ustack() id: tsbpf run prints the stack's frames, as bpftrace's printf("%s", kstack).
        if (type.getProperty("__tsbpfStack")) {
          const value = this.value(x);
          const t = value.op.type;
          return { spec: `${t.stack === "user" ? "u" : "k"}stack${t.frames ?? MAX_STACK_FRAMES}`, layout: this.cx.intLayout(U64), fill: (dst) => this.storeInt(dst, value, x) };
        }
        const read = this.stringCall(x);
        // `c ? "W" : "R"`: a string as long as the longest literal, filled by the arm taken.
        const chosen = this.cx.literalsSize(x);
        if (read || this.isDynamicString(x) || chosen) {
          const size = chosen ?? (read === "comm" ? COMM_LAYOUT.size : PRINTED_STRING.size);
          return { spec: `s${size}`, layout: { kind: "str", size, align: 1 }, fill: (dst) => this.assignInto(dst, x) };
        }
        // A kernel enum (a record's `enum skb_drop_reason reason`, or a value typed as one imported from "tsbpf/kernel"):
        // its value, which tsbpf run prints as the enumerator's name in the running kernel's BTF.
        // So is a kernel struct's enum member (`sk.sk_socket.state`, a socket_state).
        const field = this.tracepointField(x);
        const fieldEnum = /^enum\s+(\w+)\s/.exec(field?.cType ?? "")?.[1];
        const typed = this.cx.kernel.enums.get(this.checker.getTypeAtLocation(x).getSymbol()?.getName() ?? "");
        const member = this.ts.isPropertyAccessExpression(x) ? this.cx.kernelMemberOf(x)?.member : undefined;
        const memberEnum = member?.kind === "int" && (member.enum || member.enumTypedef) ? member : undefined;
        // An anonymous enum goes by its typedef (`socket_state`), which the reader resolves to the enum.
        const enumName = fieldEnum ?? typed?.name ?? (memberEnum?.enum || memberEnum?.enumTypedef);
        if (enumName) {
          const value = this.value(x);
          const wide = (field?.size ?? typed?.size ?? memberEnum?.size ?? 4) > 4;
          return { spec: `e${wide ? 64 : 32}.${enumName}`, layout: this.cx.intLayout(wide ? U64 : U32), fill: (dst) => this.storeInt(dst, value, x) };
        }
        const src = this.tryRef(x);
        if (!src || src.layout.kind !== "str") return this.fail(x, Code.BadPrintk, `%${c.spec} prints a string (a Str<N>, comm(), readUserStr(p) of a user pointer, readKernelStr(p) of a kernel one), not \`${x.getText(this.file)}\``);
        return { spec: `s${src.layout.size}`, layout: src.layout, fill: (dst) => this.chunks(dst, src.layout.size, x, src) };
      }
      const read = this.stringCall(x);
      const ref = read || literal(x) ? undefined : this.tryRef(x);
      // A string given to %d: the format as it would print it, with %s there.
      if (read || literal(x) || this.isDynamicString(x) || ref?.layout.kind === "str") {
        const what = read === "comm" ? "comm() is a Str<16>" : ref?.layout.kind === "str" ? `\`${x.getText(this.file)}\` is ${aLayout(ref.layout)}` : `\`${x.getText(this.file)}\` is a string`;
        const fixed = formatText(pieces.map((p) => (p === c ? { ...c, spec: "s", flags: c.flags.includes("-") ? "-" : "", length: "" } : p)));
        this.fail(x, Code.BadPrintk, `%${c.spec} prints an integer, and ${what}, which %s prints: printf(${JSON.stringify(fixed)}, ${values.map((v) => v.getText(this.file)).join(", ")})`);
      }
      if (ref && ref.layout.kind !== "int") this.fail(x, Code.BadPrintk, `%${c.spec} prints an integer, not ${aLayout(ref.layout)}`);
      return this.printfInt(this.value(x), x);
    });
    let n = 0;
    const format = formatText(pieces.map((p) => {
      if (typeof p === "string") return p;
      const text = folded[n++];
      return text === undefined ? p : formatPrintf([p], [text], [0]);
    }));
    const id = this.cx.printfSites.push({ format, args: args.map((a) => a.spec) }) - 1;
    this.actionsMap(true);
    const { offsets, size } = printfLayout(args.map((a) => a.spec));
    const loc = this.locOf(e);
    const record = this.fb.vreg(PTR);
    this.fb.emit({ op: "call", helper: Helper.ringbuf_reserve, args: [{ kind: "map", name: ACTIONS_MAP }, imm(BigInt(size), U64), imm(0n, U64)], dst: record, loc });
    // A full buffer drops the line, as bpftrace's printf drops it when its perf buffer is full, and counts it.
    const join = this.fb.newBlock();
    this.unlessDropped(ACTIONS_MAP, record, join, e);
    this.zero({ layout: { kind: "array", element: { kind: "int", type: U64, size: 8, align: 8 }, length: size / 8, size, align: 8 }, base: record, offset: 0 }, e);
    const [actionField, idField] = ACTION_RECORD.fields.map((f) => ({ layout: f.layout, base: record, offset: f.offset }));
    this.storeInt(actionField!, { op: imm(BigInt(ACTIONS.printf), U32) }, e);
    this.storeInt(idField!, { op: imm(BigInt(id), U32) }, e);
    args.forEach((a, i) => a.fill({ layout: a.layout, base: record, offset: offsets[i]! }));
    this.fb.emit({ op: "call", helper: Helper.ringbuf_submit, args: [record, imm(0n, U64)], loc });
    this.fb.terminate({ op: "jmp", target: join.id });
    this.enter(join);
  }

  /**
   * join(argv, separator = " "), bpftrace's join(): the strings of a user array of `char *` (a tracepoint's argv) up to
   * its first NULL, at most JOIN_COUNT of them, each read into JOIN_SIZE bytes of one printf record, which tsbpf run
   * writes on one line, separated, as bpftrace writes it. Only each string's first byte is zeroed first: the reader
   * stops at the first empty one, and a read that faults zeroes what it was given.
   */
  join(e: TS.CallExpression): void {
    const [array, given, ...extra] = e.arguments;
    const separator = given === undefined ? " " : this.formatText(given);
    if (!array || extra.length || separator === undefined) {
      return this.fail(e, Code.UnsupportedCall, 'join() takes a user array of strings (a tracepoint\'s `ctx.argv`) and optionally a separator, a string literal: join(ctx.argv, ",")');
    }
    if (separator.includes("\0")) this.fail(given!, Code.BadPrintk, "join()'s separator cannot hold a NUL character (\\0)");
    const p = this.value(array);
    if (!p.untyped && !p.op.type.ptr && p.op.type.bits !== 64) {
      this.fail(array, Code.PointerAccess, `join() reads an array of pointers at an address: \`${array.getText(this.file)}\` is ${withArticle(typeName(p.op.type))}, too narrow for one (use a Ptr or a u64)`);
    }
    const base = this.convert(p, U64);
    const spec = joinSpec(JOIN_SIZE, JOIN_COUNT, separator);
    const id = this.cx.printfSites.push({ format: "%s\n", args: [spec] }) - 1;
    this.actionsMap(true);
    const { offsets, size } = printfLayout([spec]);
    const loc = this.locOf(e);
    const record = this.fb.vreg(PTR);
    this.fb.emit({ op: "call", helper: Helper.ringbuf_reserve, args: [{ kind: "map", name: ACTIONS_MAP }, imm(BigInt(size), U64), imm(0n, U64)], dst: record, loc });
    const after = this.fb.newBlock();
    this.unlessDropped(ACTIONS_MAP, record, after, e);
    const [actionField, idField] = ACTION_RECORD.fields.map((f) => ({ layout: f.layout, base: record, offset: f.offset }));
    this.storeInt(actionField!, { op: imm(BigInt(ACTIONS.printf), U32) }, e);
    this.storeInt(idField!, { op: imm(BigInt(id), U32) }, e);
    for (let i = 0; i < JOIN_COUNT; i++) this.fb.emit({ op: "st", base: record, offset: offsets[0]! + i * JOIN_SIZE, size: 1, src: imm(0n, U8), loc });
    // Each element: the pointer at argv + 8i, then the string it points to; the first NULL ends the array.
    const element = this.stackTemp(this.cx.intLayout(U64), e);
    const done = this.fb.newBlock();
    for (let i = 0; i < JOIN_COUNT; i++) {
      const at = this.binary("add", base, { op: imm(BigInt(i * 8), U64) }, e);
      this.fb.emit({ op: "call", helper: Helper.probe_read_user, args: [this.addrOf(element, e), imm(8n, U32), at.op], loc });
      const pointer = this.loadInt(element, e);
      const next = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: pointer.op, b: imm(0n, U64), then: done.id, else: next.id, loc });
      this.enter(next);
      const into = this.addrOf({ layout: { kind: "str", size: JOIN_SIZE, align: 1 }, base: record, offset: offsets[0]! + i * JOIN_SIZE }, e);
      this.fb.emit({ op: "call", helper: Helper.probe_read_user_str, args: [into, imm(BigInt(JOIN_SIZE), U32), pointer.op], loc });
    }
    this.fb.terminate({ op: "jmp", target: done.id });
    this.enter(done);
    this.fb.emit({ op: "call", helper: Helper.ringbuf_submit, args: [record, imm(0n, U64)], loc });
    this.fb.terminate({ op: "jmp", target: after.id });
    this.enter(after);
  }

  /** An integer printf value in the record: at least 32 bits (as C's varargs promote it), its sign kept. */
  printfInt(v: Val, x: TS.Expression): PrintfArg {
    const t = v.op.type;
    const type = v.untyped || t.bits > 32 || t.ptr ? (t.signed && !t.ptr ? I64 : U64) : t.signed ? I32 : U32;
    const value = this.convert(v, type);
    return { spec: `${type.signed ? "i" : "u"}${type.bits as 32 | 64}`, layout: { kind: "int", type, size: (type.bits / 8) as 4 | 8, align: type.bits / 8 }, fill: (dst) => this.storeInt(dst, value, x) };
  }

  /**
   * A template literal as printf's format: its text, and a conversion per value: %s for strings (and what %s prints
   * by name: probe(), ksym(), stacks), and for the rest one whose letter the value's type picks once it is lowered.
   */
  templateFormat(t: TS.TemplateExpression): { pieces: FormatPiece[]; values: TS.Expression[]; byType: Set<Conversion> } {
    const pieces: FormatPiece[] = [];
    const values: TS.Expression[] = [];
    const byType = new Set<Conversion>();
    const members = (type: TS.Type): TS.Type[] => (type.isUnionOrIntersection() ? type.types.flatMap(members) : [type]);
    const add = (template: TS.TemplateExpression): void => {
      pieces.push(template.head.text);
      for (const span of template.templateSpans) {
        let x = span.expression;
        while (this.ts.isParenthesizedExpression(x)) x = x.expression;
        // A template inside the template (`${`in ${x}`}`) is its text and values in place.
        if (this.ts.isTemplateExpression(x)) add(x);
        else {
          const type = this.checker.getTypeAtLocation(x);
          const named = ["__tsbpfProbeName", "__tsbpfKsym", "__tsbpfUsym", "__tsbpfStack", "__tsbpfMacAddr", "__tsbpfIpAddr", "__tsbpfStrftime"].some((p) => type.getProperty(p));
          const text = named || members(type).some((m) => m.flags & this.ts.TypeFlags.StringLike);
          const bytes = !!type.getProperty("__tsbpfBuf");
          const c: Conversion = { spec: bytes ? "r" : text ? "s" : "d", flags: "", width: undefined, precision: undefined, length: "" };
          if (!text && !bytes) byType.add(c);
          pieces.push(c);
          values.push(x);
        }
        pieces.push(span.literal.text);
      }
    };
    add(t);
    return { pieces: pieces.filter((p) => p !== ""), values, byType };
  }

  /** "true" or "false" into a Str<6> of a printf record (zeroed) as `flag` is set or not. */
  boolInto(dst: Ref, flag: Operand, node: TS.Node): void {
    const loc = this.locOf(node);
    const [set, clear, join] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: flag, b: imm(0n, flag.type), then: set.id, else: clear.id, loc });
    for (const [block, text] of [[set, "true"], [clear, "false"]] as const) {
      this.enter(block);
      [...text].forEach((ch, i) => this.fb.emit({ op: "st", base: dst.base, offset: dst.offset + i, size: 1, src: imm(BigInt(ch.charCodeAt(0)), U8), loc }));
      this.fb.terminate({ op: "jmp", target: join.id });
    }
    this.enter(join);
  }

  /** A format's text: a string literal, or a module-level string constant; undefined for anything else. */
  override formatText(e: TS.Expression): string | undefined {
    if (this.ts.isStringLiteral(e) || this.ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
    const symbol = this.ts.isIdentifier(e) ? this.checker.getSymbolAtLocation(e) : undefined;
    const b = symbol && this.scope.get(symbol);
    return b?.kind === "string" ? b.text : undefined;
  }

  /**
   * ntop(addr) as a printf value (bpftrace's ntop()): an Arr<u8, 4> or Arr<u8, 16> copied into the record as the
   * address's bytes, or an integer (a __be32 read from the kernel) stored as it was read, so its bytes stay in network
   * order; tsbpf run writes it as inet_ntop does. ntop(family, addr) with a constant family is checked against the
   * address and is the same; with a family known only at run time, the record holds it beside the address (`inet`),
   * and tsbpf run writes the address as the family says. Undefined for any other expression.
   */
  ntop(x: TS.Expression): PrintfArg | undefined {
    if (!this.ts.isCallExpression(x) || this.cx.builtin(x.expression) !== "ntop") return undefined;
    if (x.arguments.length < 1 || x.arguments.length > 2) return this.fail(x, Code.UnsupportedCall, "ntop() takes an address, or an address family and an address: ntop(addr), ntop(AF_INET6, addr)");
    const [familyArg, arg] = x.arguments.length === 2 ? [x.arguments[0]!, x.arguments[1]!] : [undefined, x.arguments[0]!];
    const src = this.tryRef(arg);
    const bytes = src && src.layout.kind === "array" && src.layout.element.size === 1 && (src.layout.length === 4 || src.layout.length === 16) ? src.layout : undefined;
    if (src && !bytes && src.layout.kind !== "int") return this.fail(arg, Code.BadPrintk, `ntop() takes an IPv4 address (a u32 as the kernel keeps it, or an Arr<u8, 4>) or an IPv6 one (an Arr<u8, 16>), not ${aLayout(src.layout)}`);
    const family = familyArg && this.value(familyArg);
    if (family && family.op.kind === "imm") {
      const af = BigInt.asIntN(64, family.op.value);
      if (af !== AF_INET && af !== AF_INET6) return this.fail(familyArg!, Code.OutOfRange, `ntop()'s address family is AF_INET (2) or AF_INET6 (10), not ${af}`);
      const size = bytes?.length ?? 4;
      if ((af === AF_INET6) !== (size === 16)) {
        const given = bytes ? aLayout(bytes) : "an integer";
        return this.fail(arg, Code.BadPrintk, af === AF_INET6 ? `ntop(AF_INET6, addr) takes an IPv6 address's 16 bytes (an Arr<u8, 16>), not ${given}` : `ntop(AF_INET, addr) takes an IPv4 address (a u32 as the kernel keeps it, or an Arr<u8, 4>), not ${given}`);
      }
    }
    const value = bytes ? undefined : this.convert(this.value(arg), U32);
    const fillAddress = (dst: Ref): void => (bytes ? this.chunks({ ...dst, layout: bytes }, bytes.size, arg, src!) : this.storeInt({ ...dst, layout: this.cx.intLayout(U32) }, value!, arg));
    if (!family || family.op.kind === "imm") return { spec: bytes?.length === 16 ? "n16" : "n4", layout: bytes ?? this.cx.intLayout(U32), fill: fillAddress };
    // A family known at run time: AF_INET's 4 bytes or AF_INET6's 16 after it, as bpftrace's inet keeps them.
    const af = this.convert(family, U32);
    const [familyField, addressField] = INET_LAYOUT.fields;
    return {
      spec: "inet",
      layout: INET_LAYOUT,
      fill: (dst) => {
        this.storeInt({ ...dst, layout: familyField.layout, offset: dst.offset + familyField.offset }, af, familyArg!);
        fillAddress({ ...dst, offset: dst.offset + addressField.offset });
      },
    };
  }

  /**
   * strftime(format, ns) as a printf value (bpftrace's strftime()): the u64 nanoseconds in the record, the format in its
   * argument spec (`t` and its bytes in hex), which tsbpf run writes the wall-clock time in. The format is a string
   * literal or a module-level constant, checked as time()'s is, with %f (microseconds) besides. Undefined for any
   * other expression.
   */
  strftime(x: TS.Expression): PrintfArg | undefined {
    if (!this.ts.isCallExpression(x) || this.cx.builtin(x.expression) !== "strftime") return undefined;
    const [formatArg, ns] = x.arguments;
    if (!formatArg || !ns || x.arguments.length > 2) return this.fail(x, Code.UnsupportedCall, 'strftime() takes a format and nanoseconds since boot: strftime("%H:%M:%S", ktimeBootNs())');
    const format = this.formatText(formatArg);
    if (format === undefined) return this.fail(formatArg, Code.BadPrintk, 'strftime() takes a format (a string literal, or a module-level string constant): strftime("%H:%M:%S.%f", ktimeBootNs())');
    const bad = checkTimeFormat(format, "strftime") ?? (format.includes("\0") ? "a strftime() format cannot hold a NUL character (\\0): it ends a C string" : undefined);
    if (bad) this.fail(formatArg, Code.BadPrintk, bad);
    if (Buffer.byteLength(format, "utf8") > MAX_STRFTIME_FORMAT) this.fail(formatArg, Code.BadPrintk, `a strftime() format has at most ${MAX_STRFTIME_FORMAT} bytes (its type is named after it in BTF), not ${Buffer.byteLength(format, "utf8")}`);
    const value = this.convert(this.value(ns), U64);
    return { spec: strftimeSpec(format), layout: strftimeLayout(format), fill: (dst) => this.storeInt({ ...dst, layout: this.cx.intLayout(U64) }, value, ns) };
  }

  /**
   * macaddr(addr) as a printf value (bpftrace's macaddr()): an Arr<u8, 6> (or a Str<6>) copied into the record, which
   * tsbpf run writes as `AA:BB:CC:DD:EE:FF`. Undefined for any other expression.
   */
  macaddr(x: TS.Expression): PrintfArg | undefined {
    if (!this.ts.isCallExpression(x) || this.cx.builtin(x.expression) !== "macaddr") return undefined;
    if (x.arguments.length !== 1) return this.fail(x, Code.UnsupportedCall, "macaddr() takes one address");
    // A cast (`as any`, which TypeScript needs for an array of another length) is looked through.
    let arg = x.arguments[0]!;
    while (this.ts.isAsExpression(arg) || this.ts.isParenthesizedExpression(arg)) arg = arg.expression;
    const src = this.tryRef(arg);
    const bytes = src && ((src.layout.kind === "array" && src.layout.element.size === 1) || src.layout.kind === "str") && src.layout.size === 6;
    if (!src || !bytes) return this.fail(arg, Code.BadPrintk, `macaddr() takes a MAC address's 6 bytes, an Arr<u8, 6> (readUser<Arr<u8, 6>>(p) or readKernel<Arr<u8, 6>>(p) reads them at a pointer), not ${src ? aLayout(src.layout) : `\`${arg.getText(this.file)}\``}`);
    const layout = src.layout;
    return { spec: "m6", layout, fill: (dst) => this.chunks(dst, 6, arg, src) };
  }

  /**
   * %r's buf(p, length) or kbuf(p, length), bpftrace's buf(): a u32 count and the bytes read, probe-read straight into the
   * record. A constant length is the room; one known at run time is clamped to the room, `max` (64 by default).
   */
  bytes(x: TS.Expression, c: Conversion): PrintfArg {
    const name = this.ts.isCallExpression(x) ? this.cx.builtin(x.expression) : undefined;
    if (name !== "buf" && name !== "kbuf") return this.fail(x, Code.BadPrintk, `%${c.spec} prints the bytes buf(p, length) reads from user memory, or kbuf(p, length) from kernel memory, not \`${x.getText(this.file)}\``);
    const call = x as TS.CallExpression;
    const [pointer, length, max] = call.arguments;
    if (!pointer || !length || call.arguments.length > 3) return this.fail(call, Code.UnsupportedCall, `${name}() takes a pointer, a length in bytes and, for a length known only at run time, the most it reads: ${name}(p, 16), ${name}(p, n, 256)`);
    const p = this.value(pointer);
    if (!p.untyped && !p.op.type.ptr && p.op.type.bits !== 64) this.fail(pointer, Code.PointerAccess, `${name}() reads at an address: \`${pointer.getText(this.file)}\` is ${withArticle(typeName(p.op.type))}, too narrow for one (use a Ptr or a u64)`);
    const constant = (e: TS.Expression, what: string): number => {
      const v = this.value(e);
      const n = v.op.kind === "imm" ? BigInt.asIntN(64, v.op.value) : undefined;
      if (n === undefined || n < 1n || n > BigInt(MAX_BUF)) return this.fail(e, Code.OutOfRange, `${what} must be a constant from 1 to ${MAX_BUF}${n === undefined ? "" : `, not ${n}`}`);
      return Number(n);
    };
    const n = this.value(length);
    let room: number;
    let count: Operand;
    if (n.op.kind === "imm") {
      if (max) this.fail(max, Code.UnsupportedCall, `${name}()'s third argument bounds a length known only at run time; ${length.getText(this.file)} is a constant`);
      room = constant(length, `${name}()'s length`);
      count = imm(BigInt(room), U32);
    } else {
      room = max ? constant(max, `${name}()'s most bytes`) : PRINTED_STRING.size;
      count = this.clampLength(n, BigInt(room), length);
    }
    const data: Layout = { kind: "array", element: { kind: "int", type: U8, size: 1, align: 1 }, length: room, size: room, align: 1 };
    const layout: Layout = { kind: "struct", name: "tsbpf_buf", fields: [{ name: "count", offset: 0, layout: this.cx.intLayout(U32) }, { name: "data", offset: 4, layout: data }], size: 4 + room, align: 4 };
    const helper = name === "buf" ? Helper.probe_read_user : Helper.probe_read_kernel;
    return {
      spec: `r${room}`,
      layout,
      fill: (dst) => {
        this.storeInt({ ...dst, layout: this.cx.intLayout(U32) }, { op: count }, x);
        this.fb.emit({ op: "call", helper, args: [this.addrOf({ ...dst, layout: data, offset: dst.offset + 4 }, x), count, p.op], loc: this.locOf(x) });
      },
    };
  }

  /** time(format), bpftrace's time(): tsbpf run prints the current local time in strftime's format (default "%H:%M:%S\n"). */
  time(e: TS.CallExpression): Val {
    const [formatArg] = e.arguments;
    const format = formatArg ? this.formatText(formatArg) : "%H:%M:%S\n";
    if (format === undefined) return this.fail(formatArg!, Code.BadPrintk, 'time() takes a format (a string literal, or a module-level string constant): time("%H:%M:%S\\n")');
    const bad = checkTimeFormat(format);
    if (bad) this.fail(formatArg!, Code.BadPrintk, bad);
    const id = this.cx.timeFormats.push(format) - 1;
    this.action(ACTIONS.time, { op: imm(BigInt(id), U32) }, e);
    return { op: imm(0n, I64) };
  }

  /** exit(code): the code in an action record, which tsbpf run stops at; ends the handler, as `return 0` would. */
  exitRun(e: TS.CallExpression): Val {
    if (e.arguments.length > 1) this.fail(e.arguments[1]!, Code.UnsupportedCall, "exit() takes at most an exit code");
    const code = e.arguments[0] ? this.value(e.arguments[0]) : { op: imm(0n, U32) };
    // A process's exit status is 8 bits: 256 would read as success.
    if (code.op.kind === "imm" && (code.op.value < 0n || code.op.value > 255n)) this.fail(e.arguments[0]!, Code.OutOfRange, `exit(${code.op.value}): an exit status is 0 to 255 (the process's status keeps only its low 8 bits)`);
    this.action(ACTIONS.exit, code, e);
    this.fb.terminate({ op: "ret", value: imm(0n, I64), loc: this.locOf(e) });
    this.enter(this.fb.newBlock()); // anything after exit() is unreachable and dropped
    return { op: imm(0n, I64) };
  }

  /** One record to the file's actions ring buffer (created by the first): what tsbpf run does when it reads it. */
  action(action: number, arg: Val, e: TS.Node): void {
    this.actionsMap(false);
    const record = this.stackTemp(ACTION_RECORD, e);
    const [actionField, argField] = ACTION_RECORD.fields.map((f) => ({ ...record, layout: f.layout, offset: f.offset }));
    this.storeInt(actionField!, { op: imm(BigInt(action), U32) }, e);
    this.storeInt(argField!, arg, e);
    const r = this.fb.vreg(I64);
    this.fb.emit({ op: "call", helper: Helper.ringbuf_output, args: [{ kind: "map", name: ACTIONS_MAP }, this.addrOf(record, e), imm(8n, U64), imm(0n, U64)], dst: r, loc: this.locOf(e) });
    this.countFailed(ACTIONS_MAP, r, e);
  }

  /**
   * Goes on in a new block when ring buffer `ring` gave a record (`record` is not null); otherwise counts one it
   * dropped and goes to `join`.
   */
  unlessDropped(ring: string, record: VReg, join: Block, e: TS.Node): void {
    const sent = this.fb.newBlock();
    const dropped = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: record, b: imm(0n, PTR), then: sent.id, else: dropped.id });
    this.enter(dropped);
    this.addToDropped(ring, imm(1n, U64), e);
    this.fb.terminate({ op: "jmp", target: join.id });
    this.enter(sent);
  }

  /**
   * One more record dropped if `result`, a ringbuf_output's, is negative (the ring was full): its sign bit is added,
   * without a branch, so a loop of output()s costs the verifier no more states than without the count.
   */
  countFailed(ring: string, result: VReg, e: TS.Node): void {
    const failed = this.fb.vreg(U64);
    this.fb.emit({ op: "bin", kind: "shr", dst: failed, a: result, b: imm(63n, U64), loc: this.locOf(e) });
    this.addToDropped(ring, failed, e);
  }

  /** Adds `n` to ring buffer `ring`'s count of dropped records (droppedCounterName): a u64 in .bss, made by the first. */
  addToDropped(ring: string, n: Operand, e: TS.Node): void {
    const name = droppedCounterName(ring);
    let counter = this.cx.bss.find((v) => v.name === name);
    if (!counter) this.cx.bss.push((counter = { name, offset: this.cx.bss.length * 8 }));
    const p = this.fb.vreg(PTR);
    this.fb.emit({ op: "bss", dst: p, offset: counter.offset, loc: this.locOf(e) });
    this.fb.emit({ op: "atomic", ptr: p, offset: 0, size: 8, src: n, loc: this.locOf(e) });
  }
}
