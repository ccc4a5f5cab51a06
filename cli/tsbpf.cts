#!/usr/bin/env node
// The tsbpf command (package.json "bin"). CommonJS, so that a start from the build's bundle (cli/bundle.cts) never
// sets up Node's ES module loader, which costs every command ~10-20 ms of CPU; without a fresh bundle, the
// command line's ES modules are imported (main.ts is the same entry point as an ES module).
import { openBundle } from "./bundle.cjs";

type Cli = typeof import("./cli.js");

const bundle = openBundle();
const cli: Promise<Cli> = bundle ? Promise.resolve(bundle.require("cli/cli.js") as Cli) : import("./cli.js");
void cli.then(({ main }) => main(process.argv.slice(2)));
