import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { readmeEmbedSample, typeErrors } from "./examples";
import { EXIT } from "../../cli/context";
import { USAGE } from "../../cli/main";
import { REPO_ROOT, inventory, one, settle, useMocks } from "./mocks";

/** The README's embedding sample, with the package import pointed at this checkout's library. */
function readmeSample(): string {
    return readmeEmbedSample().replace(/from "consistent-snapshots"/g, `from ${JSON.stringify(path.join(REPO_ROOT, "components"))}`);
}

describe("README embedding sample", function () {
    this.timeout(60000);
    const dir = path.join(REPO_ROOT, "tests", "unit", ".generated");
    const file = path.join(dir, "embed-example.ts");

    before(() => {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(file, readmeSample());
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("type-checks under the project's strict settings", () => {
        assert.deepEqual(typeErrors(path.join(REPO_ROOT, "tsconfig.json"), [file]), []);
    });

    it("runs under mocks and adds only the document, the window bundle and the policy attachment", async () => {
        await useMocks("embed");
        delete require.cache[file];
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require(file);
        await settle();
        const counts = inventory();
        assert.equal(counts["aws:ssm/document:Document"], 1);
        assert.equal(counts["aws:ssm/maintenanceWindow:MaintenanceWindow"], 1);
        assert.equal(counts["aws:iam/rolePolicyAttachment:RolePolicyAttachment"], 1);
        assert.equal(counts["aws:ec2/instance:Instance"], undefined);
        assert.equal(one("aws:ssm/maintenanceWindow:MaintenanceWindow").inputs.schedule, "cron(30 2 ? * * *)");
    });
});

describe("README account pattern (a stack file per account)", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const match = /```yaml\n# Pulumi\.prod-eu\.yaml\n([\s\S]*?)```/.exec(readme);

    it("configures the default provider with keys and fields the aws provider declares", () => {
        assert.ok(match, "README has no Pulumi.prod-eu.yaml sample");
        const config = (yaml.load(match[1]) as { config: Record<string, unknown> }).config;
        // The aws provider's config keys and its assumeRoles fields, from the installed @pulumi/aws.
        const vars = fs.readFileSync(require.resolve("@pulumi/aws/config/vars.d.ts"), "utf8");
        for (const key of Object.keys(config).filter((k) => k.startsWith("aws:"))) {
            assert.match(vars, new RegExp(`export declare const ${key.slice(4)}:`), `${key} is not an aws provider config key`);
        }
        const output = fs.readFileSync(require.resolve("@pulumi/aws/types/output.d.ts"), "utf8");
        const assumeRoles = /interface AssumeRoles \{([\s\S]*?)\n {4}\}/.exec(output)![1];
        for (const role of config["aws:assumeRoles"] as Record<string, string>[]) {
            for (const field of Object.keys(role)) assert.match(assumeRoles, new RegExp(`\\b${field}\\?:`), `assumeRoles.${field}`);
            assert.match(role.roleArn, new RegExp(`^arn:aws:iam::${(config["aws:allowedAccountIds"] as string[])[0]}:role/`));
        }
    });

    it("is a valid stack config for this project", async () => {
        const config = (yaml.load(match![1]) as { config: Record<string, unknown> }).config;
        await useMocks("prod-eu", Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
        const { createStack } = await import("../../stack");
        createStack();
        await settle();
        assert.equal(one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget").inputs.targets[0].values[0], "orders-db");
    });
});

describe("README truth (what it says matches the code)", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

    it("lists restore-verify.sh's exit codes as its header does, each a named code the script fails with", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "restore-verify.sh"), "utf8");
        const table = /<!-- restore-verify-exit-codes -->\n([\s\S]*?)\n\n/.exec(readme);
        assert.ok(table, "README has no restore-verify exit-code table");
        const documented = [...table[1].matchAll(/^ *\| (\d+) \|/gm)].map((m) => Number(m[1]));
        const header = /^# Exit codes:([\s\S]*?)\nset -euo pipefail/m.exec(script)![1];
        const inHeader = [...header.matchAll(/(?:^|[;:#]) *(\d+) [a-zA-Z]/g)].map((m) => Number(m[1]));
        assert.deepEqual(documented, [0, 1, 2, 3, 4, 5, 6]);
        assert.deepEqual(inHeader, documented, "the script's header and the README differ");
        const constants = Object.fromEntries(
            [.../readonly (E_\w+=\d+(?: E_\w+=\d+)*)/.exec(script)![1].matchAll(/(E_\w+)=(\d+)/g)].map((m) => [Number(m[2]), m[1]]),
        );
        for (const code of documented.filter((c) => c > 0)) {
            assert.ok(constants[code], `exit code ${code} has no named constant`);
            assert.match(script, new RegExp(`fail "\\$${constants[code]}"`), `the script never fails with ${constants[code]}`);
        }
    });

    it("lists the operator CLI's exit codes as the CLI defines them (EXIT) and as its usage says", () => {
        const table = /<!-- cli-exit-codes -->\n([\s\S]*?)\n\n/.exec(readme);
        assert.ok(table, "README has no CLI exit-code table");
        const documented = [...table[1].matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
        assert.deepEqual(documented, Object.values(EXIT).sort());
        const usage = /Exit codes:([\s\S]*)$/.exec(USAGE)![1];
        assert.deepEqual(
            [...usage.matchAll(/(\d+) [a-zA-Z]/g)].map((m) => Number(m[1])),
            documented,
            "the usage and the README differ",
        );
    });

    it("writes every Pulumi command as npx pulumi (the CLI npm ci installs)", () => {
        const bare = [...readme.matchAll(/(^|[`(]|\$\()pulumi [a-z]+/gm)].map((m) => m[0]);
        assert.deepEqual(bare, []);
    });

    it("describes each phase .ci/run runs: npm test's steps, then test:compat", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
        const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8");
        assert.match(ci, /scripts\.test\.split\(" && "\)/, ".ci/run no longer runs npm test's steps");
        assert.match(ci, /npm run test:compat/);
        const rows = [...readme.matchAll(/^\| ((?:`[^`]+`(?:, )?)+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([^`]+)`/g)].map((n) => n[1]));
        for (const step of [...pkg.scripts.test.split(" && ").map((s: string) => s.replace(/^npm run /, "")), "test:compat"]) {
            assert.ok(rows.includes(step), `the README's phase table does not describe ${step}`);
        }
    });
});
