// Lowering printk(): the kernel's bpf_trace_printk and its formats, for trace_pipe.

import type * as TS from "typescript";
import { PTR, U32, type CallArg, type Operand, type StackAddr, type VReg } from "../../ir/index.js";
import { Helper } from "../../isa/helpers.js";
import { BUF_STRUCT_PREFIX } from "../../btf/tags.js";
import { Code } from "../diagnostics.js";
import { LoweringBase } from "./base.js";
import { MAX_VPRINTK_ARGS, PRINTED_STRING } from "./constants.js";
import { aLayout, imm, printedByTsbpf, spec } from "./types.js";

export abstract class PrintkLowering extends LoweringBase {
  printk(e: TS.CallExpression): void {
    if (e.arguments.length !== 1) this.fail(e, Code.BadPrintk, "printk() takes one template literal");
    const msg = e.arguments[0]!;
    let format = "";
    const args: CallArg[] = [];
    const escape = (s: string): string => s.replace(/%/g, "%%");
    if (this.ts.isStringLiteral(msg) || this.ts.isNoSubstitutionTemplateLiteral(msg)) format = escape(msg.text);
    else if (this.ts.isTemplateExpression(msg)) {
      format = escape(msg.head.text);
      for (const span of msg.templateSpans) {
        const x = span.expression;
        if (this.ts.isCallExpression(x) && this.cx.builtin(x.expression) === "comm") {
          // The task's name lands in a 16-byte stack buffer; %s reads it from there.
          if (x.arguments.length) this.fail(x.arguments[0]!, Code.UnsupportedCall, "comm() takes no arguments");
          const object = this.fb.stackObject(16);
          this.fb.emit({ op: "call", helper: Helper.get_current_comm, args: [{ kind: "stack", object }, imm(16n, U32)], loc: this.locOf(x) });
          args.push({ kind: "stack", object });
          format += "%s" + escape(span.literal.text);
          continue;
        }
        const read = this.stringCall(x);
        if (read === "readUserStr" || read === "readKernelStr") {
          // Read into a stack buffer of bpftrace's default string size; %s prints it from there.
          const buffer = this.stackTemp(PRINTED_STRING, x);
          this.assignInto(buffer, x);
          args.push(this.addrOf(buffer, x));
          format += "%s" + escape(span.literal.text);
          continue;
        }
        // A literal, or a module-level string constant: its text joins the format.
        const known = this.ts.isStringLiteralLike(x) ? x.text : this.ts.isIdentifier(x) ? this.formatText(x) : undefined;
        if (known !== undefined) {
          format += escape(known) + escape(span.literal.text);
          continue;
        }
        if (this.cx.literalsSize(x) !== undefined) {
          // `c ? "W" : "R"`: %s prints the literal the branch taken points to, in .rodata.
          args.push(this.literalAddress(x));
          format += "%s" + escape(span.literal.text);
          continue;
        }
        const dynamic = this.dynamicString(x);
        if (dynamic) {
          // %s reads the string where the record holds it.
          args.push(dynamic);
          format += "%s" + escape(span.literal.text);
          continue;
        }
        const str = this.tryRef(x);
        // An integer in memory (a map lookup's value) prints as its value does, below.
        if (str && str.layout.kind !== "int") {
          if (str.layout.kind !== "str") {
            // The kernel writes printk's lines, and knows nothing of how tsbpf run writes such a value.
            const instead = printedByTsbpf(str.layout) ? `: print it with printf(), whose lines tsbpf run writes: printf("%${str.layout.kind === "struct" && str.layout.name.startsWith(BUF_STRUCT_PREFIX) ? "r" : "s"}\\n", ${x.getText(this.file)})` : "";
            this.fail(x, Code.BadPrintk, `printk() prints integers and strings, not ${aLayout(str.layout)}${instead}`);
          }
          args.push(this.terminated(str, x));
          format += "%s" + escape(span.literal.text);
          continue;
        }
        const v = this.value(x);
        if (v.op.kind === "imm") format += escape(v.op.type.bool ? String(v.op.value !== 0n) : String(v.op.type.ptr ? `0x${BigInt.asUintN(64, v.op.value).toString(16)}` : v.op.value));
        else if (v.op.type.bool) {
          // As a template literal prints it: `true` or `false`, a string in .rodata printed with %s.
          format += "%s";
          args.push(this.boolString(v.op, x));
        } else {
          format += spec(v.op.type);
          args.push(v.op);
        }
        format += escape(span.literal.text);
      }
    } else this.fail(msg, Code.BadPrintk, "printk() takes a template literal (`...${x}...`) or a string literal");
    if (args.length > MAX_VPRINTK_ARGS) this.fail(msg, Code.BadPrintk, `printk() prints at most ${MAX_VPRINTK_ARGS} values; this message has ${args.length}`);
    if (format.includes("\0")) this.fail(msg, Code.BadPrintk, "a printk message cannot hold a NUL character (\\0): the kernel's format is a C string, which it ends");
    const fmt = this.cx.rodata.add(format);
    const fmtArgs: CallArg[] = [{ kind: "rodata", offset: fmt }, imm(BigInt(new TextEncoder().encode(format).length + 1), U32)];
    // %d and %u read only the low 32 bits of a value (the kernel converts them as int).
    const low32 = (a: CallArg): boolean => a.kind === "reg" && a.type.bits <= 32 && !a.type.ptr;
    if (args.length <= 3) {
      const narrow = args.flatMap((a, i) => (low32(a) ? [fmtArgs.length + i] : []));
      this.fb.emit({ op: "call", helper: Helper.trace_printk, args: [...fmtArgs, ...args], ...(narrow.length ? { low32: narrow } : {}), loc: this.locOf(e) });
      return;
    }
    // More than three values: bpf_trace_vprintk with the values in a u64 array on the stack.
    const object = this.fb.stackObject(8 * args.length);
    args.forEach((a, i) => this.fb.emit({ op: "store", object, offset: 8 * i, src: a as Operand | StackAddr, ...(low32(a) ? { low32: true } : {}), loc: this.locOf(e) }));
    this.fb.emit({ op: "call", helper: Helper.trace_vprintk, args: [...fmtArgs, { kind: "stack", object }, imm(BigInt(8 * args.length), U32)], loc: this.locOf(e) });
  }

