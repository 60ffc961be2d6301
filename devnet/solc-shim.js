#!/usr/bin/env node
// A stand-in for the native `solc` binary, backed by the pinned solc-js (npm `solc`).
//
// It answers the two calls py-solc-x makes: `--version` and `--standard-json` (input on stdin,
// output JSON on stdout, nothing else printed). Imports such as `@openzeppelin/contracts/...`
// are resolved from this folder's node_modules; other imports are resolved against the
// `--base-path` given (or the working directory) and must stay inside it or an `--allow-paths`
// entry.
"use strict";

const fs = require("fs");
const path = require("path");

const here = __dirname;
const nodeModules = path.join(here, "node_modules");
const solc = require(path.join(nodeModules, "solc"));

function optionValue(args, name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
}

function isInside(file, dir) {
  const rel = path.relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function main(args) {
  if (args.includes("--version")) {
    process.stdout.write(
      "solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n",
    );
    return 0;
  }
  if (!args.includes("--standard-json")) {
    process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
    return 1;
  }
  const basePath = path.resolve(optionValue(args, "--base-path") || process.cwd());
  const allowed = [basePath, nodeModules].concat(
    (optionValue(args, "--allow-paths") || "")
      .split(",")
      .filter((p) => p.length > 0)
      .map((p) => path.resolve(p)),
  );

  function findImports(importPath) {
    const candidates = importPath.startsWith("@")
      ? [path.join(nodeModules, importPath)]
      : [path.resolve(basePath, importPath)];
    for (const file of candidates) {
      if (!allowed.some((dir) => isInside(file, dir))) {
        return { error: "import outside allowed paths: " + importPath };
      }
      if (fs.existsSync(file)) {
        return { contents: fs.readFileSync(file, "utf8") };
      }
    }
    return { error: "File not found: " + importPath };
  }

  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImports }));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
