// `npm run deploy -- <stack>` (tools/deploy.sh) on a fresh machine and on a set-up one, with a stand-in `pulumi`
// first on PATH that records every call (and the passphrase variables it saw) and answers like the CLI:
// `whoami` fails when logged out, `whoami --verbose` prints "Backend URL: <url>", `login --local` logs in to
// file://~, `stack select --create` and `up` succeed (up's exit code is configurable).
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./mocks";

const DEPLOY = path.join(REPO_ROOT, "tools", "deploy.sh");

const STAND_IN = `#!/usr/bin/env bash
state=$STANDIN_DIR/backend
echo "pulumi $* | passphrase=\${PULUMI_CONFIG_PASSPHRASE-unset} passphraseFile=\${PULUMI_CONFIG_PASSPHRASE_FILE-unset}" >>"$STANDIN_DIR/calls"
case $1 in
  whoami)
    [[ -s $state ]] || { echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 255; }
    if [[ " $* " == *" --verbose "* ]]; then printf 'User: someone\\nOrganizations: \\nBackend URL: %s\\n' "$(cat "$state")"; else echo someone; fi ;;
  login) [[ $2 == --local ]] && echo "file://~" >"$state"; echo "Logged in to $(cat "$state")" ;;
  stack) echo "Created stack" ;;
  up) exit "\${STANDIN_UP_EXIT:-0}" ;;
  *) echo "stand-in pulumi: unexpected $*" >&2; exit 1 ;;
esac
`;

interface Deploy { status: number | null; stderr: string; calls: string[] }

describe("npm run deploy (tools/deploy.sh)", () => {
    let dir: string;
    let home: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-deploy-"));
        home = path.join(dir, "home");
        fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
        fs.mkdirSync(home);
        fs.writeFileSync(path.join(dir, "bin", "pulumi"), STAND_IN, { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function deploy(args: string[], env: Record<string, string> = {}, withPulumi = true): Deploy {
        const result = spawnSync("bash", [DEPLOY, ...args], {
            encoding: "utf8",
            env: {
                PATH: withPulumi ? `${dir}/bin:/usr/bin:/bin` : "/usr/bin:/bin", HOME: home, STANDIN_DIR: dir, ...env,
            },
        });
        const callsFile = path.join(dir, "calls");
        const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [];
        return { status: result.status, stderr: result.stderr, calls };
    }
    const loggedInTo = (url: string) => fs.writeFileSync(path.join(dir, "backend"), `${url}\n`);
    const commands = (d: Deploy) => d.calls.map((c) => c.split(" | ")[0]);

    it("on a fresh machine: logs in to a local backend, generates the stack's passphrase (0600), creates the stack, runs up", () => {
        const run = deploy(["dev", "--yes"]);
        assert.equal(run.status, 0, run.stderr);
        const passphraseFile = path.join(home, ".pulumi", "consistent-snapshots", "dev.passphrase");
        assert.deepEqual(commands(run), [
            "pulumi whoami --non-interactive",
            "pulumi login --local --non-interactive",
            "pulumi whoami --non-interactive",
            "pulumi whoami --verbose --non-interactive",
            "pulumi stack select --create --non-interactive dev",
            "pulumi up --stack dev --yes",
        ]);
        assert.match(run.calls.at(-1)!, new RegExp(`passphraseFile=${passphraseFile}$`));
        assert.match(run.calls.at(-2)!, new RegExp(`passphraseFile=${passphraseFile}$`), "the stack is created with the passphrase too");
        assert.equal(fs.statSync(passphraseFile).mode & 0o777, 0o600);
        assert.match(fs.readFileSync(passphraseFile, "utf8"), /^[A-Za-z0-9]{20,}$/);
        assert.match(run.stderr, /generated the passphrase of stack dev in .*dev\.passphrase \(keep it/);
    });

    it("on the next run reuses the backend and the same passphrase", () => {
        assert.equal(deploy(["dev"]).status, 0);
        const passphraseFile = path.join(home, ".pulumi", "consistent-snapshots", "dev.passphrase");
        const first = fs.readFileSync(passphraseFile, "utf8");
        fs.rmSync(path.join(dir, "calls"));
        const run = deploy(["dev"]);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(!commands(run).some((c) => c.startsWith("pulumi login")), "logged in again");
        assert.equal(fs.readFileSync(passphraseFile, "utf8"), first);
    });

    it("logged in to Pulumi Cloud: no login, no passphrase (the service encrypts secrets)", () => {
        loggedInTo("https://api.pulumi.com");
        const run = deploy(["prod"]);
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(commands(run), [
            "pulumi whoami --non-interactive", "pulumi whoami --verbose --non-interactive",
            "pulumi stack select --create --non-interactive prod", "pulumi up --stack prod",
        ]);
        assert.match(run.calls.at(-1)!, /passphrase=unset passphraseFile=unset$/);
        assert.equal(fs.existsSync(path.join(home, ".pulumi")), false);
    });

    it("keeps the user's own passphrase and PULUMI_BACKEND_URL (no whoami, no login, nothing generated)", () => {
        const run = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://team-state", PULUMI_CONFIG_PASSPHRASE: "correct horse" });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(commands(run), ["pulumi stack select --create --non-interactive dev", "pulumi up --stack dev"]);
        assert.match(run.calls.at(-1)!, /passphrase=correct horse passphraseFile=unset$/);
        assert.equal(fs.existsSync(path.join(home, ".pulumi")), false);
    });

    it("passes pulumi up's failure on as its own exit code", () => {
        loggedInTo("https://api.pulumi.com");
        assert.equal(deploy(["dev"], { STANDIN_UP_EXIT: "255" }).status, 255);
    });

    for (const stack of ["", "dev; rm -rf /", "../dev"]) {
        it(`refuses the stack name ${JSON.stringify(stack)} before calling pulumi`, () => {
            const run = deploy(stack === "" ? [] : [stack]);
            assert.equal(run.status, 2);
            assert.deepEqual(run.calls, []);
            assert.match(run.stderr, stack === "" ? /usage: npm run deploy -- <stack>/ : /is not a stack name/);
        });
    }

    it("says to run npm ci when the pulumi CLI is not installed", () => {
        const run = deploy(["dev"], {}, false);
        assert.equal(run.status, 2);
        assert.match(run.stderr, /the pulumi CLI is not on PATH: run 'npm ci' first/);
    });

    it("is what npm run deploy runs, with the CLI npm package pinned in devDependencies (npx pulumi needs no prompt)", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
        assert.equal(manifest.scripts.deploy, "bash tools/deploy.sh");
        assert.match(manifest.devDependencies.pulumi, /^[0-9]+\.[0-9]+\.[0-9]+$/, "pinned to one CLI version");
        const installed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", "pulumi", "package.json"), "utf8"));
        assert.equal(installed.version, manifest.devDependencies.pulumi);
        assert.equal(installed.bin.pulumi, "run.js");
        assert.ok(fs.existsSync(path.join(REPO_ROOT, "node_modules", ".bin", "pulumi")));
    });
});
