// Lowering a handler's statements and loops, and the module-level functions it calls. Functions are inlined at
// each call; loops are `for` loops with constant bounds, lowered as real loops the verifier walks.

import type * as TS from "typescript";
import {
  BOOL,
  I32,
  I64,
  PTR,
  U16,
  U32,
  U64,
  fits,
  normalize,
  sameType,
  typeName,
  type BinOp,
  type Block,
  type Imm,
  type Layout,
  type VReg,
} from "../../ir/index.js";
import { COMPLEXITY_LIMIT } from "../../verifier/verify.js";
import { Code } from "../diagnostics.js";
import { ConditionLowering } from "./conditions.js";
import { MAX_INLINED_CALLS, MAX_LOOP_ITERATIONS } from "./constants.js";
import { OPERATORS, describe, insteadOf } from "./syntax.js";
import { MIRROR_CMP, aLayout, defaultType, imm, outOfRange, parameterAssigned, sameLayout, tripCount, untypedPointer, withArticle } from "./types.js";
import type { Binding, Ref, Val } from "./values.js";

export class FnLowering extends ConditionLowering {
  block(b: TS.Block): void {
    this.releasedRecordUse(b.statements);
    for (const s of b.statements) this.statement(s);
  }

  /**
   * Refuses a ring buffer record used later in the block whose statement gave it back (`events.submit(e); e.v = 1`):
   * the kernel's verifier refuses it as an access through a scalar, which would read as a missing null check.
   */
  releasedRecordUse(statements: readonly TS.Statement[]): void {
    statements.forEach((s, i) => {
      const call = this.ts.isExpressionStatement(s) && this.ts.isCallExpression(s.expression) ? s.expression : undefined;
      const callee = call?.expression;
      if (!call || !callee || !this.ts.isPropertyAccessExpression(callee) || call.arguments.length !== 1 || !this.ts.isIdentifier(call.arguments[0]!)) return;
      const how = callee.name.text === "submit" ? "submitted" : callee.name.text === "discard" ? "discarded" : undefined;
      if (!how || this.checker.getTypeAtLocation(callee.expression).getSymbol()?.getName() !== "RingBuf") return;
      const record = call.arguments[0];
      const symbol = this.checker.getSymbolAtLocation(record);
      if (!symbol) return;
      for (const later of statements.slice(i + 1)) {
        const use = this.usesAfter(later, symbol);
        if (use === "reassigned") return;
        if (use) {
          const line = this.file.getLineAndCharacterOfPosition(call.getStart(this.file)).line + 1;
          this.fail(use, Code.BadMap, `\`${record.text}\` was ${how} on line ${line}: the ring buffer took the record back, so it cannot be used after ${callee.name.text}(); fill it before, or reserve another`);
        }
      }
    });
  }

  /** The first reference to `symbol` in `node`, or "reassigned" where `symbol = ...` comes first. */
  usesAfter(node: TS.Node, symbol: TS.Symbol): TS.Node | "reassigned" | undefined {
    if (this.ts.isBinaryExpression(node) && node.operatorToken.kind === this.ts.SyntaxKind.EqualsToken && this.ts.isIdentifier(node.left) && this.checker.getSymbolAtLocation(node.left) === symbol) {
      return this.usesAfter(node.right, symbol) ?? "reassigned";
    }
    if (this.ts.isIdentifier(node) && this.checker.getSymbolAtLocation(node) === symbol) return node;
    return this.ts.forEachChild(node, (child) => this.usesAfter(child, symbol));
  }

  exprBody(e: TS.Expression): void {
    const t = this.checker.getTypeAtLocation(e);
    if (t.flags & this.ts.TypeFlags.Void) this.discard(e);
    else this.fb.terminate({ op: "ret", value: this.value(e).op, loc: this.locOf(e) });
  }

  override statement(s: TS.Statement): void {
    if (this.ts.isBlock(s)) return this.block(s);
    if (this.ts.isEmptyStatement(s)) return;
    if (this.ts.isVariableStatement(s)) return this.declarations(s.declarationList);
    if (this.ts.isExpressionStatement(s)) return this.expressionStatement(s.expression);
    if (this.ts.isIfStatement(s)) {
      if (this.conditionalStep(s)) return;
      const then = this.fb.newBlock();
      const join = this.fb.newBlock();
      const otherwise = s.elseStatement ? this.fb.newBlock() : join;
      this.cond(s.expression, then, otherwise);
      this.enter(then);
      this.statement(s.thenStatement);
      this.fb.terminate({ op: "jmp", target: join.id });
      if (s.elseStatement) {
        this.enter(otherwise);
        this.statement(s.elseStatement);
        this.fb.terminate({ op: "jmp", target: join.id });
      }
      this.enter(join);
      return;
    }
    if (this.ts.isReturnStatement(s)) {
      if (this.inline) {
        // Inside an inlined function: the result goes to the call's register, then to the code after the call.
        if (s.expression && this.inline.into?.nullable) this.returnPointer(this.inline.into, s.expression);
        else if (s.expression && this.inline.into) this.assignInto(this.inline.into, s.expression);
        else if (s.expression) {
          const v = this.value(s.expression);
          // A constant returned as the function's type is in its range, as one stored there is (`return -1` from a u32 function).
          if (this.inline.dst && v.untyped && v.op.kind === "imm" && !fits(v.op.value, this.inline.dst.type) && !this.inline.dst.type.bool) {
            this.fail(s.expression, Code.OutOfRange, outOfRange(v.op.value, this.inline.dst.type));
          }
          if (this.inline.dst) this.fb.emit({ op: "mov", dst: this.inline.dst, src: this.convert(v, this.inline.dst.type).op, loc: this.locOf(s) });
        }
        this.fb.terminate({ op: "jmp", target: this.inline.exit.id, loc: this.locOf(s) });
        this.enter(this.fb.newBlock());
        return;
      }
      const value = s.expression ? this.value(s.expression).op : imm(0n, I64);
      this.fb.terminate({ op: "ret", value, loc: this.locOf(s) });
      this.enter(this.fb.newBlock()); // anything after a return is unreachable and dropped
      return;
    }
    if (this.ts.isForStatement(s)) return this.forLoop(s);
    if (this.ts.isForOfStatement(s) && !s.awaitModifier) return this.forOf(s);
    if (this.ts.isWhileStatement(s) || this.ts.isDoStatement(s) || this.ts.isForOfStatement(s) || this.ts.isForInStatement(s)) {
      this.fail(s, Code.UnboundedLoop, `${describe(this.ts, s)} are not supported: the verifier needs loops it can bound; write \`for (let i = 0; i < N; i++)\` with a constant N`);
    }
    if (this.ts.isBreakStatement(s) || this.ts.isContinueStatement(s)) {
      if (s.label) this.fail(s.label, Code.Unsupported, "labelled `break` and `continue` are not supported");
      const brk = this.ts.isBreakStatement(s);
      const target = brk ? this.loops.at(-1)?.brk : [...this.loops].reverse().find((l) => l.cont)?.cont;
      if (!target) this.fail(s, Code.Unsupported, `\`${brk ? "break" : "continue"}\` outside a loop${brk ? " or switch" : ""}`);
      this.fb.terminate({ op: "jmp", target: target!.id, loc: this.locOf(s) });
      this.enter(this.fb.newBlock());
      return;
    }
    if (this.ts.isSwitchStatement(s)) return this.switchStatement(s);
    this.fail(s, Code.Unsupported, `${describe(this.ts, s)} are not supported in a probe handler${insteadOf(this.ts, s)}`);
  }

