// The helpers (watchdog, holder, sentinel) of scripts/consistent-snapshot.sh on their own: helper_main run the
// way watchdog_start runs it (a fresh bash given the helper functions, its trigger FIFO on stdin), fed by this
// spec instead of the script, so that what arrives and when can be chosen.
import * as assert from "node:assert/strict";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, sleep } from "./fixture";

const SCRIPT = path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh");
const HELPER_FUNCTIONS = "helper_main helper_release helper_thaw_verified helper_freeze_in_flight process_alive stamp";

/** Starts helper_main as watchdog_start does; returns the process, its trigger FIFO's write end and its output. */
async function startHelper(
    role: string,
    seconds: number,
    env: Record<string, string> = {},
): Promise<{ helper: ChildProcess; trigger: number; output: () => string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-helper-"));
    const fifo = path.join(dir, "trigger");
    execFileSync("mkfifo", ["-m", "0600", fifo]);
    // The script's functions without its last line (main "$@"), then the helper in a fresh bash, as the script starts it.
    const launcher =
        `source ${JSON.stringify(SCRIPT)}; exec bash -c "$(declare -f ${HELPER_FUNCTIONS}); helper_main \\"\\$@\\"" ` +
        `consistent-snapshot-${role} ${role} ${seconds} "" "" "" "" <${JSON.stringify(fifo)}`;
    let output = "";
    const helper = spawn("bash", ["-c", launcher], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    helper.stdout!.on("data", (d) => {
        output += d;
    });
    helper.stderr!.on("data", (d) => {
        output += d;
    });
    const trigger = fs.openSync(fifo, "w"); // blocks until the helper opens its end, as the script's open does
    return { helper, trigger, output: () => output };
}

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
    for (const until = Date.now() + ms; Date.now() < until; await sleep(20)) if (what()) return true;
    return what();
}

describe("helper_main (the watchdog, holder and sentinel of consistent-snapshot.sh)", () => {
    it("takes a message that arrives split across its 0.1 s reads whole: 'go' cut after 'g' still arms the deadline", async () => {
        // bash reads a pipe a byte at a time and a "read -t" that times out mid-line returns the bytes read so far:
        // dropped, "go" became "o", the helper never armed (a holder then saw "handover" with no deadline and
        // released at once as past it; a lost "handover" left the post-script's release unread).
        const { helper, trigger, output } = await startHelper("watchdog", 1);
        try {
            fs.writeSync(trigger, "g");
            await sleep(250); // two of its read timeouts pass with half the message read
            fs.writeSync(trigger, "o\n");
            const armedAt = Date.now();
            assert.ok(await waitFor(() => /releasing \(deadline\)/.test(output()), 4000), `never released at its deadline: ${output()}`);
            const after = Date.now() - armedAt;
            assert.ok(after >= 800 && after < 2500, `released ${after} ms after "go", not at its 1 s deadline`);
        } finally {
            fs.closeSync(trigger);
            helper.kill("SIGKILL");
        }
    });

    it("takes the post-script's 'release' whole when it arrives split across the holder's reads", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-hold-"));
        const release = path.join(dir, "release");
        execFileSync("mkfifo", ["-m", "0600", release]);
        const { helper, trigger, output } = await startHelper("holder", 60, { HOLD_RELEASE: release, HOLD_OUTCOME: path.join(dir, "outcome") });
        try {
            fs.writeSync(trigger, "go\nhandover\n");
            await sleep(300);
            const writer = fs.openSync(release, fs.constants.O_RDWR); // as the post-script opens it (<>)
            fs.writeSync(writer, "rel");
            await sleep(250);
            fs.writeSync(writer, "ease\n");
            fs.closeSync(writer);
            assert.ok(await waitFor(() => /releasing \(post-script\)/.test(output()), 3000), `the release was not taken: ${output()}`);
            assert.match(fs.readFileSync(path.join(dir, "outcome"), "utf8"), /^post-script \d+ verified\n$/);
        } finally {
            fs.closeSync(trigger);
            helper.kill("SIGKILL");
        }
    });

    it("(control) releases at once, as a script that died, on end of file without 'done'", async () => {
        const { helper, trigger, output } = await startHelper("watchdog", 60);
        try {
            fs.closeSync(trigger);
            assert.ok(await waitFor(() => /releasing \(script-died\)/.test(output()), 3000), output());
        } finally {
            helper.kill("SIGKILL");
        }
    });
});
