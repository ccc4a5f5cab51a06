// A compile that ran out of stack on a deeply nested file (`((((x))))` hundreds deep, a sum of thousands of terms, ifs
// inside ifs): TypeScript's parser and checker and tsbpf's lowering recurse on the syntax tree, so such a file is a
// diagnostic at its deepest point, found here without recursion. Takes the error and the file; gives the diagnostic,
// or undefined when the error is something else, or the file is shallow (then running out of stack is tsbpf's bug).

import type TS from "typescript";
import { Code, makeDiagnostic, type Diagnostic, type SourceLike } from "./diagnostics.js";

/** Nesting below this fits the stack, so an overflow on a file no deeper is an internal error, not the file's. */
export const DEEP_NESTING = 200;

/** `error` is V8's stack overflow. */
const isStackOverflow = (error: unknown): boolean => error instanceof RangeError && /^Maximum call stack size exceeded/.test(error.message);

interface Deepest {
  depth: number;
  start: number;
  length: number;
}

/** TSBPF1001 at the file's deepest point when `error` is a stack overflow the file's nesting explains. */
export function deepNestingDiagnostic(ts: typeof TS, error: unknown, source: SourceLike): Diagnostic | undefined {
  if (!isStackOverflow(error)) return undefined;
  const deepest = deepestNode(ts, source) ?? deepestBracket(ts, source.text);
  if (deepest.depth < DEEP_NESTING) return undefined;
  const message = `this is nested ${deepest.depth} levels deep, more than the compiler follows: split it into smaller expressions or statements (\`const a = ...;\`), or move part of it into a function`;
  return makeDiagnostic(source, Code.Unsupported, message, deepest.start, deepest.length);
}

/** The syntax tree's deepest node, walked with a list of nodes to visit; undefined when even parsing runs out of stack. */
function deepestNode(ts: typeof TS, source: SourceLike): Deepest | undefined {
  let file: TS.SourceFile;
  try {
    file = ts.createSourceFile(source.fileName, source.text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  } catch (error) {
    if (isStackOverflow(error)) return undefined;
    throw error;
  }
  let deepest: Deepest = { depth: 0, start: 0, length: 0 };
  const pending: [TS.Node, number][] = [[file, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > deepest.depth) deepest = { depth, start: node.getStart(file), length: node.getEnd() - node.getStart(file) };
    ts.forEachChild(node, (child) => {
      pending.push([child, depth + 1]);
    });
  }
  return deepest;
}

/** The innermost of the most deeply nested brackets, from TypeScript's scanner, for a file too deep to parse. */
function deepestBracket(ts: typeof TS, text: string): Deepest {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  const K = ts.SyntaxKind;
  let depth = 0;
  let deepest: Deepest = { depth: 0, start: 0, length: 0 };
  for (let token = scanner.scan(); token !== K.EndOfFileToken; token = scanner.scan()) {
    if (token === K.OpenParenToken || token === K.OpenBracketToken || token === K.OpenBraceToken) {
      depth++;
      if (depth > deepest.depth) deepest = { depth, start: scanner.getTokenStart(), length: 1 };
    } else if (token === K.CloseParenToken || token === K.CloseBracketToken || token === K.CloseBraceToken) {
      depth = Math.max(0, depth - 1);
    }
  }
  return deepest;
}
