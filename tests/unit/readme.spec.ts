import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { REPO_ROOT, inventory, one, settle, useMocks } from "./mocks";

/** The README's embedding sample, with the package import pointed at this checkout's library. */
function readmeSample(): string {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const match = /<!-- embed-example -->\n```ts\n([\s\S]*?)```/.exec(readme);
    assert.ok(match, "README has no embed-example block");
    return match[1].replace(/from "consistent-snapshots"/g, `from ${JSON.stringify(path.join(REPO_ROOT, "components"))}`);
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
        const config = ts.getParsedCommandLineOfConfigFile(path.join(REPO_ROOT, "tsconfig.json"), {}, {
            ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
        });
        assert.ok(config);
        const program = ts.createProgram([file], { ...config.options, noEmit: true });
        const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
        assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), []);
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