  override enter(b: Block): void {
    this.fb.enter(b);
  }

  /** `for (let i = A; i < B; i++)`: A and B constants, i changed only by the update; otherwise a diagnostic. */
  forLoop(s: TS.ForStatement): void {
    const head = s.getChildAt(0, this.file);
    const unbounded = (why: string): never => this.fail(s.condition ?? head, Code.UnboundedLoop, `unbounded loop: ${why}; the verifier needs a loop it can bound: \`for (let i = 0; i < N; i++)\` with a constant N`);
    const init = s.initializer;
    if (!init || !this.ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !(init.flags & this.ts.NodeFlags.Let)) return unbounded("the loop must declare one `let` counter");
    const decl = init.declarations[0]!;
    if (!this.ts.isIdentifier(decl.name) || !decl.initializer) return unbounded("the counter needs a start value");
    const counter = this.checker.getSymbolAtLocation(decl.name)!;
    const start = this.value(decl.initializer!);
    // An outer loop's counter (plus or minus a constant) starts anywhere in that counter's range.
    const starts = start.op.kind === "imm" ? [start.op.value] : this.counterRange(decl.initializer!);
    if (!starts) return unbounded("the counter's start value is not a constant, nor an enclosing loop's counter plus or minus a constant");
    const cond = s.condition;
    if (!cond || !this.ts.isBinaryExpression(cond)) return unbounded("the condition must compare the counter with a constant");
    const cmp = OPERATORS.compare.get(cond.operatorToken.kind);
    const isCounter = (e: TS.Expression): boolean => this.ts.isIdentifier(e) && this.checker.getSymbolAtLocation(e) === counter;
    if (!cmp || cmp === "eq" || (!isCounter(cond.left) && !isCounter(cond.right))) return unbounded("the condition must compare the counter with a constant (<, <=, >, >=, !==)");
    const limitExpr = isCounter(cond.left) ? cond.right : cond.left;
    const step = this.loopStep(s.incrementor, counter);
    if (step === undefined) return unbounded("the update must be `i++`, `i--`, `i += C` or `i -= C` with a constant C");
    this.checkNotAssigned(s.statement, counter);
    // Declare the counter, then evaluate the bound (a constant, which must not depend on the loop).
    this.declarations(init);
    const limit = this.value(limitExpr);
    if (limit.op.kind !== "imm") {
      return unbounded(`the bound \`${limitExpr.getText(this.file)}\` is not a constant (loop to the largest it may be and \`break\` when the counter reaches it)`);
    }
    const counterReg = (this.scope.get(counter) as { reg: VReg }).reg;
    const op = isCounter(cond.left) ? cmp : MIRROR_CMP[cmp];
    let iterations = 0;
    for (const first of starts) {
      const n = tripCount(first, op!, (limit.op as Imm).value, step, counterReg.type);
      const bound = (limit.op as Imm).value;
      if (n === undefined && normalize(bound, counterReg.type) !== bound) {
        const wider = (counterReg.type.signed ? [I32, I64] : [U16, U32, I64]).find((t) => normalize(bound, t) === bound && normalize(first, t) === first) ?? I64;
        return unbounded(`the counter is ${withArticle(typeName(counterReg.type))}, which never reaches ${bound} (it wraps first): declare it wider (\`let ${decl.name.getText(this.file)}: ${typeName(wider)} = ${decl.initializer!.getText(this.file)}\`)`);
      }
      if (n === undefined) return unbounded(`the counter goes from ${first} by ${step} and never fails the condition`);
      // Bounded, but the verifier walks every turn: say the limit and the ways around it the subset has (no bpf_loop).
      if (n > MAX_LOOP_ITERATIONS) {
        this.fail(
          cond,
          Code.UnboundedLoop,
          `loop too long: it runs more than ${MAX_LOOP_ITERATIONS.toLocaleString("en-US")} times, the most a loop may (the verifier walks every turn, ` +
            `${COMPLEXITY_LIMIT.toLocaleString("en-US")} instructions in all): give it a bound of at most ${MAX_LOOP_ITERATIONS.toLocaleString("en-US")}, fewer for a long body, ` +
            "or spread the work over several runs of the handler, keeping where it got to in an ArrayMap",
        );
      }
      iterations = Math.max(iterations, n);
      // The values the counter takes, for loops nested in this one that start from it.
      if (n > 0) {
        const last = normalize(first + BigInt(n - 1) * step, counterReg.type);
        const [lo, hi] = first < last ? [first, last] : [last, first];
        const known = this.counterRanges.get(counter);
        this.counterRanges.set(counter, known ? [known[0] < lo ? known[0] : lo, known[1] > hi ? known[1] : hi] : [lo, hi]);
      }
    }
    const top = this.fb.newBlock();
    const body = this.fb.newBlock();
    const latch = this.fb.newBlock();
    const exit = this.fb.newBlock();
    this.fb.terminate({ op: "jmp", target: top.id });
    this.enter(top);
    this.cond(cond, body, exit);
    this.enter(body);
    this.loops.push({ brk: exit, cont: latch });
    this.statement(s.statement);
    this.loops.pop();
    this.fb.terminate({ op: "jmp", target: latch.id });
    this.enter(latch);
    this.expressionStatement(s.incrementor!);
    this.fb.terminate({ op: "jmp", target: top.id });
    this.enter(exit);
  }

