import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONSISTENT_SNAPSHOT_PARAMETERS, SnapshotDocument, carriedScript, documentCommand, documentParameterError } from "../../components/snapshotDocument";
import { REPO_ROOT, one, settle, useMocks, value } from "./mocks";

describe("SnapshotDocument", () => {
    let component: SnapshotDocument;
    let content: {
        schemaVersion: string;
        parameters: Record<string, Record<string, string>>;
        mainSteps: { action: string; inputs: { runCommand: string[]; timeoutSeconds: string } }[];
    };

    before(async () => {
        await useMocks("test");
        component = new SnapshotDocument("snap", { executionTimeoutSeconds: 900 });
        await settle();
        content = JSON.parse(one("aws:ssm/document:Document").inputs.content);
    });

    it("is a Command document, schema 2.2, JSON, for EC2 instances", () => {
        const { inputs } = one("aws:ssm/document:Document");
        assert.equal(inputs.documentType, "Command");
        assert.equal(inputs.documentFormat, "JSON");
        assert.equal(inputs.targetType, "/AWS::EC2::Instance");
        assert.equal(content.schemaVersion, "2.2");
    });

    it("runs scripts/consistent-snapshot.sh byte for byte as its one aws:runShellScript step (gzip+base64 behind an sh bootstrap)", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
        assert.equal(content.mainSteps.length, 1);
        assert.equal(content.mainSteps[0].action, "aws:runShellScript");
        assert.equal(content.mainSteps[0].inputs.timeoutSeconds, "900");
        const [command] = content.mainSteps[0].inputs.runCommand;
        const carried = carriedScript(command);
        assert.equal(carried.fileName, "consistent-snapshot.sh");
        assert.equal(carried.text, script);
        assert.equal(carried.sha256, createHash("sha256").update(script).digest("hex"));
        assert.match(command, /^#!\/bin\/sh\n/);
    });

    describe("its bootstrap, run by dash as the SSM Agent runs a step on Debian (sh -c <folder>/_script.sh)", () => {
        let folder: string;
        let shims: string;
        beforeEach(() => {
            folder = fs.mkdtempSync(path.join(os.tmpdir(), "cs-bootstrap-"));
            shims = fs.mkdtempSync(path.join(os.tmpdir(), "cs-shims-"));
            fs.writeFileSync(path.join(folder, "_script.sh"), content.mainSteps[0].inputs.runCommand.join("\n"), { mode: 0o700 });
            // A bash that only says what it was asked to run, and how that file's mode is.
            fs.writeFileSync(path.join(shims, "bash"), '#!/bin/sh\necho "ran $1 mode $(stat -c %a "$1")"\nenv | grep "^SSM_" | sort\n', { mode: 0o755 });
        });
        afterEach(() => {
            fs.rmSync(folder, { recursive: true, force: true });
            fs.rmSync(shims, { recursive: true, force: true });
        });
        const tools = (names: string[]) => {
            for (const name of names) fs.symlinkSync(spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim(), path.join(shims, name));
            return shims;
        };
        const run = (PATH: string, env: Record<string, string> = {}) =>
            spawnSync("/bin/dash", ["-c", path.join(folder, "_script.sh")], { cwd: "/usr/bin", env: { PATH, ...env }, encoding: "utf8" });
        const ssmVariables = (stdout: string) =>
            Object.fromEntries(
                stdout
                    .split("\n")
                    .filter((l) => l.startsWith("SSM_"))
                    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
            );

        it("writes the script beside itself, readable by root only, and execs bash on it", () => {
            const result = run(tools(["dirname", "base64", "gzip", "stat", "env", "grep", "sort"]), { SSM_dryRun: "true" });
            assert.equal(result.status, 0, result.stderr);
            const unpacked = path.join(folder, "consistent-snapshot.sh");
            assert.equal(result.stdout.split("\n")[0], `ran ${unpacked} mode 600`);
            assert.equal(fs.readFileSync(unpacked, "utf8"), fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8"));
        });

        it("passes on what an agent with ENV_VAR (3.3.2746 and later) set, untouched by the {{name}} fallback", () => {
            const env = Object.fromEntries(Object.keys(content.parameters).map((name) => [`SSM_${name}`, `set-by-agent-${name}`]));
            const result = run(tools(["dirname", "base64", "gzip", "stat", "env", "grep", "sort"]), env);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(ssmVariables(result.stdout), env);
        });

        it("under an older agent (no ENV_VAR: it substitutes {{name}} into the text) exports every SSM_<name> from that text, AWS's documented fallback", () => {
            const values: Record<string, string> = {
                ...Object.fromEntries(Object.entries(content.parameters).map(([name, p]) => [name, (p as { default: string }).default])),
                dryRun: "true",
                freezeMounts: "/data /var/lib/mysql",
                snapshotDescription: "nightly a=b+c/d@e",
                command: "pre-script",
            };
            // What such an agent writes: each {{name}} replaced by the value (checked against allowedPattern first).
            const substituted = content.mainSteps[0].inputs.runCommand.join("\n").replace(/\{\{\s*(\w+)\s*\}\}/g, (_: string, name: string) => values[name]);
            fs.writeFileSync(path.join(folder, "_script.sh"), substituted, { mode: 0o700 });
            const result = run(tools(["dirname", "base64", "gzip", "stat", "env", "grep", "sort"]));
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(ssmVariables(result.stdout), Object.fromEntries(Object.entries(values).map(([name, v]) => [`SSM_${name}`, v])));
        });

        it("fails with 202 (a required tool is missing), naming what it needs, when gzip is absent", () => {
            const result = run(tools(["dirname", "base64", "stat"]));
            assert.equal(result.status, 202);
            assert.match(result.stderr, /cannot unpack the script into .*consistent-snapshot\.sh \(needs base64, gzip and a writable folder\)/);
            assert.doesNotMatch(result.stdout, /ran /);
        });
    });

    it("gives the same document for the same script (fixed compressor version, level and header time)", () => {
        assert.equal(documentCommand("consistent-snapshot.sh", Object.keys(CONSISTENT_SNAPSHOT_PARAMETERS)), content.mainSteps[0].inputs.runCommand[0]);
        const json = (file: string) => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
        assert.equal(
            json("node_modules/fflate/package.json").version,
            json("package.json").dependencies.fflate,
            "fflate must be pinned to the exact version installed",
        );
    });

    it("fits SSM's 64 KB document limit with room to spare (at most 56 KB: 8 KB, a quarter of the compressed script, for growth)", () => {
        const size = Buffer.byteLength(one("aws:ssm/document:Document").inputs.content);
        assert.ok(size <= 56 * 1024, `document content is ${size} bytes`);
    });

    it("declares every script parameter as an ENV_VAR String with default, description and allowedPattern or allowedValues", () => {
        assert.deepEqual(Object.keys(content.parameters).sort(), Object.keys(CONSISTENT_SNAPSHOT_PARAMETERS).sort());
        for (const [name, p] of Object.entries(content.parameters)) {
            assert.equal(p.type, "String", name);
            assert.equal(p.interpolationType, "ENV_VAR", name);
            assert.ok(p.description.length > 10, name);
            assert.equal(p.default, CONSISTENT_SNAPSHOT_PARAMETERS[name].default, name);
            assert.equal(documentParameterError("consistent-snapshot", name, p.default), undefined, `${name}: default not allowed`);
            if (p.allowedValues) {
                assert.equal(p.allowedPattern, undefined, `${name}: one rule, not two`);
            } else {
                assert.match(p.allowedPattern, /^\^.*\$$/, `${name}: pattern not anchored`);
            }
        }
    });

    it("lists command's values in allowedValues, with pre-script, post-script and dry-run (Data Lifecycle Manager fails a run otherwise)", () => {
        assert.deepEqual(content.parameters.command.allowedValues, ["snapshot", "pre-script", "post-script", "dry-run"]);
    });

    it("refuses a snapshotDescription the AWS CLI would read from a file or URL ('//'), and one over 255 characters", () => {
        const { allowedPattern, maxChars } = content.parameters.snapshotDescription;
        assert.equal(maxChars, 255);
        for (const evil of ["file:///root/.my.cnf", "fileb:///root/.my.cnf", "http://169.254.169.254/latest", "https://x", "a//b", "//"]) {
            assert.ok(!new RegExp(allowedPattern).test(evil), evil);
            assert.match(documentParameterError("consistent-snapshot", "snapshotDescription", evil)!, /without '\/\/'/);
        }
        for (const ok of ["", "/", "nightly a=b+c/d@e", "/x/y/", "file:/a", "a:b/c"]) assert.ok(new RegExp(allowedPattern).test(ok), ok);
        assert.equal(documentParameterError("consistent-snapshot", "snapshotDescription", "x".repeat(255)), undefined);
        assert.match(documentParameterError("consistent-snapshot", "snapshotDescription", "x".repeat(256))!, /at most 255 characters/);
    });

    it("never splices parameter values into the script: {{name}} only in the bootstrap's fallback for agents without ENV_VAR", () => {
        const command = content.mainSteps[0].inputs.runCommand[0];
        const script = carriedScript(command).text;
        const spliced = command.split("\n").filter((line: string) => /\{\{/.test(line));
        assert.deepEqual(
            spliced,
            Object.keys(content.parameters).map((name) => `if [ -z "\${SSM_${name}+x}" ]; then export SSM_${name}="{{${name}}}"; fi`),
        );
        assert.doesNotMatch(script, /\{\{\s*\w+\s*\}\}/);
        for (const name of Object.keys(content.parameters)) assert.match(script, new RegExp(`SSM_${name}\\b`), name);
    });

    it("admits no shell metacharacter through any allowedPattern or allowedValues", () => {
        for (const [name, p] of Object.entries(content.parameters)) {
            for (const evil of ["$(reboot)", "`reboot`", "a;b", "a|b", "a&b", 'a"b', "a'b", "a\\b", "a\nb", "a>b"]) {
                assert.ok(documentParameterError("consistent-snapshot", name, evil), `${name} admits ${JSON.stringify(evil)}`);
            }
            for (const v of p.allowedValues ?? []) assert.match(v, /^[a-z-]+$/, name);
        }
    });

    it("accepts and rejects the same values as the script's own validation", () => {
        const accepted: [string, string][] = [
            ["maxFreezeSeconds", "2"],
            ["maxFreezeSeconds", "600"],
            ["lockTimeoutSeconds", "60"],
            ["lockRetries", "10"],
            ["longQuerySeconds", "3600"],
            ["longQuerySeconds", "0"],
            ["freezeMounts", "/data /var/lib/mysql"],
            ["mysqlDefaultsFile", ""],
            ["snapshotDescription", ""],
            ["quiesce", "auto"],
            ["quiesce", "ftwrl"],
            ["quiesce", "backup-lock"],
            ["quiesce", "crash-recovery"],
        ];
        const rejected: [string, string][] = [
            ["maxFreezeSeconds", "1"],
            ["maxFreezeSeconds", "601"],
            ["lockTimeoutSeconds", "0"],
            ["lockTimeoutSeconds", "61"],
            ["lockRetries", "11"],
            ["longQuerySeconds", "3601"],
            ["freezeMounts", "data"],
            ["database", "postgres"],
            ["excludeBootVolume", "yes"],
            ["mysqlDefaultsFile", "relative.cnf"],
            ["quiesce", "crash"],
            ["quiesce", ""],
        ];
        for (const [name, v] of accepted) assert.equal(documentParameterError("consistent-snapshot", name, v), undefined, `${name}=${v}`);
        for (const [name, v] of rejected) assert.ok(documentParameterError("consistent-snapshot", name, v), `${name}=${v}`);
    });

    describe("with parameterDefaults (what Data Lifecycle Manager runs with: it passes only command and executionId)", () => {
        it("declares the given defaults and keeps the others", async () => {
            await useMocks("test");
            new SnapshotDocument("dlm-doc", { parameterDefaults: { maxFreezeSeconds: "60", retainCount: "0" }, tags: { DLMScriptsAccess: "true" } });
            await settle();
            const { inputs } = one("aws:ssm/document:Document");
            const parameters = JSON.parse(inputs.content).parameters;
            assert.equal(parameters.maxFreezeSeconds.default, "60");
            assert.equal(parameters.lockTimeoutSeconds.default, CONSISTENT_SNAPSHOT_PARAMETERS.lockTimeoutSeconds.default);
            assert.equal(parameters.command.default, "snapshot");
            assert.deepEqual(inputs.tags, { DLMScriptsAccess: "true" });
        });
        for (const [parameter, value, message] of [
            ["maxFreezeSeconds", "601", /matching/],
            ["command", "pre-script", /Data Lifecycle Manager sets it/],
            ["nope", "1", /one of the consistent-snapshot parameters/],
        ] as const) {
            it(`refuses parameterDefaults.${parameter}='${value}', naming it`, async () => {
                await useMocks("test");
                assert.throws(
                    () => new SnapshotDocument("bad", { parameterDefaults: { [parameter]: value } }),
                    new RegExp(`SnapshotDocument bad: parameterDefaults\\.${parameter} '${value}': expected .*${message.source}`),
                );
                await settle();
            });
        }
    });

    it("exposes the document's name and ARN as outputs", async () => {
        assert.match(await value(component.documentName), /^snap/);
        assert.match(await value(component.documentArn), /^arn:aws:ssm:.*:document\/snap/);
    });
});
