import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONSISTENT_SNAPSHOT_PARAMETERS, SnapshotDocument, documentParameterError } from "../../components/snapshotDocument";
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

    it("embeds scripts/consistent-snapshot.sh as its one aws:runShellScript step: every line of code verbatim, comment lines left empty", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
        assert.equal(content.mainSteps.length, 1);
        assert.equal(content.mainSteps[0].action, "aws:runShellScript");
        assert.equal(content.mainSteps[0].inputs.timeoutSeconds, "900");
        const [embedded] = content.mainSteps[0].inputs.runCommand;
        const original = script.split("\n");
        const lines = embedded.split("\n");
        assert.equal(lines.length, original.length, "line numbers must match the file");
        original.forEach((line, i) => assert.equal(lines[i], i === 0 ? line : /^\s*#/.test(line) ? "" : line.trimStart(), `line ${i + 1}`));
        assert.equal(lines[0], "#!/usr/bin/env bash");
    });

    it("leaves bash's own reading of the script unchanged (every function and top-level variable as bash lists it is identical)", () => {
        const functions = (text: string) => {
            // Everything but the final call of main: define, list, compare (bash's own dynamic variables left out).
            const file = path.join(os.tmpdir(), `cs-functions-${process.pid}.sh`);
            fs.writeFileSync(file, text.replace(/\nmain "\$@"\n?$/, "\n"));
            const listed = spawnSync("bash", ["-c", 'source "$1" && declare -f && declare -p | grep -vE "^declare -[-a-zA-Z]+ (RANDOM|SRANDOM|SECONDS|EPOCHREALTIME|EPOCHSECONDS|BASHPID|PPID|LINENO|_|BASH_[A-Z_]+|FUNCNAME|PIPESTATUS)(=|$)"', "list", file], { encoding: "utf8" });
            fs.rmSync(file);
            assert.equal(listed.status, 0, listed.stderr);
            // The run id is made of the time and the process id.
            return listed.stdout.replace(/^(declare -- RUN_ID=).*$/m, "$1<time and pid>");
        };
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
        const fromFile = functions(script);
        assert.ok(fromFile.includes("run_pre_script ()"), "the listing is not of the script's functions");
        assert.match(fromFile, /^declare -r NOT_CRASH_SAFE_TABLES_SQL=/m, "the listing is not of the script's variables");
        assert.equal(functions(content.mainSteps[0].inputs.runCommand[0]), fromFile);
    });

    it("fits SSM's 64 KB document limit with room to spare (at most 60 KB)", () => {
        const size = Buffer.byteLength(one("aws:ssm/document:Document").inputs.content);
        assert.ok(size <= 60 * 1024, `document content is ${size} bytes`);
    });

    it("declares every script parameter as an ENV_VAR String with default, description and allowedPattern", () => {
        assert.deepEqual(Object.keys(content.parameters).sort(), Object.keys(CONSISTENT_SNAPSHOT_PARAMETERS).sort());
        for (const [name, p] of Object.entries(content.parameters)) {
            assert.equal(p.type, "String", name);
            assert.equal(p.interpolationType, "ENV_VAR", name);
            assert.ok(p.description.length > 10, name);
            assert.equal(p.default, CONSISTENT_SNAPSHOT_PARAMETERS[name].default, name);
            assert.ok(new RegExp(p.allowedPattern).test(p.default), `${name}: default not allowed by its own pattern`);
            assert.match(p.allowedPattern, /^\^.*\$$/, `${name}: pattern not anchored`);
        }
    });

    it("never splices parameter values into the script text", () => {
        const script = content.mainSteps[0].inputs.runCommand[0];
        assert.doesNotMatch(script, /\{\{\s*\w+\s*\}\}/);
        for (const name of Object.keys(content.parameters)) assert.match(script, new RegExp(`SSM_${name}\\b`), name);
    });

    it("admits no shell metacharacter through any allowedPattern", () => {
        for (const [name, p] of Object.entries(content.parameters)) {
            for (const evil of ["$(reboot)", "`reboot`", "a;b", "a|b", "a&b", "a\"b", "a'b", "a\\b", "a\nb", "a>b"]) {
                assert.ok(!new RegExp(p.allowedPattern).test(evil), `${name} admits ${JSON.stringify(evil)}`);
            }
        }
    });

    it("accepts and rejects the same values as the script's own validation", () => {
        const accepted: [string, string][] = [["maxFreezeSeconds", "2"], ["maxFreezeSeconds", "600"], ["lockTimeoutSeconds", "60"],
            ["lockRetries", "10"], ["longQuerySeconds", "3600"], ["longQuerySeconds", "0"], ["freezeMounts", "/data /var/lib/mysql"],
            ["mysqlDefaultsFile", ""], ["snapshotDescription", ""], ["quiesce", "auto"], ["quiesce", "ftwrl"], ["quiesce", "backup-lock"], ["quiesce", "crash-recovery"]];
        const rejected: [string, string][] = [["maxFreezeSeconds", "1"], ["maxFreezeSeconds", "601"], ["lockTimeoutSeconds", "0"],
            ["lockTimeoutSeconds", "61"], ["lockRetries", "11"], ["longQuerySeconds", "3601"], ["freezeMounts", "data"],
            ["database", "postgres"], ["excludeBootVolume", "yes"], ["mysqlDefaultsFile", "relative.cnf"], ["quiesce", "crash"], ["quiesce", ""]];
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
        for (const [parameter, value, message] of [["maxFreezeSeconds", "601", /matching/], ["command", "pre-script", /Data Lifecycle Manager sets it/],
            ["nope", "1", /one of the consistent-snapshot parameters/]] as const) {
            it(`refuses parameterDefaults.${parameter}='${value}', naming it`, async () => {
                await useMocks("test");
                assert.throws(() => new SnapshotDocument("bad", { parameterDefaults: { [parameter]: value } }),
                    new RegExp(`SnapshotDocument bad: parameterDefaults\\.${parameter} '${value}': expected .*${message.source}`));
                await settle();
            });
        }
    });

    it("exposes the document's name and ARN as outputs", async () => {
        assert.match(await value(component.documentName), /^snap/);
        assert.match(await value(component.documentArn), /^arn:aws:ssm:.*:document\/snap/);
    });
});
