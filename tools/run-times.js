#!/usr/bin/env node
// Where the script's runs spend their time: reads the logs a test run kept (SCRIPT_LOG_DIR=<dir> npm run
// test:script) and adds up, over every run, the time before each kind of log line (digits, ids and paths
// blanked, so that the same step of different runs counts together). Prints the steps that cost most.
//   node tools/run-times.js <dir> [top]
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [dir, top = "25"] = process.argv.slice(2);
if (!dir) {
    process.stderr.write("usage: node tools/run-times.js <SCRIPT_LOG_DIR> [top]\n");
    process.exit(2);
}
const stamp = /^(\d\d):(\d\d):(\d\d)\.(\d{3}) [\w-]+: (.*)$/;
const before = new Map();
let runs = 0;
let total = 0;
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".log"))) {
    let previous;
    let first;
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
        const m = stamp.exec(line);
        if (!m) continue;
        const ms = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
        first ??= ms;
        if (previous !== undefined && ms >= previous) {
            const kind = m[5]
                .replace(/(vol|snap|i)-[0-9a-f]+/g, "$1-…")
                .replace(/\/[\w./-]+/g, "/…")
                .replace(/\d+/g, "#")
                .slice(0, 110);
            const entry = before.get(kind) ?? { ms: 0, count: 0 };
            entry.ms += ms - previous;
            entry.count += 1;
            before.set(kind, entry);
        }
        previous = ms;
    }
    if (first !== undefined) {
        runs += 1;
        total += previous - first;
    }
}
process.stdout.write(`${runs} runs, ${(total / 1000).toFixed(1)} s between their first and last log lines\n`);
for (const [kind, { ms, count }] of [...before].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(top))) {
    process.stdout.write(`${(ms / 1000).toFixed(1).padStart(8)} s ${String(count).padStart(5)}x  ${kind}\n`);
}
