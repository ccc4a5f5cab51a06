// TypeScript syntax as lowering reads it: the operators by SyntaxKind, and how diagnostics name what a handler
// cannot hold.

import type * as TS from "typescript";
import type { BinOp, CmpOp } from "../../ir/index.js";
import type { Typescript } from "../check.js";
import { MAPS } from "../prelude.js";
import { KEYED_MAPS, MAP_EXAMPLES } from "./constants.js";
import type { MapClass } from "./values.js";

/** `>>>=`'s operation: JavaScript's unsigned shift, which BPF's `shr` is only for unsigned operands. */
export type CompoundOp = BinOp | "ushr";

/** The operators a handler's expressions use, by TypeScript's SyntaxKind (filled by initTables: the module is loaded at run time). */
export const OPERATORS = { arith: new Map<number, BinOp>(), compound: new Map<number, CompoundOp>(), compare: new Map<number, CmpOp>() };

export function initTables(ts: Typescript): void {
  if (OPERATORS.arith.size) return;
  const K = ts.SyntaxKind;
  const fill = <T>(map: Map<number, T>, entries: [number, T][]) => entries.forEach(([kind, op]) => map.set(kind, op));
  fill(OPERATORS.arith, [
    [K.PlusToken, "add"], [K.MinusToken, "sub"], [K.AsteriskToken, "mul"], [K.SlashToken, "div"], [K.PercentToken, "mod"],
    [K.AmpersandToken, "and"], [K.BarToken, "or"], [K.CaretToken, "xor"], [K.LessThanLessThanToken, "shl"], [K.GreaterThanGreaterThanToken, "shr"],
  ]);
  fill(OPERATORS.compound, [
    [K.PlusEqualsToken, "add"], [K.MinusEqualsToken, "sub"], [K.AsteriskEqualsToken, "mul"], [K.SlashEqualsToken, "div"], [K.PercentEqualsToken, "mod"],
    [K.AmpersandEqualsToken, "and"], [K.BarEqualsToken, "or"], [K.CaretEqualsToken, "xor"], [K.LessThanLessThanEqualsToken, "shl"], [K.GreaterThanGreaterThanEqualsToken, "shr"],
    [K.GreaterThanGreaterThanGreaterThanEqualsToken, "ushr"],
  ]);
  fill(OPERATORS.compare, [
    [K.EqualsEqualsEqualsToken, "eq"], [K.EqualsEqualsToken, "eq"], [K.ExclamationEqualsEqualsToken, "ne"], [K.ExclamationEqualsToken, "ne"],
    [K.LessThanToken, "lt"], [K.LessThanEqualsToken, "le"], [K.GreaterThanToken, "gt"], [K.GreaterThanEqualsToken, "ge"],
  ]);
}

/** What to write instead of a construct a handler cannot hold, where there is a usual way: "" otherwise. */
export function insteadOf(ts: Typescript, node: TS.Node): string {
  if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && (MAPS as readonly string[]).includes(node.expression.text)) {
    const cls = node.expression.text as MapClass;
    const name = ts.isVariableDeclaration(node.parent) && ts.isIdentifier(node.parent.name) ? node.parent.name.text : "counts";
    const keyed = KEYED_MAPS.has(cls) && !MAP_EXAMPLES[cls].includes("<") ? `, or \`new ${cls}<K>(${cls === "LinearHistogram" ? "0, 100, 10, " : ""}maxKeys)\` for one per key` : "";
    return `: declare maps at module level, outside the handlers (\`const ${name} = ${MAP_EXAMPLES[cls]}\`${keyed})`;
  }
  if ((ts.isPostfixUnaryExpression(node) || ts.isPrefixUnaryExpression(node)) && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) {
    return `: \`++\` and \`--\` are statements of their own here; write \`${node.operand.getText()}${ts.tokenToString(node.operator)};\` before or after the line that uses it`;
  }
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node)) {
    return ": declare it as a function at module level (`function f(x: u32): u32 { ... }`) and call it from the handler";
  }
  return "";
}

/** A plural name for a syntax kind, for "... are not supported" diagnostics. */
export function describe(ts: Typescript, node: TS.Node): string {
  const special: Record<string, string> = {
    ForStatement: "`for` loops", ForOfStatement: "`for...of` loops", ForInStatement: "`for...in` loops", WhileStatement: "`while` loops",
    DoStatement: "`do...while` loops", SwitchStatement: "`switch` statements", TryStatement: "`try` statements", ThrowStatement: "`throw` statements",
    FunctionDeclaration: "function declarations", ClassDeclaration: "classes", ArrowFunction: "arrow functions", FunctionExpression: "function expressions",
    ObjectLiteralExpression: "object literals", ArrayLiteralExpression: "array literals", NewExpression: "`new` expressions", AwaitExpression: "`await` expressions",
    ElementAccessExpression: "index expressions (`a[i]`)", TaggedTemplateExpression: "tagged templates", BreakStatement: "`break` statements", ContinueStatement: "`continue` statements",
    LabeledStatement: "labels", NullKeyword: "`null` values", UndefinedKeyword: "`undefined` values", ThisKeyword: "`this` expressions", TypeOfExpression: "`typeof` expressions",
    DeleteExpression: "`delete` expressions", VoidExpression: "`void` expressions", SpreadElement: "spread elements", EnumDeclaration: "enums", ExportAssignment: "`export default` declarations",
    ExportDeclaration: "re-exports", ModuleDeclaration: "namespaces",
  };
  const kind = ts.SyntaxKind[node.kind];
  return special[kind] ?? kind.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() + "s";
}