  /**
   * `for (const x of xs)` over an Arr<T, N>: N turns, as `for (let i = 0; i < N; i++) { const x = xs[i]; ... }`;
   * `x` is the element's value (an integer) or the element in place (a struct, a string).
   */
  forOf(s: TS.ForOfStatement): void {
    const list = s.initializer;
    const d = this.ts.isVariableDeclarationList(list) && list.declarations.length === 1 ? list.declarations[0]! : undefined;
    if (!d || !this.ts.isIdentifier(d.name)) return this.fail(list, Code.Unsupported, "`for...of` takes one name per element (`for (const x of xs)`)");
    const xs = this.tryRef(s.expression);
    if (!xs || xs.layout.kind !== "array") {
      return this.fail(s.expression, Code.UnboundedLoop, `\`for...of\` goes over an Arr<T, N> value (a local, a struct field, a map value); for \`${s.expression.getText(this.file)}\` write \`for (let i = 0; i < N; i++)\` with a constant N`);
    }
    const length = xs.layout.length;
    const index = this.fb.vreg(U64);
    this.owned.add(index.id);
    this.fb.emit({ op: "mov", dst: index, src: imm(0n, U64), loc: this.locOf(s) });
    const [top, body, latch, exit] = [this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock(), this.fb.newBlock()];
    this.fb.terminate({ op: "jmp", target: top.id });
    this.enter(top);
    this.fb.terminate({ op: "br", cmp: "lt", signed: false, a: index, b: imm(BigInt(length), U64), then: body.id, else: exit.id, loc: this.locOf(s) });
    this.enter(body);
    // The loop's compare bounds the index: no check of its own.
    const element = this.elementBelow(xs, index, s);
    const symbol = this.checker.getSymbolAtLocation(d.name)!;
    if (element.layout.kind === "int") {
      const value = this.loadInt(element, d);
      this.owned.add((value.op as VReg).id);
      this.scope.set(symbol, { kind: "var", reg: value.op as VReg, mutable: (list.flags & this.ts.NodeFlags.Let) !== 0 });
    } else this.scope.set(symbol, { kind: "ref", ref: element });
    this.loops.push({ brk: exit, cont: latch });
    this.statement(s.statement);
    this.loops.pop();
    this.fb.terminate({ op: "jmp", target: latch.id });
    this.enter(latch);
    this.fb.emit({ op: "bin", kind: "add", dst: index, a: index, b: imm(1n, U64), loc: this.locOf(s) });
    this.fb.terminate({ op: "jmp", target: top.id });
    this.enter(exit);
  }

  /** The first and last value `e` can have when it is an enclosing loop's counter, plus or minus a constant. */
  counterRange(e: TS.Expression): bigint[] | undefined {
    let offset = 0n;
    if (this.ts.isBinaryExpression(e) && (e.operatorToken.kind === this.ts.SyntaxKind.PlusToken || e.operatorToken.kind === this.ts.SyntaxKind.MinusToken)) {
      const c = this.value(e.right);
      if (c.op.kind !== "imm") return undefined;
      offset = e.operatorToken.kind === this.ts.SyntaxKind.PlusToken ? c.op.value : -c.op.value;
      e = e.left;
    }
    const range = this.ts.isIdentifier(e) ? this.counterRanges.get(this.checker.getSymbolAtLocation(e)!) : undefined;
    return range?.map((v) => v + offset);
  }

  /** +1 for `i++`, -C for `i -= C`; undefined for anything else. */
  loopStep(e: TS.Expression | undefined, counter: TS.Symbol): bigint | undefined {
    if (!e) return undefined;
    const isCounter = (x: TS.Expression): boolean => this.ts.isIdentifier(x) && this.checker.getSymbolAtLocation(x) === counter;
    if ((this.ts.isPrefixUnaryExpression(e) || this.ts.isPostfixUnaryExpression(e)) && isCounter(e.operand)) {
      if (e.operator === this.ts.SyntaxKind.PlusPlusToken) return 1n;
      if (e.operator === this.ts.SyntaxKind.MinusMinusToken) return -1n;
    }
    if (this.ts.isBinaryExpression(e) && isCounter(e.left) && this.ts.isNumericLiteral(e.right)) {
      const step = Number(e.right.text);
      if (!Number.isInteger(step)) this.fail(e.right, Code.BadLiteral, `${e.right.getText(this.file)} is not an integer: BPF has no floating point`);
      const c = BigInt(step);
      if (c === 0n) return undefined;
      if (e.operatorToken.kind === this.ts.SyntaxKind.PlusEqualsToken) return c;
      if (e.operatorToken.kind === this.ts.SyntaxKind.MinusEqualsToken) return -c;
    }
    return undefined;
  }

