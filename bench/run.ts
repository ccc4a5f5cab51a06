// `npm run bench`: runs every bench/*.bench.ts in turn and prints its table.
// Each benchmark measures tsbpf beside a peer in the same run (the kernel, clang, bpftrace)
// and reports ratios, because absolute times on shared machines are noisy.
// `npm run bench -- vm` runs only the benchmarks whose file name contains "vm".
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

function print(table: BenchTable): void {
  const cells = [table.columns, ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => "| " + r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(" | ") + " |";
  console.log(`\n## ${table.title}\n`);
  console.log(line(cells[0]!));
  console.log("|" + widths.map((w, c) => (c === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
  for (const r of cells.slice(1)) console.log(line(r));
  for (const note of table.notes ?? []) console.log(`\n${note}`);
}

for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<BenchTable[]> };
  for (const table of await mod.default()) print(table);
}
