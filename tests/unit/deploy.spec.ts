// `npm run deploy -- <stack>` (tools/deploy.sh) on a fresh machine and on a set-up one, with stand-in `pulumi` CLIs
// that record every call (which CLI, and the passphrase variables it saw) and answer like the real one (read in
// pulumi/pulumi's source): `version` prints the version (or fails as the npm package does when it cannot download
// the CLI), `whoami` fails when logged out, `whoami --verbose` prints "Backend URL: <url>", `login --local` logs in
// to file://~, `stack select` without --create fails with "error: no stack named '<name>' found" for a stack the
// backend does not have, `stack init` creates one, `up` succeeds (its exit code is configurable).
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./mocks";

const DEPLOY = path.join(REPO_ROOT, "tools", "deploy.sh");

const STAND_IN = `#!/usr/bin/env bash
state=$STANDIN_DIR/backend
echo "$0 $* | passphrase=\${PULUMI_CONFIG_PASSPHRASE-unset} passphraseFile=\${PULUMI_CONFIG_PASSPHRASE_FILE-unset}" >>"$STANDIN_DIR/calls"
backend=\${PULUMI_BACKEND_URL:-$(cat "$state" 2>/dev/null)}
stacks=$STANDIN_DIR/stacks/$(printf '%s' "$backend" | tr -c 'A-Za-z0-9' _)
case $1 in
  version)
    [[ -z \${STANDIN_VERSION_FAIL:-} ]] || { echo "error: could not download https://get.pulumi.com/releases/sdk/pulumi-v3.265.0-linux-x64.tar.gz: getaddrinfo ENOTFOUND get.pulumi.com" >&2; exit 1; }
    echo v3.265.0 ;;
  whoami)
    [[ -s $state ]] || { echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 255; }
    if [[ " $* " == *" --verbose "* ]]; then printf 'User: someone\\nOrganizations: \\nBackend URL: %s\\n' "$(cat "$state")"; else echo someone; fi ;;
  login)
    [[ -z \${STANDIN_LOGIN_FAIL:-} ]] || { echo "error: could not create ~/.pulumi: read-only file system" >&2; exit 255; }
    [[ $2 == --local ]] && echo "file://~" >"$state"; echo "Logged in to $(cat "$state")" ;;
  stack)
    case $2 in
      select) [[ -e $stacks/$4 ]] || { echo "error: no stack named '$4' found" >&2; exit 255; } ;;
      init) mkdir -p "$stacks" && touch "$stacks/$4" && echo "Created stack '$4'" ;;
      *) echo "stand-in pulumi: unexpected $*" >&2; exit 1 ;;
    esac ;;
  up) exit "\${STANDIN_UP_EXIT:-0}" ;;
  *) echo "stand-in pulumi: unexpected $*" >&2; exit 1 ;;
esac
`;

interface Deploy {
    status: number | null;
    stderr: string;
    calls: string[];
}