  /** The .rodata address of the string literal a choice between literals (`c ? "W" : "R"`, nested) picks. */
  literalAddress(e: TS.Expression): VReg {
    while (this.ts.isParenthesizedExpression(e)) e = e.expression;
    const dst = this.fb.vreg(PTR);
    if (this.ts.isStringLiteralLike(e)) {
      this.fb.emit({ op: "rodata", dst, offset: this.cx.rodata.add(e.text), loc: this.locOf(e) });
      return dst;
    }
    const c = e as TS.ConditionalExpression;
    const [whenTrue, whenFalse, join] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
    this.cond(c.condition, whenTrue, whenFalse);
    for (const [block, arm] of [[whenTrue, c.whenTrue], [whenFalse, c.whenFalse]] as const) {
      this.enter(block);
      this.fb.emit({ op: "mov", dst, src: this.literalAddress(arm) });
      this.fb.terminate({ op: "jmp", target: join.id });
    }
    this.enter(join);
    return dst;
  }

  /** The address of "true" or "false" in .rodata as `b` is 1 or 0: "false", replaced when b is set (one branch, two loads). */
  boolString(b: VReg, node: TS.Node): VReg {
    const loc = this.locOf(node);
    const dst = this.fb.vreg(PTR);
    const set = this.fb.newBlock();
    const join = this.fb.newBlock();
    this.fb.emit({ op: "rodata", dst, offset: this.cx.rodata.add("false"), loc });
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: b, b: imm(0n, b.type), then: set.id, else: join.id, loc });
    this.enter(set);
    this.fb.emit({ op: "rodata", dst, offset: this.cx.rodata.add("true"), loc });
    this.fb.terminate({ op: "jmp", target: join.id });
    this.enter(join);
    return dst;
  }
}