  /** The loop body must not assign the counter (the bound would no longer hold). */
  checkNotAssigned(body: TS.Node, counter: TS.Symbol): void {
    const visit = (n: TS.Node): void => {
      const target = this.ts.isBinaryExpression(n) && (n.operatorToken.kind === this.ts.SyntaxKind.EqualsToken || OPERATORS.compound.has(n.operatorToken.kind)) ? n.left
        : (this.ts.isPrefixUnaryExpression(n) || this.ts.isPostfixUnaryExpression(n)) && (n.operator === this.ts.SyntaxKind.PlusPlusToken || n.operator === this.ts.SyntaxKind.MinusMinusToken) ? n.operand
        : undefined;
      const bare = target && this.cx.skipParentheses(target);
      if (bare && this.ts.isIdentifier(bare) && this.checker.getSymbolAtLocation(bare) === counter) {
        this.fail(n, Code.UnboundedLoop, `unbounded loop: the body changes the counter \`${bare.text}\`; only the loop's update may`);
      }
      this.ts.forEachChild(n, visit);
    };
    visit(body);
  }

  /** `switch (x) { case C: ... }` with constant cases: a chain of comparisons, bodies in order (fall-through as in C). */
  switchStatement(s: TS.SwitchStatement): void {
    const clauses = s.caseBlock.clauses;
    const bodies = clauses.map(() => this.fb.newBlock());
    const exit = this.fb.newBlock();
    const defaultIndex = clauses.findIndex((c) => this.ts.isDefaultClause(c));
    const matches = this.cx.isString(s.expression) ? this.stringCases(s) : this.integerCases(s);
    clauses.forEach((c, i) => {
      if (!this.ts.isCaseClause(c)) return;
      const next = this.fb.newBlock();
      matches(c, bodies[i]!, next);
      this.enter(next);
    });
    this.fb.terminate({ op: "jmp", target: (defaultIndex >= 0 ? bodies[defaultIndex]! : exit).id });
    this.loops.push({ brk: exit });
    clauses.forEach((c, i) => {
      this.enter(bodies[i]!);
      for (const st of c.statements) this.statement(st);
      this.fb.terminate({ op: "jmp", target: (bodies[i + 1] ?? exit).id });
    });
    this.loops.pop();
    this.enter(exit);
  }

  /** How a `case` of an integer switch branches: its constant against the value, computed once. */
  integerCases(s: TS.SwitchStatement): (c: TS.CaseClause, t: Block, f: Block) => void {
    const x = this.value(s.expression);
    return (c, t, f) => {
      const v = this.value(c.expression);
      if (v.op.kind !== "imm") this.fail(c.expression, Code.Unsupported, "a `case` must be a constant");
      const [a, b, type] = this.comparands(x, v, c.expression, [s.expression, c.expression]);
      this.fb.terminate({ op: "br", cmp: "eq", signed: type.signed, a, b, then: t.id, else: f.id, loc: this.locOf(c) });
    };
  }

  /** How a `case "lit":` of a string switch branches: as `value === "lit"`, the value read once. */
  stringCases(s: TS.SwitchStatement): (c: TS.CaseClause, t: Block, f: Block) => void {
    const literals = s.caseBlock.clauses.flatMap((c) => (this.ts.isCaseClause(c) ? [c.expression] : []));
    for (const l of literals) if (!this.ts.isStringLiteral(l) && !this.ts.isNoSubstitutionTemplateLiteral(l)) this.fail(l, Code.StringOperation, "a `case` of a string switch must be a string literal");
    // A __data_loc string is copied as far as the longest case reads.
    const room = Math.max(0, ...literals.map((l) => new TextEncoder().encode((l as TS.StringLiteral).text).length)) + 2;
    const x = this.stringOperand(s.expression, room);
    return (c, t, f) => this.literalEquals(x, c.expression as TS.StringLiteral, c, t, f);
  }