describe("npm run deploy (tools/deploy.sh)", () => {
    let dir: string;
    let home: string;
    /** The CLIs: one the user installed, the npm package's (in a node_modules/.bin, first on PATH as under npm run). */
    let userCli: string;
    let npmCli: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-deploy-"));
        home = path.join(dir, "home");
        fs.mkdirSync(home);
        userCli = path.join(dir, "userbin", "pulumi");
        npmCli = path.join(dir, "project", "node_modules", ".bin", "pulumi");
        for (const cli of [userCli, npmCli]) {
            fs.mkdirSync(path.dirname(cli), { recursive: true });
            fs.writeFileSync(cli, STAND_IN, { mode: 0o755 });
        }
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function deploy(args: string[], env: Record<string, string> = {}, clis = [npmCli, userCli]): Deploy {
        const result = spawnSync("bash", [DEPLOY, ...args], {
            encoding: "utf8",
            env: { PATH: [...clis.map((c) => path.dirname(c)), "/usr/bin", "/bin"].join(":"), HOME: home, STANDIN_DIR: dir, ...env },
        });
        const callsFile = path.join(dir, "calls");
        const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [];
        fs.rmSync(callsFile, { force: true });
        return { status: result.status, stderr: result.stderr, calls };
    }
    const loggedInTo = (url: string) => fs.writeFileSync(path.join(dir, "backend"), `${url}\n`);
    /** The calls without the CLI's path. */
    const commands = (d: Deploy) => d.calls.map((c) => c.split(" | ")[0].replace(/^\S+\/pulumi /, "pulumi "));
    const passphraseDir = (backend: string) =>
        path.join(home, ".pulumi", "consistent-snapshots", createHash("sha256").update(backend).digest("hex").slice(0, 16));

    it("on a fresh machine: checks the CLI, logs in to a local backend, creates the stack with a generated passphrase (0600), runs up", () => {
        const run = deploy(["dev", "--yes"]);
        assert.equal(run.status, 0, run.stderr);
        const passphraseFile = path.join(passphraseDir("file://~"), "dev.passphrase");
        assert.deepEqual(commands(run), [
            "pulumi version",
            "pulumi whoami --non-interactive",
            "pulumi login --local --non-interactive",
            "pulumi whoami --non-interactive",
            "pulumi whoami --verbose --non-interactive",
            "pulumi stack select --non-interactive dev",
            "pulumi stack init --non-interactive dev",
            "pulumi up --stack dev --yes",
        ]);
        assert.match(run.calls.at(-1)!, new RegExp(`passphraseFile=${passphraseFile}$`));
        assert.match(run.calls.at(-2)!, new RegExp(`passphraseFile=${passphraseFile}$`), "the stack is created with the passphrase");
        assert.equal(fs.statSync(passphraseFile).mode & 0o777, 0o600);
        assert.match(fs.readFileSync(passphraseFile, "utf8"), /^[A-Za-z0-9]{20,}$/);
        assert.equal(fs.readFileSync(path.join(passphraseDir("file://~"), "backend"), "utf8"), "file://~\n", "the directory names its backend");
        assert.match(run.stderr, /generated the passphrase of stack dev in .*dev\.passphrase \(keep it/);
    });

    it("on the next run reuses the backend, the stack and the same passphrase", () => {
        assert.equal(deploy(["dev"]).status, 0);
        const passphraseFile = path.join(passphraseDir("file://~"), "dev.passphrase");
        const first = fs.readFileSync(passphraseFile, "utf8");
        const run = deploy(["dev"]);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(!commands(run).some((c) => c.startsWith("pulumi login") || c.startsWith("pulumi stack init")), commands(run).join("\n"));
        assert.equal(fs.readFileSync(passphraseFile, "utf8"), first);
        assert.match(run.calls.at(-1)!, new RegExp(`passphraseFile=${passphraseFile}$`));
    });

    it("refuses an existing stack it did not create on a passphrase backend: names the variables, generates nothing, no up", () => {
        const run0 = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://team-state", PULUMI_CONFIG_PASSPHRASE: "theirs" });
        assert.equal(run0.status, 0, run0.stderr);
        const run = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://team-state" });
        assert.equal(run.status, 2);
        assert.match(
            run.stderr,
            /stack dev already exists on s3:\/\/team-state and was not created by this command: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE/,
        );
        assert.ok(!commands(run).some((c) => c.startsWith("pulumi up") || c.startsWith("pulumi stack init")));
        assert.equal(fs.existsSync(path.join(home, ".pulumi")), false, "a passphrase was generated");
    });

    it("keeps passphrases per backend: a stack of the same name on another backend never gets this one's", () => {
        assert.equal(deploy(["dev"]).status, 0);
        assert.equal(deploy(["dev"], { PULUMI_BACKEND_URL: "s3://other", PULUMI_CONFIG_PASSPHRASE: "other" }).status, 0);
        const run = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://other" });
        assert.equal(run.status, 2, "the local backend's passphrase was used for s3://other");
        assert.ok(fs.existsSync(path.join(passphraseDir("file://~"), "dev.passphrase")));
    });

    it("logged in to Pulumi Cloud: no login, no passphrase (the service encrypts secrets)", () => {
        loggedInTo("https://api.pulumi.com");
        const run = deploy(["prod"]);
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(commands(run), [
            "pulumi version",
            "pulumi whoami --non-interactive",
            "pulumi whoami --verbose --non-interactive",
            "pulumi stack select --non-interactive prod",
            "pulumi stack init --non-interactive prod",
            "pulumi up --stack prod",
        ]);
        assert.match(run.calls.at(-1)!, /passphrase=unset passphraseFile=unset$/);
        assert.equal(fs.existsSync(path.join(home, ".pulumi")), false);
    });

    it("keeps the user's own passphrase and PULUMI_BACKEND_URL (no whoami, no login, nothing generated)", () => {
        const run = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://team-state", PULUMI_CONFIG_PASSPHRASE: "correct horse" });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(commands(run), [
            "pulumi version",
            "pulumi stack select --non-interactive dev",
            "pulumi stack init --non-interactive dev",
            "pulumi up --stack dev",
        ]);
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

    it("prefers a pulumi the user installed on PATH over the npm package npm run puts first, and says which", () => {
        loggedInTo("https://api.pulumi.com");
        const run = deploy(["dev"]);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(
            run.calls.every((c) => c.startsWith(`${userCli} `)),
            run.calls.join("\n"),
        );
        assert.match(run.stderr, new RegExp(`Pulumi CLI: ${userCli} \\(installed on PATH\\)`));
    });

    it("uses PULUMI_CLI when set, and refuses one that is not executable", () => {
        loggedInTo("https://api.pulumi.com");
        const custom = path.join(dir, "custom", "pulumi");
        fs.mkdirSync(path.dirname(custom));
        fs.writeFileSync(custom, STAND_IN, { mode: 0o755 });
        const run = deploy(["dev"], { PULUMI_CLI: custom });
        assert.equal(run.status, 0, run.stderr);
        assert.ok(
            run.calls.every((c) => c.startsWith(`${custom} `)),
            run.calls.join("\n"),
        );
        const missing = deploy(["dev"], { PULUMI_CLI: path.join(dir, "nowhere", "pulumi") });
        assert.equal(missing.status, 2);
        assert.match(missing.stderr, /PULUMI_CLI=.*nowhere\/pulumi is not an executable file/);
    });

    it("says the CLI could not be downloaded when the npm package's version fails, not that login failed", () => {
        const run = deploy(["dev"], { STANDIN_VERSION_FAIL: "1" }, [npmCli]);
        assert.equal(run.status, 2);
        assert.deepEqual(commands(run), ["pulumi version"], "went on past a CLI that does not run");
        assert.match(run.stderr, /Pulumi CLI: .*node_modules\/\.bin\/pulumi \(the npm package pulumi/);
        assert.match(run.stderr, /getaddrinfo ENOTFOUND get\.pulumi\.com/, "the CLI's own words");
        assert.match(
            run.stderr,
            /downloads the CLI from get\.pulumi\.com on first use.*install the CLI \(https:\/\/www\.pulumi\.com\/docs\/install\/\) and put it on PATH, or set PULUMI_CLI/,
        );
        assert.doesNotMatch(run.stderr, /login/);
    });

    it("shows the CLI's own output when pulumi login --local fails", () => {
        const run = deploy(["dev"], { STANDIN_LOGIN_FAIL: "1" });
        assert.equal(run.status, 2);
        assert.match(run.stderr, /could not create ~\/\.pulumi: read-only file system[\s\S]*pulumi login --local failed/);
    });

    it("says how to get a CLI when there is none", () => {
        const run = deploy(["dev"], {}, []);
        assert.equal(run.status, 2);
        assert.match(run.stderr, /no Pulumi CLI: run 'npm ci' first .*or install the CLI \(https:\/\/www\.pulumi\.com\/docs\/install\/\)/);
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
