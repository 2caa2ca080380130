// Rewrites the README's "Verified with" table from the compatibility cells' measurements.
// Usage: node tests/compat/verified-with.js RESULTS_DIR README.md SUITE...
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [resultsDir, readme, ...suites] = process.argv.slice(2);
const START = "<!-- verified-with:start -->";
const END = "<!-- verified-with:end -->";
const rows = suites.map((suite) => {
    const file = path.join(resultsDir, `${suite}.json`);
    if (!fs.existsSync(file)) return `| Debian ${suite} | — | — | failed: no measurement | — | — | — |`;
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    const database = `${r.flavor === "mariadb" ? "MariaDB" : "MySQL"} ${r.serverVersion.replace(/-.*/, "")}`;
    return `| Debian ${suite} | ${database} | ${r.awsCli.replace("aws-cli/", "")} | all script tests passed | ` +
        `${r.writeBlockWindowMs} | ${r.frozenMs} | ${r.writerLongestGapMs} |`;
});
const table = [
    START,
    `Last matrix run: ${new Date().toISOString().slice(0, 10)} (\`npm run test:compat\`).`,
    "",
    "| distribution (chroot) | database | AWS CLI | what ran | write-block window, ms | frozen, ms | writer's longest gap, ms |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    END,
].join("\n");
const text = fs.readFileSync(readme, "utf8");
const from = text.indexOf(START);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`${readme} has no ${START} … ${END} section`);
fs.writeFileSync(readme, text.slice(0, from) + table + text.slice(to + END.length));
console.log(table);