  declarations(list: TS.VariableDeclarationList): void {
    const mutable = (list.flags & this.ts.NodeFlags.Let) !== 0;
    if (!mutable && !(list.flags & this.ts.NodeFlags.Const)) this.fail(list, Code.Unsupported, "`var` is not supported: use `const` or `let`");
    for (const d of list.declarations) {
      if (!this.ts.isIdentifier(d.name)) this.fail(d.name, Code.Unsupported, "destructuring is not supported");
      if (!d.initializer) {
        // `let x: u32;`: TypeScript lets no path read it before a value is assigned; zero stands for it until then.
        if (!mutable || !d.type) this.fail(d, Code.Unsupported, `\`${d.name.getText(this.file)}\` needs an initial value${mutable ? ", or a type (`let n: u32;`) and a value on every path before it is read" : ""}`);
        this.zeroDeclaration(d, this.cx.layoutOf(this.cx.withoutNull(d.type!)));
        continue;
      }
      const init = d.initializer!;
      const symbol0 = this.checker.getSymbolAtLocation(d.name)!;
      // `const y = f()` of a function that returns nothing: TypeScript allows the void value, which has no bits.
      const callee = this.ts.isCallExpression(init) && this.ts.isIdentifier(init.expression) ? this.checker.getSymbolAtLocation(init.expression) : undefined;
      if (callee && this.cx.functions.has(callee) && this.checker.getTypeAtLocation(init).flags & this.ts.TypeFlags.Void) {
        this.fail(init, Code.Unsupported, `${callee.name}() returns nothing (void): there is no value to keep in \`${d.name.getText(this.file)}\``);
      }
      // Memory values: structs, strings, arrays, map lookups (by reference, as JavaScript binds objects).
      const declaredLayout = d.type ? this.cx.layoutOf(this.cx.withoutNull(d.type)) : undefined;
      if (declaredLayout && declaredLayout.kind !== "int") {
        // A `let` string is a value of its own (`s = comm()` fills it later), never another string's bytes.
        const own = mutable && declaredLayout.kind === "str";
        this.bindRef(symbol0, own ? this.filledTemp(init, declaredLayout, d) : this.materialize(init, declaredLayout, d), mutable, d);
        continue;
      }
      if (!declaredLayout) {
        if (this.ts.isObjectLiteralExpression(init)) this.fail(init, Code.MissingType, `annotate \`${d.name.getText(this.file)}\` with the struct's interface: \`const ${d.name.getText(this.file)}: MyStruct = { ... }\``);
        // An array is an Arr<T, N> in memory: its element type and length come from the annotation, not the literal.
        if (this.ts.isArrayLiteralExpression(init)) {
          const element = this.checker.getTypeAtLocation(init).getNumberIndexType()?.getSymbol();
          const elementDecl = element?.declarations?.[0];
          const elementName = element && elementDecl?.getSourceFile() === this.file && this.ts.isInterfaceDeclaration(elementDecl) ? element.name : "u64";
          this.fail(init, Code.MissingType, `annotate \`${d.name.getText(this.file)}\` with its element type and length: \`const ${d.name.getText(this.file)}: Arr<${elementName}, ${init.elements.length}> = ${init.getText(this.file)}\``);
        }
        // A choice of structs (`c ? a : b`, `m.lookup(k) ?? { ... }`) is a struct of its own, as if annotated.
        const chosen = this.cx.isChoice(init) ? this.cx.structOfType(this.checker.getTypeAtLocation(init)) : undefined;
        if (chosen) {
          this.bindRef(symbol0, mutable ? this.filledTemp(init, chosen, d) : this.materialize(init, chosen, d), mutable, d);
          continue;
        }
        const helper = this.stringCall(init);
        if (helper === "comm") {
          this.scope.set(symbol0, { kind: "ref", ref: this.materialize(init, { kind: "str", size: 16, align: 1 }, d) });
          continue;
        }
        if (helper || this.isDynamicString(init)) this.fail(init, Code.MissingType, `annotate the string's size: \`const ${d.name.getText(this.file)}: Str<64> = ${init.getText(this.file)}\``);
        const r = this.tryRef(init);
        // An integer in memory is bound by reference only where it is looked up (`const n = m.lookup(k)`, whose
        // assignments write the map): another name for it (`const before = n`) copies the number, as JavaScript does.
        let bare = init;
        while (this.ts.isParenthesizedExpression(bare)) bare = bare.expression;
        if (r && (r.layout.kind !== "int" || !this.ts.isIdentifier(bare))) {
          // A `const` is a number in TypeScript: where the map may change before it is read, it keeps its own copy.
          const kept = !mutable && r.layout.kind === "int" && r.base.kind === "reg" && this.ts.isCallExpression(bare) && this.changedBeforeRead(d, bare) ? this.snapshot(r, d) : r;
          this.bindRef(symbol0, kept, mutable, d);
          continue;
        }
      }
      const declared = declaredLayout?.kind === "int" ? declaredLayout.type : undefined;
      const v = this.value(d.initializer!);
      const symbol = this.checker.getSymbolAtLocation(d.name)!;
      if (v.untyped && declared && v.op.kind === "imm" && !fits(v.op.value, declared)) {
        this.fail(d.initializer!, Code.OutOfRange, outOfRange(v.op.value, declared));
      }
      if (!mutable && v.op.kind === "imm") {
        // Constants stay constants: folded wherever they are used.
        this.scope.set(symbol, { kind: "const", val: declared ? { op: imm(v.op.value, declared) } : v });
        continue;
      }
      // A `let` may later hold any pointer of its TypeScript type: only a `const` keeps a pointer's kernel typing.
      const inferred = v.untyped ? defaultType((v.op as Imm).value) : mutable ? untypedPointer(v.op.type) : v.op.type;
      const type = declared ?? inferred;
      if (v.op.kind === "reg" && !this.owned.has(v.op.id) && sameType(v.op.type, type) && !!v.op.type.typed === !!type.typed) {
        // A fresh temporary (not another variable's register) simply becomes the variable.
        this.owned.add(v.op.id);
        this.scope.set(symbol, { kind: "var", reg: v.op, mutable });
        continue;
      }
      const reg = this.fb.vreg(type);
      this.owned.add(reg.id);
      this.fb.emit({ op: "mov", dst: reg, src: this.movable(v, type), loc: this.locOf(d) });
      this.scope.set(symbol, { kind: "var", reg, mutable });
    }
  }

  /** `let x: T;` with no initial value: zero, or zeroed memory of T's layout. */
  zeroDeclaration(d: TS.VariableDeclaration, layout: Layout): void {
    const symbol = this.checker.getSymbolAtLocation(d.name)!;
    if (layout.kind !== "int") return this.bindRef(symbol, this.temp(layout, d), true, d);
    const reg = this.fb.vreg(layout.type);
    this.owned.add(reg.id);
    this.fb.emit({ op: "mov", dst: reg, src: imm(0n, layout.type), loc: this.locOf(d) });
    this.scope.set(symbol, { kind: "var", reg, mutable: true });
  }

