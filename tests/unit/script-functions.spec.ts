// scripts/consistent-snapshot.sh's pure functions, without root, a database or a loop device: the file is sourced
// (it runs main only when executed) into a plain bash, and each function is called as the script calls it.
// What needs the real host (locks, freezes, the snapshot call) is tests/script's.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./mocks";

const SCRIPT = path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh");

interface Bash {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** Sources the script in a clean bash (no SSM_* variables, an empty working directory and HOME), then runs `body`. */
function sourced(body: string, args: string[] = []): Bash {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-sourced-"));
    try {
        const run = spawnSync("bash", ["-c", `source "$SCRIPT"\n${body}`, "bash", ...args], {
            cwd: dir,
            encoding: "utf8",
            timeout: 30000,
            env: { PATH: process.env.PATH!, LANG: "C.UTF-8", HOME: dir, SCRIPT },
        });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `fn args…` in the sourced script, its stdout (functions that print). */
function call(fn: string, ...args: string[]): string {
    const run = sourced(`${fn} "$@"`, args);
    assert.equal(run.status, 0, run.stderr);
    return run.stdout;
}

/**
 * `fn result args…` for the functions that assign to a variable named by their first argument (a name none of them
 * declares local: bash's dynamic scope would hide the caller's variable).
 */
function assign(fn: string, ...args: string[]): string {
    const run = sourced(`test_result=""; ${fn} test_result "$@"; printf '%s' "$test_result"`, args);
    assert.equal(run.status, 0, run.stderr);
    return run.stdout;
}

describe("consistent-snapshot.sh sourced (a unit-test seam)", function () {
    this.timeout(60000);

    it("defines its functions and runs nothing: no output, no file, no trap, main not called", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-sourced-probe-"));
        try {
            const run = spawnSync("bash", ["-c", `source "$SCRIPT"; declare -F main read_parameters >/dev/null && trap -p EXIT && echo "sourced"`], {
                cwd: dir,
                encoding: "utf8",
                env: { PATH: process.env.PATH!, HOME: dir, SCRIPT },
            });
            assert.equal(run.status, 0, run.stderr);
            assert.equal(run.stdout, "sourced\n", "main's EXIT trap was set, or something printed");
            assert.equal(run.stderr, "");
            assert.deepEqual(fs.readdirSync(dir), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    for (const [how, command] of [
        ["as a file (how SSM runs it)", 'bash "$SCRIPT"'],
        ["from standard input", 'bash <"$SCRIPT"'],
    ] as const) {
        it(`runs main when executed ${how}: a bad parameter is refused with exit 201 and a JSON summary`, () => {
            const run = spawnSync("bash", ["-c", command], { encoding: "utf8", env: { PATH: process.env.PATH!, SCRIPT, SSM_command: "bogus" } });
            assert.equal(run.status, 201, run.stderr);
            assert.match(JSON.parse(run.stdout.trim().split("\n").pop()!).message, /parameter SSM_command: invalid value 'bogus'/);
        });
    }

    it("version_at_least compares dotted versions numerically, missing parts as 0", () => {
        const cases: [string, string, boolean][] = [
            ["7.75.0", "7.75.0", true],
            ["7.76.1", "7.75.0", true],
            ["8.0", "7.75.0", true],
            ["7.74.9", "7.75.0", false],
            ["7.9.0", "7.75.0", false],
            ["10.11.6", "10.4.1", true],
            ["10.4", "10.4.1", false],
            ["10.04.1", "10.4.1", true],
        ];
        for (const [have, want, expected] of cases) {
            const run = sourced(`if version_at_least "$1" "$2"; then echo yes; else echo no; fi`, [have, want]);
            assert.equal(run.stdout.trim(), expected ? "yes" : "no", `version_at_least ${have} ${want}`);
        }
    });

    it("json_str and json_array make JSON that parses back to the same strings", () => {
        const tricky = ["plain", 'a "quoted" word', "back\\slash", "new\nline\tand tab\r", "unicode é ✓", ""];
        for (const s of tricky) assert.equal(JSON.parse(call("json_str", s)), s);
        assert.deepEqual(JSON.parse(call("json_array", ...tricky)), tricky);
        assert.deepEqual(JSON.parse(call("json_array")), []);
    });

    it("url_encode escapes all but RFC 3986's unreserved characters, byte by byte in UTF-8 (SigV4's canonical form)", () => {
        const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
        for (const s of ["A-z_0.9~", "a b/c=d+e&f", 'snapshot\'s "tag"', "é✓", "100%"]) assert.equal(assign("url_encode", s), rfc3986(s), s);
    });

    it("xml_unescape decodes EC2's five entities, &amp; last (so &amp;lt; stays &lt;), on bash 5.2 too (patsub_replacement)", () => {
        assert.equal(assign("xml_unescape", "&lt;a&gt; &quot;b&quot; &apos;c&apos; &amp;lt; x&amp;y"), `<a> "b" 'c' &lt; x&y`);
    });

    it("tags_json and tags_query carry each tag's key and value, values cut at EC2's 256 characters", () => {
        const long = "v".repeat(300);
        const json = JSON.parse(`[${assign("tags_json", 'Key "1"=a=b', `Long=${long}`)}]`);
        assert.deepEqual(json, [
            { Key: 'Key "1"', Value: "a=b" },
            { Key: "Long", Value: "v".repeat(256) },
        ]);
        const run = sourced(`test_result=""; tags_query test_result 3 "$@"; printf '%s' "$test_result"`, ["Run Id=a/b", `Long=${long}`]);
        assert.equal(
            run.stdout,
            `&TagSpecification.1.Tag.3.Key=Run%20Id&TagSpecification.1.Tag.3.Value=a%2Fb&TagSpecification.1.Tag.4.Key=Long&TagSpecification.1.Tag.4.Value=${"v".repeat(256)}`,
        );
    });

    it("gtid_tags splits a GTID set over up to 8 tags of 256 characters, and marks one cut beyond", () => {
        const parts = (value: string) => {
            const run = sourced(`tags=(); gtid_tags GtidBinlogPos "$1" tags; printf '%s\\n' "\${tags[@]}"`, [value]);
            assert.equal(run.status, 0, run.stderr);
            return run.stdout.trim().split("\n");
        };
        assert.deepEqual(parts("0-1-42"), ["GtidBinlogPos=0-1-42"]);
        const two = "x".repeat(300);
        assert.deepEqual(parts(two), [`GtidBinlogPos=${two.slice(0, 256)}`, `GtidBinlogPos2=${two.slice(256)}`]);
        const huge = "y".repeat(8 * 256 + 10);
        const cut = parts(huge);
        assert.equal(cut.length, 9);
        assert.equal(cut[7], `GtidBinlogPos8=${"y".repeat(253)}...`);
        assert.equal(cut[8], "GtidBinlogPosCut=true");
    });

    it("for_each_depth hands the action one wave of mount points per depth, in the order given", () => {
        const run = sourced(`wave() { echo "$*"; }; for_each_depth wave "$@"`, ["/data/a/b", "/data/c/d", "/data/a", "/srv", "/data"]);
        assert.equal(run.stdout, "/data/a/b /data/c/d\n/data/a\n/srv /data\n");
        assert.equal(sourced(`wave() { echo "called"; }; for_each_depth wave`).stdout, "", "no mounts: no call");
    });

    it("normalize_device makes /dev/sdf, /dev/xvdf and sdf the same attachment", () => {
        for (const device of ["/dev/sdf", "/dev/xvdf", "sdf", "xvdf"]) assert.equal(call("normalize_device", device).trim(), "f");
        assert.equal(call("normalize_device", "/dev/nvme1n1").trim(), "nvme1n1");
    });

    it("check_int admits 1-4 digits within the range (leading zeros as decimal) and refuses the rest with 201 naming the parameter", () => {
        for (const ok of ["2", "600", "0600", "08"]) assert.equal(sourced(`check_int SSM_maxFreezeSeconds "$1" 2 600`, [ok]).status, 0, ok);
        for (const bad of ["1", "601", "", "-5", "2.5", "12345", "1e3", "6 0"]) {
            const run = sourced(`check_int SSM_maxFreezeSeconds "$1" 2 600`, [bad]);
            assert.equal(run.status, 201, `'${bad}' was admitted`);
            assert.match(run.stdout, /parameter SSM_maxFreezeSeconds: invalid value .*; expected an integer from 2 to 600/);
        }
    });

    it("report_and_exit prints one JSON line, every field in its order (what the metric filters, the CLI and the tests read), and exits with the code", () => {
        const run = sourced(
            [
                'RUN_ID=cs-20261205T000012Z-42 INSTANCE_ID=i-0123 REGION=eu-west-1 DATABASE=mysql DB_USER=backup API_CLIENT=curl LOCK_METHOD="BACKUP STAGE"',
                "COMMAND=snapshot TARGET_NAME=main T_LOCKED=1000 T_UNLOCKED=1150 T_FIRST_FLUSH=1010 T_WRITES_RELEASED=1100 T_FROZEN=1020 T_THAWED=1090",
                'T_API_START=1030 T_API_END=1080 SNAPSHOTS=(snap-1:vol-1 snap-2:vol-2) FREEZE_MOUNTS=(/data "/odd \\"mount\\"") PRUNED=(snap-0)',
                "BINLOG_FILE=mysql-bin.000042 BINLOG_POSITION=123 GTID_BINLOG_POS=0-1-42",
                'report_and_exit 0 "snapshots created; a \\"quoted\\" word"',
            ].join("\n"),
        );
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.stdout.split("\n").length, 2, "one line");
        const summary = JSON.parse(run.stdout) as Record<string, unknown>;
        assert.deepEqual(Object.keys(summary), [
            "status",
            "exitCode",
            "message",
            "command",
            "executionId",
            "runId",
            "target",
            "instanceId",
            "region",
            "database",
            "databaseUser",
            "dryRun",
            "apiClient",
            "lockMethod",
            "lockHeldMs",
            "writeBlockWindowMs",
            "frozenMs",
            "apiMs",
            "firstFlushAtMs",
            "lockRequestedAtMs",
            "lockedAtMs",
            "frozenAtMs",
            "allFrozenAtMs",
            "apiStartMs",
            "apiEndMs",
            "thawedAtMs",
            "unlockedAtMs",
            "mountsFrozen",
            "mountsSyncedOnly",
            "mountsNotFrozen",
            "volumes",
            "snapshots",
            "binlog",
            "replication",
            "binlogAfter",
            "durability",
            "pruned",
            "pruneErrors",
        ]);
        assert.deepEqual(
            [summary.status, summary.exitCode, summary.message, summary.target, summary.dryRun, summary.lockMethod],
            ["ok", 0, 'snapshots created; a "quoted" word', "main", false, "BACKUP STAGE"],
        );
        assert.deepEqual([summary.lockHeldMs, summary.writeBlockWindowMs, summary.frozenMs, summary.apiMs], [150, 90, 70, 50]);
        assert.deepEqual(summary.mountsFrozen, ["/data", '/odd "mount"']);
        assert.deepEqual(summary.snapshots, [
            { snapshotId: "snap-1", volumeId: "vol-1" },
            { snapshotId: "snap-2", volumeId: "vol-2" },
        ]);
        assert.deepEqual(summary.binlog, { file: "mysql-bin.000042", position: "123", gtid: "0-1-42" });
        assert.deepEqual([summary.replication, summary.pruned, summary.pruneErrors], [null, ["snap-0"], []]);
        const failed = sourced('COMMAND=pre-script report_and_exit 205 "could not lock"');
        assert.equal(failed.status, 205);
        assert.deepEqual(((s: Record<string, unknown>) => [s.status, s.exitCode, s.lockHeldMs])(JSON.parse(failed.stdout)), ["failed", 205, 0]);
    });

    describe("snapshots_to_prune (retention's decision, from describe-snapshots' text output)", () => {
        const NOW = Math.floor(Date.parse("2026-12-05T12:00:00Z") / 1000);
        const listing = [
            "2026-12-05T00:00:10.000Z\tsnap-0a\tcs-20261205T000010Z-1",
            "2026-12-05T00:00:10.000Z\tsnap-0b\tcs-20261205T000010Z-1",
            "2026-12-04T00:00:10.000Z\tsnap-1a\tcs-20261204T000010Z-1",
            "2026-12-04T00:00:11.000Z\tsnap-1b\tcs-20261204T000010Z-1",
            "2026-12-03T00:00:10.000Z\tsnap-2a\tNone",
            "2026-11-20T00:00:10.000Z\tsnap-3a\tcs-20261120T000010Z-1",
            "2026-12-05T11:59:00.000Z\tsnap-now\tcs-20261205T115900Z-9",
        ].join("\n");
        const prune = (count: number, days: number, snapshots = "snap-now:vol-1") => {
            const run = sourced(
                `RETAIN_COUNT=${count} RETAIN_DAYS=${days} RUN_ID=cs-20261205T115900Z-9 SNAPSHOTS=(${snapshots}); snapshots_to_prune ${NOW} <<<"$1"`,
                [listing],
            );
            assert.equal(run.status, 0, run.stderr);
            return run.stdout
                .trim()
                .split("\n")
                .filter((l) => l !== "")
                .sort();
        };

        it("keeps this run and retainCount - 1 more runs, newest first, deleting each older run whole", () => {
            assert.deepEqual(prune(2, 0), ["snap-1a", "snap-1b", "snap-2a", "snap-3a"]);
            assert.deepEqual(prune(3, 0), ["snap-2a", "snap-3a"], "a snapshot without RunId is a run of its own");
            assert.deepEqual(prune(1, 0), ["snap-0a", "snap-0b", "snap-1a", "snap-1b", "snap-2a", "snap-3a"]);
        });

        it("deletes runs whose newest snapshot is older than retainDays, whatever the count", () => {
            assert.deepEqual(prune(0, 7), ["snap-3a"]);
            assert.deepEqual(prune(10, 2), ["snap-2a", "snap-3a"]);
        });

        it("keeps everything with both at 0, and never this run's snapshots, even listed under another RunId", () => {
            assert.deepEqual(prune(0, 0), []);
            assert.deepEqual(prune(1, 0, "snap-now:vol-1 snap-1a:vol-2"), ["snap-0a", "snap-0b", "snap-1b", "snap-2a", "snap-3a"]);
        });
    });
});
