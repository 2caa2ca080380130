// The package as a user installs it: `npm pack`'s tarball and `npm install --install-links <path>` into a scratch
// project that has only the peers, Pulumi's TypeScript template settings and the README's embedding sample; the
// sample type-checks and runs under mocks that answer only the lookups the README lists. The scratch projects
// install from npm's cache first (filled by `npm ci` here); CI reaches the registry for `npm ci` anyway.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readmeEmbedSample, typeErrors } from "./examples";
import { REPO_ROOT } from "./mocks";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const examplesTsconfig = fs.readFileSync(path.join(REPO_ROOT, "examples", "existing-vpc", "tsconfig.json"), "utf8");

/**
 * The lookups a consumer's mocks must answer, read from the README's list (each with the one field it names);
 * any other lookup fails the run.
 */
function readmeMockAnswers(): Record<string, Record<string, string>> {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const block = /<!-- mock-lookups -->\n([\s\S]*?)\n\n/.exec(readme);
    assert.ok(block, "README has no mock-lookups list");
    const answers: Record<string, Record<string, string>> = {};
    for (const [, token, field] of block[1].replace(/\s+/g, " ").matchAll(/`(aws:index\/\w+:\w+)` \(`(\w+)`\)/g)) {
        answers[token] = { [field]: { partition: "aws", region: "us-east-1", accountId: "111122223333" }[field] ?? `mock-${field}` };
    }
    assert.equal(Object.keys(answers).length, 3, "the README lists three lookups");
    return answers;
}

const MOCK_RUNNER = () => `
const pulumi = require("@pulumi/pulumi");
const types = [], unexpected = [], errors = [];
const answers = ${JSON.stringify(readmeMockAnswers())};
pulumi.runtime.setMocks({
    // Pulumi's documented default: echo the inputs as the state, nothing more.
    newResource: (args) => { types.push(args.type); return { id: args.name + "_id", state: args.inputs }; },
    call: (args) => {
        if (answers[args.token]) return answers[args.token];
        unexpected.push(args.token);
        throw new Error("unexpected lookup " + args.token);
    },
}, "consumer", "dev", false);
process.on("unhandledRejection", (e) => errors.push(String(e && e.stack || e)));
process.on("uncaughtException", (e) => errors.push(String(e && e.stack || e)));
try { require(process.argv[2]); } catch (e) { errors.push(String(e && e.message || e)); }
process.on("beforeExit", () => {
    process.stdout.write(JSON.stringify({ types, unexpected, errors }));
    process.exit(0);
});
`;

interface MockRun {
    types: string[];
    unexpected: string[];
    errors: string[];
}

function npm(cwd: string, args: string[]): string {
    return execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A project with the peers this repository pins, TypeScript, the README sample as index.ts, and the mock runner. */
function scratchProject(name: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `consumer-${name}-`));
    fs.writeFileSync(
        path.join(dir, "package.json"),
        JSON.stringify(
            {
                name: `consumer-${name}`,
                private: true,
                main: "index.ts",
                dependencies: { "@pulumi/pulumi": pkg.devDependencies["@pulumi/pulumi"], "@pulumi/aws": pkg.devDependencies["@pulumi/aws"] },
                devDependencies: { typescript: pkg.devDependencies.typescript, "@types/node": pkg.devDependencies["@types/node"] },
            },
            null,
            2,
        ),
    );
    fs.writeFileSync(path.join(dir, "tsconfig.json"), examplesTsconfig);
    fs.writeFileSync(path.join(dir, "index.ts"), readmeEmbedSample());
    fs.writeFileSync(path.join(dir, "mock-run.js"), MOCK_RUNNER());
    return dir;
}

/** Compiles the project with its own TypeScript and runs `entry` (compiled) under the mock runner. */
function runUnderMocks(dir: string, entry = "./index.js"): MockRun {
    // Emitted beside the sources (the template's outDir is bin/), so that the runner finds ./index.js.
    const tsc = spawnSync(process.execPath, [path.join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", dir, "--outDir", dir], {
        cwd: dir,
        encoding: "utf8",
    });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const run = spawnSync(process.execPath, ["mock-run.js", entry], { cwd: dir, encoding: "utf8", timeout: 60000 });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout);
}

