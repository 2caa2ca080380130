// Rewrites the README's "Verified with" table from the compatibility cells' measurements.
// Usage: node tests/compat/verified-with.js RESULTS_DIR README.md compat|all SUITE...
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [resultsDir, readme, which, ...suites] = process.argv.slice(2);
const START = "<!-- verified-with:start -->";
const END = "<!-- verified-with:end -->";
const rows = suites.map((suite) => {
    const file = path.join(resultsDir, `${suite}.json`);
    if (!fs.existsSync(file)) return `| Debian ${suite} | — | — | failed: no measurement | — | — | — |`;
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    const database = `${r.flavor === "mariadb" ? "MariaDB" : "MySQL"} ${r.serverVersion.replace(/-.*/, "")}`;
    const count = fs.existsSync(path.join(resultsDir, `${suite}.tests`)) ? fs.readFileSync(path.join(resultsDir, `${suite}.tests`), "utf8").trim() : "?";
    const ran = which === "all" ? `all ${count} script tests passed` : `${count} compat tests passed`;
    return (
        `| Debian ${suite} | ${database} | ${r.awsCli.replace("aws-cli/", "")} | ${ran} | ` +
        `${r.writeBlockWindowMs} | ${r.frozenMs} | ${r.writerLongestGapMs} |`
    );
});
// Cells not run this time keep their rows (and so the date says when the last cell ran).
const text = fs.readFileSync(readme, "utf8");
const from = text.indexOf(START);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`${readme} has no ${START} … ${END} section`);
const kept = text
    .slice(from, to)
    .split("\n")
    .filter((line) => {
        const suite = /^\| Debian (\w+) \|/.exec(line)?.[1];
        return suite !== undefined && !suites.includes(suite);
    });
const order = ["bullseye", "bookworm", "trixie", "sid"];
const suiteOf = (row) => /^\| Debian (\w+) \|/.exec(row)[1];
const allRows = [...kept, ...rows].sort((a, b) => order.indexOf(suiteOf(a)) - order.indexOf(suiteOf(b)));
const table = [
    START,
    `Last matrix run: ${new Date().toISOString().slice(0, 10)} (\`npm run test:compat\`${which === "all" ? ", COMPAT_TESTS=all" : ""}).`,
    "",
    "| distribution (chroot) | database | AWS CLI | what ran | write-block window, ms | frozen, ms | writer's longest gap, ms |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...allRows,
    END,
].join("\n");
fs.writeFileSync(readme, text.slice(0, from) + table + text.slice(to + END.length));
console.log(table);
