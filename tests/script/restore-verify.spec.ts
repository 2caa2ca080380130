// restore-verify.sh on a host without a database server, as a restore drill's fresh instance is: it installs
// SSM_serverPackage with the host's package manager before touching any volume. Run in a private mount namespace
// (unshare -m) where /usr/sbin is a copy without the server and `dnf` on PATH is a stand-in that records what it
// was asked and "installs" the server by linking the real one in; nothing outside the namespace changes.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./fixture";

const SCRIPT = path.join(REPO_ROOT, "scripts", "restore-verify.sh");

/** Runs restore-verify.sh where no server is installed; `dnfExit` is what the stand-in dnf exits with. */
function withoutServer(env: Record<string, string>, dnfExit: number): { code: number; stdout: string; stderr: string; dnfCalls: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-rv-install-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        // The real server, kept where the namespace's /usr/sbin (a copy without it) does not hide it.
        const server = path.join(dir, "mariadbd");
        fs.copyFileSync("/usr/sbin/mariadbd", server);
        fs.chmodSync(server, 0o755);
        fs.writeFileSync(
            path.join(bin, "dnf"),
            `#!/bin/bash\necho "$*" >>${dir}/dnf-calls\n[[ ${dnfExit} -eq 0 ]] || exit ${dnfExit}\nln -s ${server} /usr/sbin/mariadbd\n`,
            { mode: 0o755 },
        );
        // /usr/sbin as a writable copy without the server binaries (inside the namespace only).
        const namespaceScript = [
            "set -e",
            `cp -a /usr/sbin ${dir}/sbin`,
            `rm -f ${dir}/sbin/mariadbd ${dir}/sbin/mysqld`,
            `mount --bind ${dir}/sbin /usr/sbin`,
            `exec bash ${SCRIPT}`,
        ].join("\n");
        // PATH without /usr/sbin's server: the stand-in dnf first, then the usual directories (mariadbd lives in /usr/sbin only).
        const run = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", namespaceScript], {
            encoding: "utf8",
            // Not a socket on stdin: bash would take itself for a remote shell and read ~/.bashrc.
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, ...env },
            timeout: 60_000,
        });
        const calls = fs.existsSync(path.join(dir, "dnf-calls")) ? fs.readFileSync(path.join(dir, "dnf-calls"), "utf8") : "";
        return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr, dnfCalls: calls };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("restore-verify.sh on a host without a database server (a drill instance)", () => {
    // A block device node that holds no filesystem (an unattached loop device) stands in for a restored volume:
    // the run gets past the parameters and the tools, and stops at the first mount, having mounted nothing.
    let loop = "";
    before(() => {
        assert.ok(fs.existsSync("/usr/sbin/mariadbd"), "the tests need MariaDB installed (.ci/run installs it)");
        loop = execFileSync("losetup", ["-f"], { encoding: "utf8" }).trim();
        assert.match(loop, /^\/dev\/loop\d+$/);
    });

    it("installs SSM_serverPackage with dnf when no server is installed, before touching any volume", () => {
        const r = withoutServer({ SSM_devices: loop, SSM_datadir: "auto", SSM_serverPackage: "mariadb1011-server" }, 0);
        assert.equal(r.dnfCalls, "install -y mariadb1011-server\n");
        assert.match(r.stderr, /no database server installed: installing mariadb1011-server/);
        assert.equal(r.code, 3, r.stderr);
        assert.match(JSON.parse(r.stdout.trim()).message, /no filesystem found on \/dev\/loop/);
    });

    it("names the package when the install fails (exit 2), and installs nothing without SSM_serverPackage", () => {
        const failed = withoutServer({ SSM_devices: loop, SSM_datadir: "auto", SSM_serverPackage: "mariadb1011-server" }, 1);
        assert.equal(failed.code, 2, failed.stderr);
        assert.match(JSON.parse(failed.stdout.trim()).message, /dnf install mariadb1011-server failed/);
        const none = withoutServer({ SSM_devices: loop, SSM_datadir: "auto" }, 0);
        assert.equal(none.code, 2, none.stderr);
        assert.equal(none.dnfCalls, "");
        assert.match(JSON.parse(none.stdout.trim()).message, /no mariadbd or mysqld found/);
    });

    it("refuses a package name that is not one (exit 1), before anything is installed", () => {
        const r = withoutServer({ SSM_devices: loop, SSM_datadir: "auto", SSM_serverPackage: "x;reboot" }, 0);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.dnfCalls, "");
    });
});