function assertSampleDeclares(result: MockRun): void {
    assert.deepEqual(result.unexpected, [], "lookups beyond the README's list");
    assert.deepEqual(result.errors, []);
    for (const type of [
        "consistent-snapshots:index:SnapshotDocument",
        "consistent-snapshots:index:SnapshotMaintenanceWindow",
        "aws:ssm/document:Document",
        "aws:ssm/maintenanceWindow:MaintenanceWindow",
        "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    ]) {
        assert.ok(result.types.includes(type), `${type} not declared`);
    }
}

describe("the package as a user installs it (npm pack, npm install)", function () {
    this.timeout(240000);
    const scratch: string[] = [];
    after(() => {
        for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("from the tarball `npm pack` makes", () => {
        let dir = "";
        before(() => {
            dir = scratchProject("tarball");
            scratch.push(dir);
            const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO_ROOT, encoding: "utf8" }));
            npm(dir, ["install", path.join(dir, packed.filename)]);
        });

        it("installs the built library, its types and scripts, and not the stack program, tests or tools", () => {
            const installed = path.join(dir, "node_modules", "consistent-snapshots");
            for (const f of [
                "bin/components/index.js",
                "bin/components/index.d.ts",
                "bin/cli/main.js",
                "scripts/consistent-snapshot.sh",
                "scripts/restore-verify.sh",
                "PulumiPlugin.yaml",
            ]) {
                assert.ok(fs.existsSync(path.join(installed, f)), `${f} is not installed`);
            }
            for (const f of ["index.ts", "stack.ts", "Pulumi.yaml", "tests", "bin/index.js", "bin/stack.js", ".ci"]) {
                assert.ok(!fs.existsSync(path.join(installed, f)), `${f} is installed`);
            }
        });

        it("installs the operator CLI: `npx consistent-snapshots` runs from the consumer project", () => {
            const help = spawnSync("npx", ["--no-install", "consistent-snapshots", "--help"], { cwd: dir, encoding: "utf8" });
            assert.equal(help.status, 0, help.stderr);
            assert.match(help.stdout, /^consistent-snapshots <command> \[options\]\n\nCommands:\n  run /);
            const usage = spawnSync("npx", ["--no-install", "consistent-snapshots", "restore"], { cwd: dir, encoding: "utf8" });
            assert.equal(usage.status, 2);
            assert.equal(
                usage.stderr,
                "consistent-snapshots: restore: expected one RunId (such as cs-20261201T000012Z-4242), got none\n(consistent-snapshots --help shows every command and option)\n",
            );
        });

        it("shares the consumer's Pulumi SDKs (peers: one copy each), installs no awsx, and leaves npm ls clean", () => {
            const installed = path.join(dir, "node_modules", "consistent-snapshots");
            assert.ok(!fs.existsSync(path.join(installed, "node_modules", "@pulumi")), "a second copy of a Pulumi SDK");
            assert.ok(!fs.existsSync(path.join(dir, "node_modules", "@pulumi", "awsx")), "awsx installed for a consumer without Network");
            npm(dir, ["ls", "--all"]);
        });

        it("type-checks the README's embedding sample as written, under Pulumi's TypeScript template settings", () => {
            assert.deepEqual(typeErrors(path.join(dir, "tsconfig.json"), [path.join(dir, "index.ts")]), []);
        });

        it("runs the sample under mocks that answer only getPartition, getRegion and getCallerIdentity", () => {
            assertSampleDeclares(runUnderMocks(dir));
        });

        it("refuses a Network without @pulumi/awsx, naming the package to install", () => {
            fs.writeFileSync(path.join(dir, "network.js"), 'const { Network } = require("consistent-snapshots"); new Network("net");\n');
            const result = runUnderMocks(dir, "./network.js");
            assert.equal(result.errors.length, 1, result.errors.join("\n"));
            assert.match(result.errors[0], /Network needs the package @pulumi\/awsx .*npm install @pulumi\/awsx/);
        });
    });

    describe("from this directory with `npm install --install-links <path>`", () => {
        it("builds and installs a packed copy; the sample runs the same", () => {
            const dir = scratchProject("path");
            scratch.push(dir);
            npm(dir, ["install", "--install-links", REPO_ROOT]);
            const installed = path.join(dir, "node_modules", "consistent-snapshots");
            assert.ok(!fs.lstatSync(installed).isSymbolicLink(), "a link, not a copy");
            assert.ok(fs.existsSync(path.join(installed, "bin", "components", "index.js")));
            assertSampleDeclares(runUnderMocks(dir));
        });
    });

    describe("the prepare step in a checkout without its dependencies (what a plain `npm install <path>` links)", () => {
        it("refuses with what to do instead of failing inside tsc", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "checkout-"));
            scratch.push(dir);
            fs.mkdirSync(path.join(dir, "tools"));
            fs.copyFileSync(path.join(REPO_ROOT, "tools", "prepare.js"), path.join(dir, "tools", "prepare.js"));
            fs.copyFileSync(path.join(REPO_ROOT, "package.json"), path.join(dir, "package.json"));
            const run = spawnSync(process.execPath, [path.join(dir, "tools", "prepare.js")], { cwd: dir, encoding: "utf8" });
            assert.equal(run.status, 1);
            assert.match(
                run.stderr,
                /cannot build the library in .*: typescript, @pulumi\/pulumi, @pulumi\/aws, @types\/node, @aws-sdk\/client-ec2, @aws-sdk\/client-ssm not installed there/,
            );
            assert.match(run.stderr, /npm ci/);
            assert.match(run.stderr, /--install-links/);
            assert.match(run.stderr, /npm pack/);
            assert.match(run.stderr, /git URL/);
            assert.ok(!fs.existsSync(path.join(dir, "bin")), "built something");
        });
    });
});
