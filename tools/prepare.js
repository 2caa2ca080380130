#!/usr/bin/env node
// `npm run build`, and npm's `prepare` step: builds the library (bin/components) and the operator CLI (bin/cli) with this directory's own TypeScript. npm runs it on
// `npm ci`/`npm install` here, on `npm pack`, on a git-URL install (after installing the dev dependencies in its
// clone) and on `npm install --install-links <path>`. A plain `npm install <path>` makes a link and installs none of
// this directory's dependencies: nothing can be built then, and this says what to do instead of failing in tsc.
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const needed = [
    "typescript/package.json",
    "@pulumi/pulumi/package.json",
    "@pulumi/aws/package.json",
    "@types/node/package.json",
    "@aws-sdk/client-ec2/package.json",
    "@aws-sdk/client-ssm/package.json",
];

function resolvable(request) {
    try {
        require.resolve(request, { paths: [root] });
        return true;
    } catch {
        return false;
    }
}

const missing = needed.filter((request) => !resolvable(request)).map((request) => request.replace(/\/package\.json$/, ""));
if (missing.length > 0) {
    process.stderr.write(
        [
            `consistent-snapshots: cannot build the library in ${root}: ${missing.join(", ")} not installed there.`,
            "A plain `npm install <path>` links the directory and installs none of its dependencies. Either:",
            `  - run \`npm ci\` in ${root} first (it builds bin/), then \`npm install --install-links ${root}\` in your project;`,
            "  - or install the tarball that `npm pack` makes there (it holds the built library);",
            "  - or install from a git URL (npm installs the dependencies in its own clone and builds there).",
            "",
        ].join("\n"),
    );
    process.exit(1);
}

// A clean build: a module removed from components/ must not linger in bin/ and be packed.
for (const dir of ["components", "cli"]) require("node:fs").rmSync(path.join(root, "bin", dir), { recursive: true, force: true });
const tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
const build = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
if (build.error) throw build.error;
process.exit(build.status ?? 1);