  expressionStatement(e: TS.Expression): void {
    if (this.ts.isParenthesizedExpression(e)) return this.expressionStatement(e.expression);
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "printk") return this.printk(e);
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "printf") return this.printf(e);
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "join") return this.join(e);
    if (this.ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      const left = this.cx.skipParentheses(e.left);
      if (op === this.ts.SyntaxKind.EqualsToken) return this.assign(left, () => this.value(e.right), e, this.ts.isIdentifier(left) ? undefined : e.right);
      const bin = OPERATORS.compound.get(op);
      if (bin) return this.assign(e.left, (cur) => (bin === "ushr" ? this.unsignedShift(cur, this.value(e.right), e) : this.binary(bin, cur, this.value(e.right), e)), e);
    }
    if ((this.ts.isPrefixUnaryExpression(e) || this.ts.isPostfixUnaryExpression(e)) && (e.operator === this.ts.SyntaxKind.PlusPlusToken || e.operator === this.ts.SyntaxKind.MinusMinusToken)) {
      const kind: BinOp = e.operator === this.ts.SyntaxKind.PlusPlusToken ? "add" : "sub";
      return this.assign(e.operand, (cur) => this.binary(kind, cur, { op: imm(1n, I64), untyped: true }, e), e);
    }
    this.discard(e);
  }

  discard(e: TS.Expression): void {
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "printk") return this.printk(e);
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "printf") return this.printf(e);
    if (this.ts.isCallExpression(e) && this.cx.builtin(e.expression) === "join") return this.join(e);
    this.value(e);
  }

  override assign(target: TS.Expression, compute: (current: Val) => Val, node: TS.Node, right?: TS.Expression): void {
    // `(x) = 5`, `(x)++`: the parentheses change nothing.
    target = this.cx.skipParentheses(target);
    if (!this.ts.isIdentifier(target)) {
      const dst = this.lvalue(target);
      if (dst.parameter) return this.fail(target, Code.Unsupported, parameterAssigned(dst.parameter, "1,2"));
      if (right) return this.assignInto(dst, right);
      return this.storeInt(dst, compute(this.loadInt(dst, target)), node);
    }
    const param = this.scope.get(this.checker.getSymbolAtLocation(target)!);
    if (param?.kind === "param") return this.fail(target, Code.Unsupported, parameterAssigned(param.name, param.array?.kind === "str" ? "TEXT" : param.array ? "1,2" : "VALUE"));
    const b = this.lookup(target as TS.Identifier);
    if (b.kind === "ref" && b.ref.layout.kind === "int") return this.assignMapSlot(target, b.ref, compute, node);
    const plain = this.ts.isBinaryExpression(node) && node.operatorToken.kind === this.ts.SyntaxKind.EqualsToken;
    if (b.kind === "ref" && b.rebindable && plain) return this.rebind(target, b.ref, (node as TS.BinaryExpression).right);
    if (b.kind === "ref" && b.ref.layout.kind === "str" && plain) return this.refillString(b.ref, (node as TS.BinaryExpression).right);
    if (b.kind !== "var" || !b.mutable) return this.fail(target, Code.Unsupported, b.kind === "ref" ? `\`${target.getText(this.file)}\` refers to memory: assign its fields` : `\`${target.getText(this.file)}\` cannot be assigned`);
    const v = compute({ op: b.reg });
    if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, b.reg.type)) {
      this.fail(node, Code.OutOfRange, outOfRange(v.op.value, b.reg.type));
    }
    if (b.reg.type.typed && !v.op.type.typed) {
      this.fail(node, Code.Unsupported, `\`${target.getText(this.file)}\` is an argument the kernel types (its members are read directly): assign it only another such pointer, or copy it first (\`let p: Ptr<${b.reg.type.pointee}> = ${target.getText(this.file)}\`)`);
    }
    this.fb.emit({ op: "mov", dst: b.reg, src: this.movable(v, b.reg.type), loc: this.locOf(node) });
  }

  /**
   * `c += n`, `c++` on a name bound to a map lookup of an integer: the name is the map's value in place (as
   * C's `*c += n`), so the write goes to the map. TypeScript makes these wait for the null check; a plain
   * `c = v` it does not, so that one is refused with what to write instead.
   */
  assignMapSlot(target: TS.Identifier, ref: Ref, compute: (current: Val) => Val, node: TS.Node): void {
    const name = target.text;
    if (this.ts.isBinaryExpression(node) && node.operatorToken.kind === this.ts.SyntaxKind.EqualsToken) {
      const change = (ref.layout as Layout & { kind: "int" }).type.bool ? "" : `, or change it with \`${name} += ...\` after the null check`;
      return this.fail(node, Code.Unsupported, `\`${name}\` is the map's value in place, and \`${name} = ...\` cannot be checked for null: set it with the map's \`update(key, value)\`${change}`);
    }
    this.storeInt(ref, compute(this.loadInt(ref, target)), node);
  }

  /**
   * Whether `const v = m.lookup(k)` may be read after the element it found changed: after an `m.delete()`,
   * `m.update()` or `m.increment()`, or a `c += n` / `c++` of a `let` bound to a lookup of `m`, made here or by a
   * function of the file this calls, later in the handler than the declaration and before a read of `v` (in text, or
   * inside one loop that follows the declaration). A `const` is a number in TypeScript, and those write elements in
   * place (an array's update and any increment) or free them: a freed hash element goes back to the map's free
   * list, and the next update may reuse it for another key.
   */
  changedBeforeRead(d: TS.VariableDeclaration, lookup: TS.CallExpression): boolean {
    const map = this.ts.isPropertyAccessExpression(lookup.expression) ? this.mapOf(lookup.expression.expression) : undefined;
    if (!map) return false;
    const symbol = this.checker.getSymbolAtLocation(d.name);
    const freeing = new Map<TS.Node, boolean>();
    const lookupOfMap = (x: TS.Expression | undefined): boolean => {
      while (x && this.ts.isParenthesizedExpression(x)) x = x.expression;
      return !!x && this.ts.isCallExpression(x) && this.ts.isPropertyAccessExpression(x.expression) && x.expression.name.text === "lookup" && this.mapOf(x.expression.expression) === map;
    };
    /** Whether `n` (a call of the map's methods, or of a function of the file, or an assignment) may change one of its elements. */
    const frees = (n: TS.Node): boolean => {
      const written = this.ts.isBinaryExpression(n) && OPERATORS.compound.has(n.operatorToken.kind) ? n.left
        : (this.ts.isPrefixUnaryExpression(n) || this.ts.isPostfixUnaryExpression(n)) && (n.operator === this.ts.SyntaxKind.PlusPlusToken || n.operator === this.ts.SyntaxKind.MinusMinusToken) ? n.operand : undefined;
      if (written) {
        const decl = this.ts.isIdentifier(this.cx.skipParentheses(written)) ? this.checker.getSymbolAtLocation(this.cx.skipParentheses(written))?.valueDeclaration : undefined;
        return !!decl && this.ts.isVariableDeclaration(decl) && lookupOfMap(decl.initializer);
      }
      if (!this.ts.isCallExpression(n)) return false;
      const callee = n.expression;
      if (this.ts.isPropertyAccessExpression(callee)) return ["delete", "update", "increment"].includes(callee.name.text) && this.mapOf(callee.expression) === map;
      const fn = this.ts.isIdentifier(callee) ? this.cx.functions.get(this.checker.getSymbolAtLocation(callee)!) : undefined;
      if (!fn) return false;
      if (freeing.has(fn)) return freeing.get(fn)!;
      freeing.set(fn, false); // while its body is looked at (recursion is refused elsewhere)
      let found = false;
      const look = (x: TS.Node): void => {
        if (!found && frees(x)) found = true;
        if (!found) this.ts.forEachChild(x, look);
      };
      look(fn);
      freeing.set(fn, found);
      return found;
    };
    let body: TS.Node = d;
    while (!this.ts.isFunctionLike(body) && !this.ts.isSourceFile(body)) body = body.parent;
    const reads: TS.Node[] = [];
    const changes: TS.Node[] = [];
    const loops: TS.Node[] = [];
    const visit = (n: TS.Node): void => {
      if (n.pos >= d.end) {
        if (this.ts.isIdentifier(n) && this.checker.getSymbolAtLocation(n) === symbol) reads.push(n);
        if (this.ts.isIterationStatement(n, false)) loops.push(n);
        if (frees(n)) changes.push(n);
      }
      this.ts.forEachChild(n, visit);
    };
    visit(body);
    const within = (n: TS.Node, outer: TS.Node): boolean => n.pos >= outer.pos && n.end <= outer.end;
    return reads.some((r) => changes.some((c) => r.pos >= c.end)) || loops.some((l) => reads.some((r) => within(r, l)) && changes.some((c) => within(c, l)));
  }

  /** A copy on the stack of the integer a lookup found, or null where it found none. */
  snapshot(r: Ref, node: TS.Node): Ref {
    const object = this.fb.stackObject(r.layout.size, r.layout.size, this.locOf(node));
    const copy = this.fb.vreg(PTR);
    this.fb.emit({ op: "mov", dst: copy, src: imm(0n, PTR), loc: this.locOf(node) });
    const found = this.fb.newBlock();
    const join = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: r.base as VReg, b: imm(0n, PTR), then: found.id, else: join.id, loc: this.locOf(node) });
    this.enter(found);
    const kept: Ref = { layout: r.layout, base: { kind: "stack", object }, offset: 0 };
    this.storeInt(kept, this.loadInt(r, node), node);
    this.fb.emit({ op: "addr", dst: copy, object, offset: 0, loc: this.locOf(node) });
    this.fb.terminate({ op: "jmp", target: join.id });
    this.enter(join);
    return { ...r, base: copy, offset: 0 };
  }

  /**
   * Names memory. A `let` naming memory through a pointer gets a pointer register of its own, which
   * `rebind` sets again; a name for memory reached through such a register copies it first, so that
   * it keeps the memory it was given when the `let` is set again.
   */
  bindRef(symbol: TS.Symbol, r: Ref, mutable: boolean, node: TS.Node): void {
    if (r.base.kind !== "reg" || r.layout.kind === "int" || !(mutable || this.rebindable.has(r.base.id))) {
      this.scope.set(symbol, { kind: "ref", ref: r });
      return;
    }
    const own = this.fb.vreg(PTR);
    this.fb.emit({ op: "mov", dst: own, src: this.addrOf(r, node) as VReg, loc: this.locOf(node) });
    if (mutable) this.rebindable.add(own.id);
    this.scope.set(symbol, { kind: "ref", ref: { ...r, base: own, offset: 0 }, rebindable: mutable });
  }

  /**
   * `s = stats.lookup(k)` (or `= null`, or any other pointer to the same type) for a `let` bound to a pointer:
   * the name's own register takes the new address, as JavaScript rebinds an object reference.
   */
  rebind(target: TS.Identifier, ref: Ref, right: TS.Expression): void {
    const base = ref.base as VReg;
    if (right.kind === this.ts.SyntaxKind.NullKeyword) {
      this.fb.emit({ op: "mov", dst: base, src: imm(0n, PTR), loc: this.locOf(right) });
      return;
    }
    const r = this.tryRef(right);
    if (!r || r.base.kind !== "reg") {
      return this.fail(right, Code.Unsupported, `\`${target.text}\` points into a map or record: it can be set to another lookup or record, or to null, not to a copy; assign its fields to change them`);
    }
    if (!sameLayout(r.layout, ref.layout)) return this.fail(right, Code.UnsupportedType, `${aLayout(r.layout)} cannot be assigned to ${aLayout(ref.layout)}`);
    this.fb.emit({ op: "mov", dst: base, src: this.addrOf(r, right) as VReg, loc: this.locOf(right) });
  }

  /** `return x` in a function typed `T | null`: its pointer register takes x's address, or 0 for null. */
  returnPointer(pointer: Ref, e: TS.Expression): void {
    const base = pointer.base as VReg;
    if (e.kind === this.ts.SyntaxKind.NullKeyword) return void this.fb.emit({ op: "mov", dst: base, src: imm(0n, PTR), loc: this.locOf(e) });
    const r = this.tryRef(e);
    if (!r || r.base.kind !== "reg") return this.fail(e, Code.Unsupported, "a function typed `T | null` returns a map lookup, a ring buffer reservation or null: memory of its own would not outlive the call");
    if (!sameLayout(r.layout, pointer.layout)) return this.fail(e, Code.UnsupportedType, `${aLayout(r.layout)} cannot be returned as ${aLayout(pointer.layout)}`);
    this.fb.emit({ op: "mov", dst: base, src: this.addrOf(r, e) as VReg, loc: this.locOf(e) });
  }

  /**
   * A call to a module-level function, inlined: parameters bound to the arguments, `return` jumps past the body.
   * A function returning memory writes it `into` the caller's value (see memoryCall).
   */
  override inlineCall(decl: TS.FunctionDeclaration | TS.ArrowFunction | TS.FunctionExpression, e: TS.CallExpression, into?: Ref): Val {
    const name = e.expression.getText(this.file);
    if (this.cx.inlining.includes(decl)) return this.fail(e, Code.BadFunction, `\`${name}\` calls itself: functions are inlined, so recursion is not supported`);
    const inlined = (this.cx.inlinedCalls.get(this.fb) ?? 0) + 1;
    this.cx.inlinedCalls.set(this.fb, inlined);
    if (inlined > MAX_INLINED_CALLS) {
      return this.fail(e, Code.BadFunction, `this handler makes more than ${MAX_INLINED_CALLS} function calls once its functions' calls are counted (each call is a copy of the function's body, and the calls in it copy theirs): call functions from fewer places, or from a loop`);
    }
    if (decl.typeParameters?.length) this.fail(decl, Code.BadFunction, "generic functions are not supported");
    // The parameters first: a rest or optional one explains a count that does not match.
    decl.parameters.forEach(this.cx.paramSymbol);
    const count = `${decl.parameters.length} argument${decl.parameters.length === 1 ? "" : "s"}`;
    if (e.arguments.length > decl.parameters.length) this.fail(e.arguments[decl.parameters.length]!, Code.BadFunction, `\`${name}\` takes ${count}`);
    const scope = new Map<TS.Symbol, Binding>(this.cx.moduleScope);
    const child = new FnLowering(this.cx, this.fb, scope);
    decl.parameters.forEach((p, i) => {
      const symbol = this.cx.paramSymbol(p);
      const arg = e.arguments[i];
      if (!arg) return this.fail(e, Code.BadFunction, `\`${name}\` needs ${count}`);
      if (!p.type) return this.fail(p, Code.MissingType, `parameter \`${p.name.getText(this.file)}\` needs a type`);
      const l = this.cx.layoutOf(p.type);
      if (l.kind !== "int") {
        // Memory is passed by reference, as JavaScript passes objects.
        scope.set(symbol, { kind: "ref", ref: this.materialize(arg, l, arg) });
        return;
      }
      const v = this.value(arg);
      if (v.untyped && v.op.kind === "imm" && !fits(v.op.value, l.type)) this.fail(arg, Code.OutOfRange, outOfRange(v.op.value, l.type));
      // A typed kernel pointer stays typed in a parameter of its struct that the body never assigns (each call is
      // inlined, so another call may pass an untyped one).
      const typed = v.op.type.typed && l.type.ptr && l.type.pointee === v.op.type.pointee && !this.cx.assigns(decl, symbol);
      const reg = this.fb.vreg(typed ? v.op.type : l.type);
      this.fb.emit({ op: "mov", dst: reg, src: this.convert(v, l.type).op, loc: this.locOf(arg) });
      child.owned.add(reg.id);
      scope.set(symbol, { kind: "var", reg, mutable: true });
    });
    let dst: VReg | undefined;
    if (into) {
      // The caller's value is the result.
    } else if (decl.type) {
      if (decl.type.kind !== this.ts.SyntaxKind.VoidKeyword) {
        const l = this.cx.layoutOf(decl.type);
        if (l.kind !== "int") return this.fail(e, Code.NotAnInteger, `\`${name}\` gives ${aLayout(l)}, not an integer: bind it to a name (\`const v: ${decl.type.getText(this.file)} = ${e.getText(this.file)}\`) or pass it on`);
        dst = this.fb.vreg(l.type);
      }
    } else {
      const sig = this.checker.getSignatureFromDeclaration(decl);
      const ret = sig && this.checker.getReturnTypeOfSignature(sig);
      // TypeScript's `boolean` has one C type; a number could be any width.
      if (ret && ret.flags & this.ts.TypeFlags.BooleanLike) dst = this.fb.vreg(BOOL);
      else if (ret && !(ret.flags & (this.ts.TypeFlags.Void | this.ts.TypeFlags.Undefined))) this.fail(decl.name ?? decl, Code.MissingType, `\`${name}\` returns a value: annotate its return type (u8..i64, boolean, a struct's interface, Str<N>, Arr<T, N>)`);
    }
    const exit = this.fb.newBlock();
    child.inline = { exit, dst, into };
    if (dst) this.fb.emit({ op: "mov", dst, src: imm(0n, dst.type) });
    this.cx.inlining.push(decl);
    try {
      if (decl.body && this.ts.isBlock(decl.body)) child.block(decl.body);
      else if (decl.body && into?.nullable) child.returnPointer(into, decl.body as TS.Expression);
      else if (decl.body && into) child.assignInto(into, decl.body as TS.Expression);
      else if (decl.body) {
        const v = child.value(decl.body as TS.Expression);
        if (dst) this.fb.emit({ op: "mov", dst, src: child.convert(v, dst.type).op, loc: this.locOf(decl.body) });
      }
    } finally {
      this.cx.inlining.pop();
    }
    this.fb.terminate({ op: "jmp", target: exit.id });
    this.enter(exit);
    return dst ? { op: dst } : { op: imm(0n, I64) };
  }
}
