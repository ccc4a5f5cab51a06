#!/usr/bin/env node
// The tsbpf command as an ES module: what `tsx cli/main.ts` runs in development, and `node dist/cli/main.js`.
// The installed command is tsbpf.cts, which starts faster; both take the command modules from the build's
// bundle when there is a fresh one (cli/bundle.cts), else as ES modules.
import { openBundle } from "./bundle.cjs";

const bundle = import.meta.url.endsWith(".js") ? openBundle() : undefined;
const { main } = bundle ? (bundle.require("cli/cli.js") as typeof import("./cli.js")) : await import("./cli.js");
await main(process.argv.slice(2));
