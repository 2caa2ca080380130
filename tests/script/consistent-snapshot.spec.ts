// Specification of scripts/consistent-snapshot.sh, proved on a real MariaDB (or Oracle MySQL, in the
// compatibility chroots), real loop-mounted ext4 and XFS filesystems, real fsfreeze and the real AWS CLI
// talking to the IMDS/EC2 double. Most runs are made the way the SSM Agent runs the document (its
// environment, `sh -c _script.sh`, SIGKILL of the process group on cancel): Fixture.runAsAgent. A few are
// made by hand (bash, HOME set): the script's own parameter checks, SIGTERM, and the blog's sequence.
import * as assert from "node:assert/strict";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROLE_KEY, RequestRecord, SnapshotObservation, requestTags } from "./ec2-double";
import {
    APP_VOLUME_ID,
    AgentRunOptions,
    BACKUP_USER,
    CLIENT,
    DATA_VOLUME_ID,
    FLAVOR,
    Fixture,
    INSTANCE_ID,
    LOGS_VOLUME_ID,
    PROCESSLIST,
    REPO_ROOT,
    ROOT_VOLUME_ID,
    SCRIPT,
    ScriptResult,
    Writer,
    acknowledgedCommitProblems,
    requirePrerequisites,
    sleep,
} from "./fixture";

const SEED = path.join(__dirname, "seed-sequence.sh");
/** curl 7.75 and later sign requests themselves (--aws-sigv4); the script then sends CreateSnapshots with curl. */
const CURL_VERSION = /^curl (\d+)\.(\d+)/.exec(execFileSync("curl", ["--version"], { encoding: "utf8" }))!;
const CURL_SIGNS = Number(CURL_VERSION[1]) * 100 + Number(CURL_VERSION[2]) >= 775;
/**
 * What the document's default, quiesce=auto, takes on this fixture (MyISAM tables, so crash recovery is not
 * exact): MariaDB's BACKUP STAGE; on MySQL FLUSH TABLES WITH READ LOCK (LOCK INSTANCE FOR BACKUP does not hold
 * MyISAM writes).
 */
const DEFAULT_LOCK =
    FLAVOR === "mariadb" ? { method: "BACKUP STAGE BLOCK_COMMIT", tag: "backup-stage" } : { method: "FLUSH TABLES WITH READ LOCK", tag: "ftwrl" };
/** On MariaDB the double reads the BACKUP STAGE locks held at every snapshot (auto's lock there; see assertLockHeldAt). */
const PROBE_BACKUP_LOCKS = FLAVOR === "mariadb";
const RESTORE_VERIFY = path.join(REPO_ROOT, "scripts", "restore-verify.sh");
/** The helpers' log of agent runs (the script's RUN_BASE under Run Command is the real /run). */
const WATCHDOG_LOG = "/run/consistent-snapshot/watchdog.log";
/** What the helpers logged since `offset` (a length of WATCHDOG_LOG taken before the run). */
function watchdogLogSince(offset: number): string {
    return fs.existsSync(WATCHDOG_LOG) ? fs.readFileSync(WATCHDOG_LOG, "utf8").slice(offset) : "";
}
/** Waits (at most `withinMs`) for the helpers to log a line matching `pattern` since `offset`; returns what they logged. */
async function watchdogLogged(offset: number, pattern: RegExp, withinMs = 2000): Promise<string> {
    const deadline = Date.now() + withinMs;
    while (!pattern.test(watchdogLogSince(offset)) && Date.now() < deadline) await sleep(50);
    return watchdogLogSince(offset);
}
const watchdogLogLength = (): number => (fs.existsSync(WATCHDOG_LOG) ? fs.statSync(WATCHDOG_LOG).size : 0);
/** PIDs of the helpers of a given role now running (this test's script started them). */
function helperPids(role: string): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
            if (argv[0] === "bash" && argv[3] === `consistent-snapshot-${role}`) pids.push(Number(entry));
        } catch {
            /* gone */
        }
    }
    return pids;
}
/** The DLM execution the pre/post-script tests pair. */
const DLM_EXECUTION_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
/** Where the compatibility matrix collects each cell's measurements (set by tests/compat/run.sh). */
const COMPAT_RESULTS = process.env.COMPAT_RESULTS;

describe(`consistent-snapshot.sh (real ${FLAVOR}, real fsfreeze, EC2 double)`, function () {
    this.timeout(180000);
    const f = new Fixture({ appVolume: true });
    let writer: Writer | undefined;

    before(async function () {
        this.timeout(120000);
        requirePrerequisites();
        await f.setUp();
        f.double.probeBackupLocks = PROBE_BACKUP_LOCKS;
    });

    after(async function () {
        this.timeout(60000);
        await f.tearDown();
    });

    beforeEach(async () => {
        writer = f.startWriter();
        await writer.waitForCommits(10);
    });

    afterEach(async () => {
        f.thawAll();
        await writer?.stop();
        await f.double.settle();
        f.double.reset();
        f.double.probeBackupLocks = PROBE_BACKUP_LOCKS;
    });

    /**
     * No session holds a database lock within `seconds`: a commit goes through (FTWRL), and on MariaDB no session
     * holds a BACKUP STAGE lock (BACKUP STAGE lets the MEMORY-table probe write).
     */
    async function lockReleased(seconds: number): Promise<boolean> {
        const deadline = Date.now() + seconds * 1000;
        if (!(await f.lockFree(seconds))) return false;
        if (FLAVOR !== "mariadb") return true;
        for (;;) {
            if ((await f.backupLockModes()).length === 0) return true;
            if (Date.now() >= deadline) return false;
            await sleep(200);
        }
    }

    /**
     * The database lock `lockMethod` names was held when the double took the snapshot: a commit blocked (FTWRL), or
     * (BACKUP STAGE, which lets the double's MEMORY-table probe write) the server itself listed BLOCK_COMMIT as held.
     */
    function assertLockHeldAt(obs: SnapshotObservation, lockMethod: unknown, why = "the lock was not held at the snapshot instant"): void {
        if (lockMethod === "BACKUP STAGE BLOCK_COMMIT") assert.deepEqual(obs.backupLockModes, ["MDL_BACKUP_WAIT_COMMIT"], why);
        else assert.equal(obs.dbWriteBlocked, true, why);
    }

    /** The host is given back: both mounts take a write, the lock is free and the database takes a commit. */
    /**
     * Runs `body` with another tool's snapshot of the data volume started 1 s ago and the double enforcing EC2's 15 s
     * interval between snapshots of a volume; both undone afterwards. `body` gets the snapshot's start (ms).
     */
    async function withRecentSnapshotOfDataVolume(
        snapshotId: string,
        state: "pending" | "completed",
        body: (seededStart: number) => Promise<void>,
    ): Promise<void> {
        const seededStart = Date.now() - 1000;
        f.double.seedSnapshot({ snapshotId, volumeId: DATA_VOLUME_ID, startTime: new Date(seededStart), tags: { Owner: "another tool" }, state });
        f.double.volumeSnapshotIntervalMs = 15000;
        try {
            await body(seededStart);
        } finally {
            f.double.volumeSnapshotIntervalMs = 0;
            f.double.snapshotStore.delete(snapshotId);
        }
    }

    async function assertHostRecovered(withinMs = 2000): Promise<void> {
        for (const mount of f.freezableMounts) {
            assert.ok(await f.writable(mount, withinMs), `${mount} is still frozen`);
        }
        assert.ok(await lockReleased(Math.ceil(withinMs / 1000)), "the database lock is still held");
        await f.sql("INSERT INTO app.probe (at) VALUES (NOW(6))", withinMs + 3000);
    }

    /** Every commit the writer saw acknowledged is in the live database. */
    async function assertNoCommittedRowLost(w: Writer = writer!): Promise<void> {
        await w.stop();
        const events = w.commits;
        assert.ok(
            events.some((c) => c.kind === "db"),
            "the writer committed nothing: the test proves nothing",
        );
        assert.deepEqual(acknowledgedCommitProblems(events, Infinity, Infinity, w.rowsIn(f, f.live.cnf)), []);
    }

    /**
     * Runs scripts/restore-verify.sh on copies of the data and logs volumes (attached as loop devices, mounted under
     * `root`), expecting the binlog to end at `binlog`'s position; detaches them afterwards.
     */
    async function restoreVerify(dataImage: string, logsImage: string, binlog: Record<string, string>, root: string): Promise<ScriptResult> {
        const dataLoop = f.attachImage(dataImage);
        const logsLoop = f.attachImage(logsImage);
        try {
            return await f.runScript(RESTORE_VERIFY, {
                PATH: process.env.PATH,
                SSM_mounts: `${dataLoop}=${root}/data ${logsLoop}=${root}/logs`,
                SSM_datadir: `${root}/data/mysql`,
                SSM_innodbLogDir: `${root}/logs/redo`,
                SSM_binlogDir: `${root}/logs/binlog`,
                SSM_expectBinlogFile: binlog.file,
                SSM_expectBinlogPosition: binlog.position,
            });
        } finally {
            f.detachImage(logsLoop);
            f.detachImage(dataLoop);
        }
    }

    let snapshotCopies = 0;
    /** A private copy of a snapshot the double took (restores write to what they mount). */
    function copyOfSnapshot(obs: SnapshotObservation, volumeId: string): string {
        const snapshot = obs.snapshots.find((s) => s.volumeId === volumeId)!.copy;
        const target = `${snapshot}.restore-${++snapshotCopies}`;
        execFileSync("cp", ["--reflink=always", snapshot, target]);
        return target;
    }

    /** CHECK TABLE passes on every table of app and mysql on the server of `cnf`; returns the tables checked. */
    function assertEveryTableChecks(cnf: string): string[] {
        const tables = f
            .sqlSync(
                "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES " +
                    "WHERE TABLE_SCHEMA IN ('app', 'mysql') AND TABLE_TYPE = 'BASE TABLE'",
                cnf,
            )
            .trim()
            .split("\n");
        for (const line of f
            .sqlSync(`CHECK TABLE ${tables.join(", ")}`, cnf)
            .trim()
            .split("\n")) {
            const [table, , type, text] = line.split("\t");
            if (type === "status") assert.equal(text, "OK", `CHECK TABLE ${table}: ${line}`);
            assert.notEqual(type, "error", `CHECK TABLE ${table}: ${line}`);
        }
        return tables;
    }

    /**
     * A server started on copies of the data and logs volumes passes CHECK TABLE on every table and holds exactly
     * the rows the double saw committed at the snapshot instant (InnoDB and MyISAM).
     */
    async function assertRestoresTheInstant(obs: SnapshotObservation, dataCopy: string, logsCopy: string): Promise<void> {
        const restored = await f.restore(dataCopy, logsCopy);
        try {
            const tables = assertEveryTableChecks(restored.server.cnf);
            assert.ok(tables.includes("app.inno") && tables.includes("app.myi"), tables.join(","));
            const [inno, myi] = f
                .sqlSync("SELECT IFNULL(MAX(id),0) FROM app.inno; SELECT IFNULL(MAX(id),0) FROM app.myi", restored.server.cnf)
                .trim()
                .split("\n")
                .map(Number);
            assert.ok(obs.maxInnodbId > 0);
            assert.equal(inno, obs.maxInnodbId);
            assert.equal(myi, obs.maxMyisamId);
        } finally {
            await restored.cleanup();
        }
    }

    /** Runs the document as the SSM Agent does, with these parameters (the others at their defaults). */
    function run(params: Record<string, string> = {}, opts: AgentRunOptions = {}): Promise<ScriptResult> {
        return f.runAsAgent(params, opts);
    }
    /** Runs the script by hand: bash, HOME set, the live server's option file as SSM_mysqlDefaultsFile. */
    function runByHand(params: Record<string, string> = {}, opts: Parameters<Fixture["runScript"]>[2] = {}): Promise<ScriptResult> {
        return f.runScript(SCRIPT, f.scriptEnv(params), opts);
    }

    function expectFailure(result: ScriptResult, code: number, message: RegExp): void {
        assert.equal(result.code, code, `exit ${result.code}, expected ${code}\n${result.stderr}`);
        assert.equal(result.summary.status, "failed");
        assert.equal(result.summary.exitCode, code);
        assert.match(result.summary.message, message);
        assert.match(result.stderr, message);
    }

    describe("a normal run", () => {
        let result: ScriptResult;
        let observations: SnapshotObservation[];
        let requests: RequestRecord[];
        let normalRunWriter: Writer;
        /** A private point-in-time copy of the run's snapshot of a volume (restores write to what they mount). */
        const freshCopy = (volumeId: string) => copyOfSnapshot(observations[0], volumeId);

        before(async () => {
            // One run, many assertions: the double's records are kept before the hooks reset it.
            normalRunWriter = f.startWriter();
            await normalRunWriter.waitForCommits(10);
            result = await run();
            observations = [...f.double.observations];
            requests = [...f.double.requests];
        });

        it("exits 0 with one JSON summary line", () => {
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.summary.status, "ok");
            assert.equal(result.stdout.trim().split("\n").length, 1);
            assert.equal(result.summary.target, "", "no target given: an empty Target");
        });

        it("makes exactly one CreateSnapshots call for the instance, boot volume excluded (after a DryRun call before the lock when curl sends it)", () => {
            const creates = requests.filter((r) => r.what.startsWith("CreateSnapshot"));
            assert.deepEqual(
                creates.map((r) => r.what),
                CURL_SIGNS ? ["CreateSnapshots DryRun", "CreateSnapshots"] : ["CreateSnapshots"],
            );
            assert.equal(result.summary.apiClient, CURL_SIGNS ? "curl" : "aws-cli");
            assert.match(creates.at(-1)!.userAgent, CURL_SIGNS ? /^curl\// : /^aws-cli\//);
            if (CURL_SIGNS) assert.ok(creates[0].atMs < (result.summary.lockRequestedAtMs as number), "the DryRun call was not made before the lock");
            const [obs] = observations;
            assert.equal(obs.params["InstanceSpecification.InstanceId"], INSTANCE_ID);
            assert.equal(obs.params["InstanceSpecification.ExcludeBootVolume"], "true");
            assert.deepEqual(
                obs.snapshots.map((s) => s.volumeId),
                [DATA_VOLUME_ID, LOGS_VOLUME_ID, APP_VOLUME_ID],
            );
        });

        it("runs under the agent's environment (no HOME) with root's ~/.my.cnf from passwd: the least-privilege account", () => {
            assert.equal(result.summary.databaseUser, `${BACKUP_USER}@localhost`);
            assert.match(result.stderr, /HOME is 'unset'; using \/root \(passwd\) for option files/);
        });

        it(`holds the default lock (quiesce=auto: ${DEFAULT_LOCK.method} here) at the snapshot instant`, () => {
            assert.equal(result.summary.lockMethod, DEFAULT_LOCK.method);
            assertLockHeldAt(observations[0], result.summary.lockMethod);
        });

        it("has every filesystem of every snapshotted volume frozen at the snapshot instant (the app volume too), and never /", () => {
            const [obs] = observations;
            assert.deepEqual(obs.frozen, { [f.dataMount]: true, [f.logsMount]: true, [f.appMount]: true });
            assert.equal(obs.rootWritable, true);
            assert.deepEqual([...(result.summary.mountsFrozen as string[])].sort(), [...f.freezableMounts].sort());
            assert.deepEqual(result.summary.mountsNotFrozen, []);
        });

        it("calls nothing but CreateSnapshots while frozen (no IMDS, no describe)", () => {
            const frozenAt = result.summary.frozenAtMs as number;
            const thawedAt = result.summary.thawedAtMs as number;
            const inside = requests.filter((r) => r.atMs >= frozenAt && r.atMs <= thawedAt);
            assert.deepEqual(
                inside.map((r) => r.what),
                ["CreateSnapshots"],
            );
        });

        it("orders lock, freeze, call, thaw, unlock and reports the durations", () => {
            const s = result.summary as Record<string, number>;
            assert.ok(
                s.lockedAtMs <= s.frozenAtMs &&
                    s.frozenAtMs <= s.apiStartMs &&
                    s.apiStartMs <= s.apiEndMs &&
                    s.apiEndMs <= s.thawedAtMs &&
                    s.thawedAtMs <= s.unlockedAtMs,
                JSON.stringify(s),
            );
            assert.equal(s.frozenMs, s.thawedAtMs - s.frozenAtMs);
            assert.equal(s.lockHeldMs, s.unlockedAtMs - s.lockedAtMs);
            assert.ok(s.firstFlushAtMs > 0 && s.firstFlushAtMs <= s.lockRequestedAtMs, JSON.stringify(s));
            assert.equal(s.writeBlockWindowMs, s.unlockedAtMs - s.firstFlushAtMs);
            assert.ok(s.frozenMs > 0 && s.lockHeldMs >= s.frozenMs);
        });

        it("reports what the double saw: instance, snapshot ids, volumes", () => {
            const [obs] = observations;
            assert.equal(result.summary.instanceId, INSTANCE_ID);
            assert.deepEqual(result.summary.volumes, [DATA_VOLUME_ID, LOGS_VOLUME_ID, APP_VOLUME_ID]);
            assert.deepEqual(
                result.summary.snapshots,
                obs.snapshots.map((s) => ({ snapshotId: s.snapshotId, volumeId: s.volumeId })),
            );
        });

        it("tags the snapshots on create with the creator, instance and binlog position", () => {
            const [obs] = observations;
            const tags = requestTags(obs.params);
            assert.equal(obs.params["TagSpecification.1.ResourceType"], "snapshot");
            assert.equal(tags.CreatedBy, "consistent-snapshots");
            assert.equal(tags.InstanceId, INSTANCE_ID);
            assert.equal(tags.Database, "mysql");
            assert.equal(tags.ConsistencyMethod, `${DEFAULT_LOCK.tag}+fsfreeze`);
            assert.equal(tags.UnfrozenMounts, "none");
            assert.equal(tags.VolumeCount, String(obs.snapshots.length), "how many snapshots make the set whole (the CLI refuses to restore fewer)");
            assert.match(tags.BinlogFile, /^mysql-bin\.\d{6}$/);
            assert.match(tags.BinlogPosition, /^\d+$/);
            // MariaDB's GTID position (domain-server-sequence) or MySQL's executed GTID set (uuid:1-n).
            assert.match(tags.GtidBinlogPos, FLAVOR === "mariadb" ? /^\d+-\d+-\d+/ : /^[0-9a-f-]{36}:1-\d+/);
            assert.match(tags.Name, new RegExp(`^consistent-snapshot ${INSTANCE_ID} `));
            const binlog = result.summary.binlog as Record<string, string>;
            assert.deepEqual(binlog, { file: tags.BinlogFile, position: tags.BinlogPosition, gtid: tags.GtidBinlogPos });
        });

        it("gives the host back: filesystems writable, database takes commits, no row lost", async () => {
            await assertHostRecovered();
            await assertNoCommittedRowLost(normalRunWriter);
        });

        it("restores through scripts/restore-verify.sh: mounts, CHECK TABLE on every table, binlog ends at the tagged position", async () => {
            const binlog = result.summary.binlog as Record<string, string>;
            const root = path.join(f.dir, "verify");
            const verify = await restoreVerify(freshCopy(DATA_VOLUME_ID), freshCopy(LOGS_VOLUME_ID), binlog, root);
            assert.equal(verify.code, 0, verify.stderr);
            assert.equal(verify.summary.status, "ok");
            assert.ok((verify.summary.tablesChecked as number) >= 5, JSON.stringify(verify.summary));
            assert.deepEqual(verify.summary.failedTables, []);
            assert.equal(verify.summary.binlogFileSize, binlog.position);
            // The fixture's server runs as root: the copy is given to mysql, and the server runs as mysql.
            assert.equal(verify.summary.serverUser, "mysql", "the restored copy's server ran as root");
            assert.ok(!fs.existsSync(path.join(root, "data", "mysql")), "left the restored volume mounted");
        });

        it("restore-verify.sh as the restore drill runs it: devices only (mounted under restoreRoot), datadir, redo log and binlog directories found on the copy", async () => {
            // The drill instance knows only the device names it attached the set at and the snapshot's tags: the
            // layout (datadir on one volume, redo log and binlog on another here) is found on the restored copy.
            const binlog = result.summary.binlog as Record<string, string>;
            const root = path.join(f.dir, "verify-drill");
            const dataLoop = f.attachImage(freshCopy(DATA_VOLUME_ID));
            const logsLoop = f.attachImage(freshCopy(LOGS_VOLUME_ID));
            try {
                const verify = await f.runScript(RESTORE_VERIFY, {
                    PATH: process.env.PATH,
                    SSM_devices: `${dataLoop} ${logsLoop}`,
                    SSM_restoreRoot: root,
                    SSM_datadir: "auto",
                    SSM_innodbLogDir: "auto",
                    SSM_binlogDir: "auto",
                    SSM_expectBinlogFile: binlog.file,
                    SSM_expectBinlogPosition: binlog.position,
                });
                assert.equal(verify.code, 0, verify.stderr);
                assert.equal(verify.summary.datadir, `${root}/${path.basename(dataLoop)}/mysql`);
                assert.match(verify.stderr, new RegExp(`InnoDB redo log directory: ${root}/${path.basename(logsLoop)}/redo`));
                assert.match(verify.stderr, new RegExp(`binlog directory: ${root}/${path.basename(logsLoop)}/binlog`));
                assert.equal(verify.summary.binlogFileSize, binlog.position);
                assert.ok((verify.summary.tablesChecked as number) >= 5, JSON.stringify(verify.summary));
                // Two candidate datadirs (both copies of the data volume): named, and nothing is guessed.
                const twice = f.attachImage(freshCopy(DATA_VOLUME_ID));
                try {
                    const ambiguous = await f.runScript(RESTORE_VERIFY, {
                        PATH: process.env.PATH,
                        SSM_devices: `${dataLoop} ${twice}`,
                        SSM_restoreRoot: root,
                        SSM_datadir: "auto",
                    });
                    assert.equal(ambiguous.code, 3, ambiguous.stderr);
                    assert.match(ambiguous.summary.message, /SSM_datadir auto: 2 candidates/);
                } finally {
                    f.detachImage(twice);
                }
            } finally {
                f.detachImage(logsLoop);
                f.detachImage(dataLoop);
            }
        });

        it("restore-verify.sh fails with exit 6 when the binlog does not end at the tagged position, and 5 on a damaged table", async () => {
            const binlog = result.summary.binlog as Record<string, string>;
            // A damaged copy of the data volume: the MyISAM index of app.myi overwritten.
            const damaged = freshCopy(DATA_VOLUME_ID);
            const root = path.join(f.dir, "verify-damaged");
            fs.mkdirSync(path.join(root, "data"), { recursive: true });
            let dataLoop = f.attachImage(damaged);
            execFileSync("mount", [dataLoop, path.join(root, "data")]);
            const fd = fs.openSync(path.join(root, "data", "mysql", "app", "myi.MYI"), "r+");
            fs.writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 1024);
            fs.closeSync(fd);
            execFileSync("umount", [path.join(root, "data")]);
            f.detachImage(dataLoop);
            dataLoop = f.attachImage(damaged);
            const logsLoop = f.attachImage(freshCopy(LOGS_VOLUME_ID));
            const env = {
                PATH: process.env.PATH,
                SSM_mounts: `${dataLoop}=${root}/data ${logsLoop}=${root}/logs`,
                SSM_datadir: `${root}/data/mysql`,
                SSM_innodbLogDir: `${root}/logs/redo`,
                SSM_binlogDir: `${root}/logs/binlog`,
                SSM_expectBinlogFile: binlog.file,
            };
            try {
                const mismatch = await f.runScript(RESTORE_VERIFY, { ...env, SSM_expectBinlogPosition: String(Number(binlog.position) - 1) });
                assert.equal(mismatch.code, 6, mismatch.stderr);
                assert.match(mismatch.summary.message, /BinlogPosition says/);
                const damagedRun = await f.runScript(RESTORE_VERIFY, { ...env, SSM_expectBinlogPosition: binlog.position });
                assert.equal(damagedRun.code, 5, damagedRun.stderr);
                assert.ok(
                    (damagedRun.summary.failedTables as string[]).some((t) => t.startsWith("`app`.`myi`")),
                    JSON.stringify(damagedRun.summary),
                );
            } finally {
                f.detachImage(logsLoop);
                f.detachImage(dataLoop);
            }
        });

        it("restore-verify.sh types each volume by probing it, not by libblkid's cache: a device that held XFS a moment ago and now holds the ext4 copy mounts as ext4", async () => {
            // libblkid answers from its cache for a device probed less than 2 s before (BLKID_PROBE_MIN, verify.c):
            // a restore that reuses a device name (a loop here, /dev/sdg after a detach on a host) got the old type,
            // and mounted ext4 with XFS's nouuid ("ext4: Unknown parameter 'nouuid'"), failing with exit 3.
            const binlog = result.summary.binlog as Record<string, string>;
            const root = path.join(f.dir, "verify-reused-device");
            const dataCopy = freshCopy(DATA_VOLUME_ID);
            const logsLoop = f.attachImage(freshCopy(LOGS_VOLUME_ID));
            const device = f.attachImage(freshCopy(LOGS_VOLUME_ID));
            const probedAt = Date.now();
            assert.equal(execFileSync("blkid", ["-s", "TYPE", "-o", "value", device], { encoding: "utf8" }).trim(), "xfs");
            f.detachImage(device);
            execFileSync("losetup", [device, dataCopy]);
            try {
                const cached = execFileSync("blkid", ["-s", "TYPE", "-o", "value", device], { encoding: "utf8" }).trim();
                // The control, while the cache entry is surely fresh: the cache still types the device as it was.
                if (Date.now() - probedAt < 1500) assert.equal(cached, "xfs", "libblkid's cache did not keep the old type: this test would prove nothing");
                const verify = await f.runScript(RESTORE_VERIFY, {
                    PATH: process.env.PATH,
                    SSM_mounts: `${device}=${root}/data ${logsLoop}=${root}/logs`,
                    SSM_datadir: `${root}/data/mysql`,
                    SSM_innodbLogDir: `${root}/logs/redo`,
                    SSM_binlogDir: `${root}/logs/binlog`,
                    SSM_expectBinlogFile: binlog.file,
                    SSM_expectBinlogPosition: binlog.position,
                });
                assert.equal(verify.code, 0, verify.stderr);
                assert.match(verify.stderr, new RegExp(`mounted ${device} \\(ext4\\) at ${root}/data`));
            } finally {
                f.detachImage(logsLoop);
                execFileSync("losetup", ["-d", device]);
            }
        });

        it("restore-verify.sh trusts nothing on the copy: a binlog index symlinked out of it is refused, never written through (exit 6); a binlogDir resolving elsewhere is refused (exit 3)", async () => {
            const binlog = result.summary.binlog as Record<string, string>;
            const root = path.join(f.dir, "verify-hostile");
            const logsCopy = freshCopy(LOGS_VOLUME_ID);
            const outside = path.join(f.dir, "outside-the-copy.txt");
            fs.writeFileSync(outside, "not the restored copy's\n");
            // What a hostile (or careless) copy can carry: its index a symlink to any file of the host, a directory
            // link out of the volume.
            fs.mkdirSync(path.join(root, "logs"), { recursive: true });
            let logsLoop = f.attachImage(logsCopy);
            try {
                // XFS: the copy has the live logs volume's UUID.
                execFileSync("mount", ["-o", "nouuid", logsLoop, path.join(root, "logs")]);
                const index = path.join(root, "logs", "binlog", "mysql-bin.index");
                fs.renameSync(index, `${index}.real`);
                fs.symlinkSync(outside, index);
                fs.symlinkSync(f.dir, path.join(root, "logs", "elsewhere"));
            } finally {
                spawnSync("umount", [path.join(root, "logs")]);
                f.detachImage(logsLoop);
            }
            logsLoop = f.attachImage(logsCopy);
            const dataLoop = f.attachImage(freshCopy(DATA_VOLUME_ID));
            const env = {
                PATH: process.env.PATH,
                SSM_mounts: `${dataLoop}=${root}/data ${logsLoop}=${root}/logs`,
                SSM_datadir: `${root}/data/mysql`,
                SSM_innodbLogDir: `${root}/logs/redo`,
                SSM_binlogDir: `${root}/logs/binlog`,
                SSM_expectBinlogFile: binlog.file,
                SSM_expectBinlogPosition: binlog.position,
            };
            try {
                const linkedIndex = await f.runScript(RESTORE_VERIFY, env);
                assert.equal(linkedIndex.code, 6, linkedIndex.stderr);
                assert.match(linkedIndex.summary.message, /mysql-bin\.index is not a regular file on the restored volumes/);
                assert.equal(fs.readFileSync(outside, "utf8"), "not the restored copy's\n", "wrote through the copy's symlink");
                const linkedDir = await f.runScript(RESTORE_VERIFY, { ...env, SSM_binlogDir: `${root}/logs/elsewhere` });
                assert.equal(linkedDir.code, 3, linkedDir.stderr);
                assert.match(linkedDir.summary.message, /SSM_binlogDir .* resolves to .*, which is not on the restored volumes/);
            } finally {
                f.detachImage(logsLoop);
                f.detachImage(dataLoop);
            }
        });

        it("leaves a copy that restores: MariaDB starts, CHECK TABLE passes, every row committed before the lock is there", async () => {
            await assertRestoresTheInstant(observations[0], freshCopy(DATA_VOLUME_ID), freshCopy(LOGS_VOLUME_ID));
        });

        it("leaves a copy of the application volume (no database file on it) that holds every fsync'd line up to the instant", () => {
            const [obs] = observations;
            assert.equal(obs.probeError, undefined);
            const loop = f.attachImage(freshCopy(APP_VOLUME_ID));
            const mountPoint = path.join(f.dir, "restore-app");
            fs.mkdirSync(mountPoint, { recursive: true });
            execFileSync("mount", [loop, mountPoint]);
            try {
                const restoredLog = path.join(mountPoint, path.relative(f.appMount, f.appendLog));
                const lines = fs.readFileSync(restoredLog, "utf8").split("\n").filter(Boolean);
                assert.ok(lines.length > 0);
                assert.equal(lines.length, obs.appendLogLines);
                const live = fs.readFileSync(f.appendLog, "utf8").split("\n").filter(Boolean);
                assert.deepEqual(lines, live.slice(0, lines.length), "the restored file is not a prefix of the live one");
            } finally {
                execFileSync("umount", [mountPoint]);
                f.detachImage(loop);
            }
        });
    });

    describe("replicas, and hosts with several database servers", () => {
        // A replica configured (CHANGE MASTER/REPLICATION SOURCE) with a source that is never contacted (nothing is
        // STARTed): SHOW ALL SLAVES STATUS / SHOW REPLICA STATUS list it with the position its SQL thread has
        // executed, which is what the script records. MariaDB's gtid_slave_pos is set to a two-domain set; its
        // domain 0 then follows this server's own commits (seen on 10.11: 0-2-100 became 0-1-<local seq>), so
        // only the other domain is fixed.
        const configure =
            FLAVOR === "mariadb"
                ? "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=9, MASTER_USER='repl', MASTER_USE_GTID=slave_pos; SET GLOBAL gtid_slave_pos='0-2-100,7-2-5'"
                : "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=9, SOURCE_USER='repl', SOURCE_AUTO_POSITION=1";
        const unconfigure = FLAVOR === "mariadb" ? "RESET SLAVE ALL; SET GLOBAL gtid_slave_pos=''" : "RESET REPLICA ALL";
        /** The first channel's executed position, as the server lists it by column name. */
        function replicaStatus(): { file: string; pos: string; gtid: string } {
            const out = execFileSync(
                CLIENT,
                [`--defaults-extra-file=${f.live.cnf}`, "--batch", "-e", FLAVOR === "mariadb" ? "SHOW ALL SLAVES STATUS" : "SHOW REPLICA STATUS"],
                { encoding: "utf8" },
            );
            const [header, row] = out.split("\n");
            const value = (...names: string[]) => row.split("\t")[header.split("\t").findIndex((n) => names.includes(n))];
            return {
                file: value("Relay_Master_Log_File", "Relay_Source_Log_File"),
                pos: value("Exec_Master_Log_Pos", "Exec_Source_Log_Pos"),
                gtid: FLAVOR === "mariadb" ? value("Gtid_Slave_Pos") : "",
            };
        }

        it("on a replica, tags the applied position read under the lock, by the snapshot run and by DLM's post-script", async () => {
            await f.sql(configure);
            try {
                const expected = replicaStatus();
                assert.match(expected.pos, /^\d+$/);
                if (FLAVOR === "mariadb") assert.match(expected.gtid, /(^|,)7-2-5(,|$)/);
                const result = await run();
                assert.equal(result.code, 0, result.stderr);
                assert.match(result.stderr, /a replica: its applied position is read under the lock/);
                const replication = result.summary.replication as Record<string, unknown>;
                assert.deepEqual(
                    { ...replication, gtidPos: undefined },
                    { sourceLogFile: expected.file, sourceLogPos: expected.pos, gtidPos: undefined, channels: 1 },
                );
                if (FLAVOR === "mariadb") assert.match(replication.gtidPos as string, /(^|,)7-2-5(,|$)/);
                else assert.equal(replication.gtidPos, "");
                const ofRun = [...f.double.snapshotStore.values()].filter((snap) => snap.tags.RunId === result.summary.runId);
                assert.ok(ofRun.length > 0);
                for (const snap of ofRun) {
                    assert.equal(snap.tags.ReplicationSourceLogFile, expected.file);
                    assert.equal(snap.tags.ReplicationSourceLogPos, expected.pos);
                    assert.equal(snap.tags.ReplicationChannels, "1");
                    assert.equal(snap.tags.ReplicationGtidPos, FLAVOR === "mariadb" ? replication.gtidPos : undefined);
                }
                const pre = await run({ command: "pre-script", executionId: DLM_EXECUTION_ID });
                assert.equal(pre.code, 0, pre.stderr);
                const ids = await f.double.dlmCreateSnapshots();
                const post = await run({ command: "post-script", executionId: DLM_EXECUTION_ID });
                assert.equal(post.code, 0, `${pre.stderr}\n${post.stderr}`);
                for (const id of ids) {
                    const tags = f.double.snapshotStore.get(id)!.tags;
                    assert.equal(tags.ReplicationSourceLogPos, expected.pos);
                    assert.equal(tags.ReplicationGtidPos, FLAVOR === "mariadb" ? (pre.summary.replication as Record<string, string>).gtidPos : undefined);
                }
            } finally {
                await f.sql(unconfigure);
            }
            await assertHostRecovered();
        });

        it("on a server that is not a replica, tags no replication position", async () => {
            const result = await run();
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.summary.replication, null);
            for (const snap of [...f.double.snapshotStore.values()].filter((s) => s.tags.RunId === result.summary.runId)) {
                assert.equal(snap.tags.ReplicationSourceLogPos, undefined);
            }
        });

        it("with two database servers running, refuses (201) unless mysqlDefaultsFile names the one to hold, naming both; named, it holds that one and says the other is crash-consistent only", async () => {
            const dir = fs.mkdtempSync(path.join(f.runDir, "second-"));
            const second = await f.startMysql(`second-${path.basename(dir)}`, dir, dir, true);
            try {
                const refused = await run({ mysqlDefaultsFile: "" });
                expectFailure(
                    refused,
                    201,
                    new RegExp(
                        `parameter SSM_mysqlDefaultsFile: invalid value ''; expected an option file naming the server to hold .*2 database servers run on this host \\(pids( \\d+)*( ${second.proc.pid})( \\d+)*\\)`,
                    ),
                );
                assert.equal(f.double.requests.filter((r) => r.what.startsWith("CreateSnapshots")).length, 0);
                const named = await run({ mysqlDefaultsFile: f.live.cnf });
                assert.equal(named.code, 0, named.stderr);
                assert.match(named.stderr, /NOTE: 2 database servers run on this host .*the others' files are crash-consistent only/);
            } finally {
                await f.stopMysql(second);
            }
            await assertHostRecovered();
        });
    });

    describe("EC2's interval between snapshots of a volume (15 s; SnapshotCreationPerVolumeRateExceeded)", () => {
        it("waits out the interval since a volume's newest snapshot before locking, so that the call inside the freeze is not refused", async () => {
            // Started 1 s ago: discovery takes 2-9 s here, the lock must still wait.
            await withRecentSnapshotOfDataVolume("snap-0beef00000000000a", "pending", async (seededStart) => {
                const result = await run();
                assert.equal(result.code, 0, result.stderr);
                assert.match(result.stderr, new RegExp(`NOTE: 1 snapshot\\(s\\) of ${DATA_VOLUME_ID} still pending`));
                assert.match(
                    result.stderr,
                    new RegExp(
                        `a snapshot of ${DATA_VOLUME_ID} started \\d+ ms ago; EC2 allows one snapshot of a volume every 15 s: waiting \\d+ ms before locking`,
                    ),
                );
                const call = f.double.requests.find((r) => r.what === "CreateSnapshots" && r.atMs >= seededStart)!;
                assert.ok(call.atMs - seededStart >= 15000, `called ${call.atMs - seededStart} ms after the other snapshot (the double refuses under 15 s)`);
                assert.ok((result.summary.lockedAtMs as number) - seededStart >= 15000, "locked before the interval had passed: the wait was inside the lock");
            });
            await assertHostRecovered();
        });
    });

    describe("quiesce (SSM_quiesce: which lock holds the database)", () => {
        if (FLAVOR === "mariadb") {
            it("backup-lock on MariaDB: BACKUP STAGE up to BLOCK_COMMIT held at the snapshot instant with every freeze; the copy restores exactly; released after", async () => {
                const result = await run({ quiesce: "backup-lock" });
                assert.equal(result.code, 0, result.stderr);
                assert.equal(result.summary.lockMethod, "BACKUP STAGE BLOCK_COMMIT");
                assert.match(result.stderr, /lock method: BACKUP STAGE BLOCK_COMMIT \(SSM_quiesce=backup-lock\)/);
                const [obs] = f.double.observations;
                assert.deepEqual(obs.backupLockModes, ["MDL_BACKUP_WAIT_COMMIT"], "BLOCK_COMMIT not held at the snapshot instant");
                assert.deepEqual(obs.frozen, { [f.dataMount]: true, [f.logsMount]: true, [f.appMount]: true });
                const tags = requestTags(obs.params);
                assert.equal(tags.ConsistencyMethod, "backup-stage+fsfreeze");
                assert.match(tags.BinlogPosition, /^\d+$/);
                await assertHostRecovered();
                await assertNoCommittedRowLost();
                // InnoDB and MyISAM rows exactly as committed at the instant; the binlog ends at the tagged position.
                await assertRestoresTheInstant(obs, copyOfSnapshot(obs, DATA_VOLUME_ID), copyOfSnapshot(obs, LOGS_VOLUME_ID));
                const verify = await restoreVerify(
                    copyOfSnapshot(obs, DATA_VOLUME_ID),
                    copyOfSnapshot(obs, LOGS_VOLUME_ID),
                    result.summary.binlog as Record<string, string>,
                    path.join(f.dir, "verify-backup-lock"),
                );
                assert.equal(verify.code, 0, verify.stderr);
            });

            it("auto picks BACKUP STAGE on MariaDB 10.4.1 and later", async () => {
                const result = await run({ quiesce: "auto" });
                assert.equal(result.code, 0, result.stderr);
                assert.equal(result.summary.lockMethod, "BACKUP STAGE BLOCK_COMMIT");
                assert.deepEqual(f.double.observations[0].backupLockModes, ["MDL_BACKUP_WAIT_COMMIT"]);
            });
        } else {
            it("backup-lock on MySQL with MyISAM tables takes FLUSH TABLES WITH READ LOCK, naming them (LOCK INSTANCE FOR BACKUP does not hold their writes); so does auto", async () => {
                for (const quiesce of ["backup-lock", "auto"]) {
                    const result = await run({ quiesce });
                    assert.equal(result.code, 0, result.stderr);
                    assert.equal(result.summary.lockMethod, "FLUSH TABLES WITH READ LOCK");
                    assert.match(
                        result.stderr,
                        /FLUSH TABLES WITH READ LOCK instead of LOCK INSTANCE FOR BACKUP: it does not hold writes to non-transactional tables \(.*app\.myi \(MyISAM\)/,
                    );
                    assert.equal(f.double.observations[0].dbWriteBlocked, true);
                    await assertHostRecovered();
                    f.double.reset();
                }
            });
        }
    });

    describe("quiesce=crash-recovery (no lock, no freeze, only where crash recovery is exact)", () => {
        it("is refused (exit 201) naming every table and setting that would make it inexact, before anything is locked or frozen; auto falls back to a lock", async () => {
            const refused = await run({ quiesce: "crash-recovery" });
            expectFailure(refused, 201, /parameter SSM_quiesce: crash-recovery refused, a snapshot without lock would not be exact/);
            // The fixture's MyISAM and MEMORY tables; on MariaDB also its statistics and help tables (Aria
            // TRANSACTIONAL=0, seen restored corrupt from a lock-free snapshot) and sync_binlog=0 (its default).
            for (const table of ["app.lockprobe (MEMORY)", "app.myi (MyISAM)", "app.slow (MyISAM)"])
                assert.ok(refused.summary.message.includes(table), `${table} not in: ${refused.summary.message}`);
            if (FLAVOR === "mariadb") {
                assert.match(refused.summary.message, /mysql\.column_stats \(Aria\)/);
                assert.match(refused.summary.message, /sync_binlog=0 \(needs 1\)/);
            }
            assert.doesNotMatch(refused.summary.message, /mysql\.(user|db|global_priv) /, "crash-safe system tables named");
            assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
            await assertHostRecovered();
            f.double.reset();
            const auto = await run({ quiesce: "auto" });
            assert.equal(auto.code, 0, auto.stderr);
            assert.equal(auto.summary.lockMethod, FLAVOR === "mariadb" ? "BACKUP STAGE BLOCK_COMMIT" : "FLUSH TABLES WITH READ LOCK");
            assert.match(auto.stderr, /crash recovery would not be exact \(.*app\.myi \(MyISAM\)/);
        });

        describe("on a server where it is exact (InnoDB only, durable commits, doublewrite, every file on a snapshotted volume)", () => {
            let undoCrashSafe: () => void;
            before(() => {
                undoCrashSafe = f.makeCrashRecoveryExact();
            });
            after(() => undoCrashSafe());

            /** The value of the last app.inno insert in the binlog files of `dir`, in binlog order. */
            function lastInnoInsertInBinlog(dir: string): string {
                const files = fs
                    .readFileSync(path.join(dir, "mysql-bin.index"), "utf8")
                    .split("\n")
                    .filter(Boolean)
                    .map((f) => path.join(dir, path.basename(f)));
                const decoded = execFileSync(FLAVOR === "mariadb" ? "mariadb-binlog" : "mysqlbinlog", ["--base64-output=DECODE-ROWS", "-v", ...files], {
                    encoding: "utf8",
                    maxBuffer: 256 * 2 ** 20,
                });
                let last = "";
                let inRow = false;
                for (const line of decoded.split("\n")) {
                    const statement = /INSERT INTO app\.inno \(v, at\) VALUES \('(\w+\.w\d+)'/.exec(line);
                    if (statement) {
                        last = statement[1];
                        continue;
                    }
                    if (line.startsWith("### INSERT INTO `app`.`inno`")) {
                        inRow = true;
                        continue;
                    }
                    const value = /^###\s+@2='(\w+\.w\d+)'/.exec(line);
                    if (inRow && value) {
                        last = value[1];
                        inRow = false;
                    }
                }
                return last;
            }

            /**
             * The copies recover: CHECK TABLE clean; app.inno holds every commit the writer saw acknowledged before
             * `mustHaveBeforeMs` and none sent after the one following the last acknowledged by `mayHaveUpToMs`; the
             * binlog's last app.inno insert is InnoDB's last (two-phase commit). Then, on the same restored server, a
             * real loss (the last acknowledged row deleted) must be caught: the check can fail.
             */
            async function assertRecoversAcknowledged(obs: SnapshotObservation, mustHaveBeforeMs: number, mayHaveUpToMs: number): Promise<void> {
                const events = writer!.commits;
                const mustHave = events.filter((c) => c.kind === "db" && c.atMs < mustHaveBeforeMs);
                assert.ok(
                    mustHave.length > 10 && mustHave.length < events.filter((c) => c.kind === "db").length,
                    `${mustHave.length} acknowledged commits before the instant: no load across it`,
                );
                const restored = await f.restore(copyOfSnapshot(obs, DATA_VOLUME_ID), copyOfSnapshot(obs, LOGS_VOLUME_ID));
                try {
                    assertEveryTableChecks(restored.server.cnf);
                    const problems = acknowledgedCommitProblems(events, mustHaveBeforeMs, mayHaveUpToMs, writer!.rowsIn(f, restored.server.cnf));
                    if (problems.length > 0) {
                        assert.fail(
                            `the copy does not hold what was acknowledged:\n${problems.join("\n")}\n` +
                                `restored server's log:\n${fs.readFileSync(restored.server.errLog, "utf8")}`,
                        );
                    }
                    const lastInInnodb = f.sqlSync("SELECT v FROM app.inno ORDER BY id DESC LIMIT 1", restored.server.cnf).trim();
                    assert.equal(lastInnoInsertInBinlog(path.join(path.dirname(restored.dataMount), "logs", "binlog")), lastInInnodb);
                    const last = mustHave[mustHave.length - 1].iteration;
                    f.sqlSync(`SET SESSION sql_log_bin = 0; DELETE FROM app.inno WHERE v = '${writer!.label}.w${last}'`, restored.server.cnf);
                    assert.deepEqual(acknowledgedCommitProblems(events, mustHaveBeforeMs, mayHaveUpToMs, writer!.rowsIn(f, restored.server.cnf)), [
                        `w${last}, acknowledged ${mustHaveBeforeMs - mustHave[mustHave.length - 1].atMs} ms before the instant, is missing`,
                    ]);
                } finally {
                    await restored.cleanup();
                }
            }

            it("auto takes no lock and freezes nothing; an atomic copy of the stopped server under a write load restores: CHECK TABLE clean, every acknowledged commit there, binlog agreeing with InnoDB", async () => {
                f.double.stopProcessDuringCopy = f.live.proc.pid;
                // The double's control: a write never synced stays in the page cache, so no copy may hold it (a
                // double that flushed or froze would hide what this mode must survive).
                const unsynced = path.join(f.appMount, "unsynced.txt");
                fs.writeFileSync(unsynced, "written, never synced\n");
                const result = await run({ quiesce: "auto" });
                assert.equal(result.code, 0, result.stderr);
                assert.equal(result.summary.lockMethod, "none (crash recovery)");
                assert.deepEqual([result.summary.lockHeldMs, result.summary.frozenMs, result.summary.writeBlockWindowMs], [0, 0, 0]);
                assert.deepEqual(result.summary.mountsFrozen, []);
                assert.deepEqual([...(result.summary.mountsNotFrozen as string[])].sort(), [...f.freezableMounts].sort());
                assert.match(
                    result.summary.durability as string,
                    /^innodb_flush_log_at_trx_commit=1 sync_binlog=1 innodb_doublewrite=(1|ON|DETECT_AND_RECOVER)$/,
                );
                const [obs] = f.double.observations;
                assert.deepEqual(obs.frozen, { [f.dataMount]: false, [f.logsMount]: false, [f.appMount]: false });
                const tags = requestTags(obs.params);
                assert.equal(tags.ConsistencyMethod, "crash-recovery");
                assert.equal(tags.Durability, result.summary.durability);
                assert.match(tags.BinlogPositionBeforeCall, /^\d+$/);
                assert.equal(tags.BinlogPosition, undefined, "no exact position can be claimed without a lock");
                assert.match(result.summary.binlogAfter as string, /^mysql-bin\.\d{6}:\d+/);
                await sleep(300);
                await writer!.stop();

                const appLoop = f.attachImage(copyOfSnapshot(obs, APP_VOLUME_ID));
                const appCopy = path.join(f.dir, "restore-app-crash");
                fs.mkdirSync(appCopy, { recursive: true });
                execFileSync("mount", [appLoop, appCopy]);
                try {
                    const copied = path.join(appCopy, "unsynced.txt");
                    assert.ok(!fs.existsSync(copied) || fs.readFileSync(copied, "utf8") === "", "the copy holds a write that was never synced");
                } finally {
                    execFileSync("umount", [appCopy]);
                    f.detachImage(appLoop);
                    fs.rmSync(unsynced, { force: true });
                }
                await assertRecoversAcknowledged(obs, obs.stoppedAtMs!, obs.stoppedAtMs!);
                await assertHostRecovered();
            });

            it("crash-recovery also waits out the interval since a volume's newest snapshot, before the call (nothing is locked)", async () => {
                await withRecentSnapshotOfDataVolume("snap-0beef00000000000b", "completed", async (seededStart) => {
                    const result = await run({ quiesce: "crash-recovery" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.equal(result.summary.lockMethod, "none (crash recovery)");
                    assert.match(
                        result.stderr,
                        new RegExp(
                            `a snapshot of ${DATA_VOLUME_ID} started \\d+ ms ago; EC2 allows one snapshot of a volume every 15 s: waiting \\d+ ms before the call \\(nothing is locked under crash-recovery\\)`,
                        ),
                    );
                    const call = f.double.requests.find((r) => r.what === "CreateSnapshots" && r.atMs >= seededStart)!;
                    assert.ok(
                        call.atMs - seededStart >= 15000,
                        `called ${call.atMs - seededStart} ms after the other snapshot (the double refuses under 15 s)`,
                    );
                });
                await assertHostRecovered();
            });

            if (FLAVOR === "mysql") {
                it("backup-lock on MySQL with only InnoDB tables: LOCK INSTANCE FOR BACKUP and every freeze held at the instant; the copy holds every commit acknowledged before the freeze, binlog agreeing", async () => {
                    f.double.probeBackupLocks = true;
                    const result = await run({ quiesce: "backup-lock" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.equal(result.summary.lockMethod, "LOCK INSTANCE FOR BACKUP");
                    const [obs] = f.double.observations;
                    assert.deepEqual(obs.backupLockModes, ["BACKUP LOCK SHARED"]);
                    assert.deepEqual(obs.frozen, { [f.dataMount]: true, [f.logsMount]: true, [f.appMount]: true });
                    const tags = requestTags(obs.params);
                    assert.equal(tags.ConsistencyMethod, "lock-instance+fsfreeze");
                    assert.match(tags.BinlogPositionBeforeCall, /^\d+$/);
                    assert.equal(tags.BinlogPosition, undefined, "commits go on under this lock: no exact position");
                    assert.match(result.summary.binlogAfter as string, /^mysql-bin\.\d{6}:\d+/);
                    await sleep(300);
                    await writer!.stop();
                    const s = result.summary as unknown as Record<string, number>;
                    await assertRecoversAcknowledged(obs, s.frozenAtMs, s.thawedAtMs);
                    await assertHostRecovered();
                });
            }

            it("auto refuses crash recovery, naming why, as soon as a MyISAM table exists, or sync_binlog=0; crash-recovery is refused for an account blind to table engines, or the binlog on an unsnapshotted volume", async () => {
                f.sqlSync("CREATE TABLE app.newly_myisam (id INT PRIMARY KEY) ENGINE=MyISAM");
                try {
                    const result = await run({ quiesce: "auto" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.notEqual(result.summary.lockMethod, "none (crash recovery)");
                    assert.match(result.stderr, /crash recovery would not be exact \(tables that are not crash-safe: app\.newly_myisam \(MyISAM\)\)/);
                } finally {
                    f.sqlSync("DROP TABLE app.newly_myisam");
                }
                f.double.reset();
                f.sqlSync("SET GLOBAL sync_binlog = 0");
                try {
                    const result = await run({ quiesce: "auto" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.match(result.stderr, /crash recovery would not be exact \(sync_binlog=0 \(needs 1\)\)/);
                    assert.notEqual(result.summary.lockMethod, "none (crash recovery)");
                } finally {
                    f.sqlSync("SET GLOBAL sync_binlog = 1");
                }
                f.double.reset();
                // An account that cannot see every table's engine cannot prove anything: refused, naming the grant.
                f.sqlSync(`REVOKE SHOW VIEW ON *.* FROM '${BACKUP_USER}'@'localhost'`);
                try {
                    const blind = await run({ quiesce: "crash-recovery" });
                    expectFailure(blind, 201, /cannot see every table's engine \(grant it SHOW VIEW ON \*\.\*, which shows no rows\)/);
                } finally {
                    f.sqlSync(`GRANT SHOW VIEW ON *.* TO '${BACKUP_USER}'@'localhost'`);
                }
                f.double.reset();
                // The logs volume (redo and binlog) left out of the snapshot set: the instance no longer lists it.
                f.double.hideVolume(LOGS_VOLUME_ID);
                const refused = await run({ quiesce: "crash-recovery" });
                expectFailure(refused, 201, new RegExp(`${f.logsMount}/binlog is not on a snapshotted EBS volume`));
                assert.match(refused.summary.message, new RegExp(`${f.logsMount}/redo is not on a snapshotted EBS volume`));
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
            });
        });
    });

    it("write stall of a normal run, the double's probes off: writers wait no longer than the reported window", async () => {
        f.double.observe = false;
        const result = await run();
        assert.equal(result.code, 0, result.stderr);
        const s = result.summary as Record<string, number>;
        await writer!.stop();
        const gap = writer!.longestGapMs("db");
        // The writer's longest gap between commits covers the window plus its own round trip.
        assert.ok(gap <= s.writeBlockWindowMs + 250, `writer gap ${gap} ms > window ${s.writeBlockWindowMs} ms + 250`);
        if (COMPAT_RESULTS) {
            fs.writeFileSync(
                COMPAT_RESULTS,
                JSON.stringify({
                    flavor: FLAVOR,
                    serverVersion: f.sqlSync("SELECT VERSION()").trim(),
                    awsCli: execFileSync("aws", ["--version"], { encoding: "utf8" }).trim().split(" ")[0],
                    lockHeldMs: s.lockHeldMs,
                    frozenMs: s.frozenMs,
                    writeBlockWindowMs: s.writeBlockWindowMs,
                    apiMs: s.apiMs,
                    writerLongestGapMs: gap,
                }),
            );
        }
    });

    it("documents the seed's bug: its lock is gone when the snapshot is taken", async () => {
        const result = await f.runScript(
            SEED,
            {
                ...f.scriptEnv(),
                SEED_MYSQL_CNF: f.live.cnf,
                SEED_MOUNTS: f.freezableMounts.join(" "),
            },
            { killAfterMs: 60000 },
        );
        assert.equal(result.code, 0, result.stderr);
        const creates = f.double.observations.filter((o) => o.action === "CreateSnapshot");
        assert.ok(creates.length >= 2);
        for (const obs of creates) {
            assert.equal(obs.dbWriteBlocked, false, "the seed's lock was held — the bug this project exists for is gone?");
            assert.ok(Object.values(obs.frozen).every(Boolean), JSON.stringify(obs.frozen));
        }
        await assertHostRecovered();
    });

    for (const apiClient of CURL_SIGNS ? ["curl", "aws-cli"] : ["aws-cli"]) {
        describe(`when the snapshot API fails (apiClient=${apiClient})`, () => {
            for (const [behaviour, code] of [
                ["error500", "InternalError"],
                ["throttle", "RequestLimitExceeded"],
            ] as const) {
                it(`exits 207 on ${code} with EC2's code and message, thawed and unlocked, no row lost`, async () => {
                    f.double.behaviour = behaviour;
                    const result = await run({ apiClient });
                    expectFailure(result, 207, new RegExp(`CreateSnapshots failed.*${code}`));
                    assert.equal(result.summary.apiClient, apiClient);
                    assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 1, "retried inside the freeze");
                    await assertHostRecovered();
                    await assertNoCommittedRowLost();
                });
            }

            it(
                apiClient === "curl"
                    ? "exits 207 on UnauthorizedOperation from the DryRun call, before anything is locked or frozen"
                    : "exits 207 on UnauthorizedOperation, thawed and unlocked, no row lost",
                async () => {
                    f.double.behaviour = "unauthorized";
                    const result = await run({ apiClient });
                    expectFailure(result, 207, /CreateSnapshots.*UnauthorizedOperation.*You are not authorized/);
                    if (apiClient === "curl") {
                        assert.match(result.summary.message, /nothing was locked or frozen/);
                        assert.equal(result.summary.lockedAtMs, 0);
                        assert.equal(result.summary.frozenAtMs, 0);
                        assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
                    }
                    await assertHostRecovered();
                    await assertNoCommittedRowLost();
                },
            );

            it("exits 208 when the API never answers, with the freeze bounded by maxFreezeSeconds", async () => {
                f.double.behaviour = "hang";
                const result = await run({ maxFreezeSeconds: "5", lockTimeoutSeconds: "2", apiClient });
                expectFailure(result, 208, /did not answer within SSM_maxFreezeSeconds=5/);
                assert.ok((result.summary.lockHeldMs as number) <= 5500, `lock held ${result.summary.lockHeldMs} ms`);
                await assertHostRecovered();
                await assertNoCommittedRowLost();
            });
        });
    }

    describe("the snapshot call's client (SSM_apiClient)", () => {
        let shims: string;
        before(() => {
            // A curl that says it is 7.74.0 (Debian bullseye's, before --aws-sigv4) and is the real one otherwise.
            shims = fs.mkdtempSync(path.join(f.runDir, "shims-"));
            const real = execFileSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
            fs.writeFileSync(
                path.join(shims, "curl"),
                `#!/bin/sh\nif [ "$1" = --version ]; then echo "curl 7.74.0 (x86_64-pc-linux-gnu) libcurl/7.74.0"; exit 0; fi\nexec ${real} "$@"\n`,
                { mode: 0o755 },
            );
        });
        const withOldCurl = (params: Record<string, string>) => ({ ...f.scriptEnv(params), PATH: `${shims}:${process.env.PATH}` });

        // Where curl can sign (every compatibility cell but bullseye's curl 7.74, whose runs all use the CLI).
        if (CURL_SIGNS)
            it("sends the same request with either client: parameters and every tag but the run's own values", async () => {
                const bodies: Record<string, string>[] = [];
                for (const apiClient of ["curl", "aws-cli"]) {
                    f.double.observations.length = 0;
                    const result = await run({ apiClient, snapshotDescription: "nightly a=b+c/d@e" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.equal(result.summary.apiClient, apiClient);
                    bodies.push(f.double.observations[0].params);
                }
                const comparable = (params: Record<string, string>) => {
                    const tags = requestTags(params);
                    for (const runSpecific of ["Name", "RunId", "BinlogFile", "BinlogPosition", "GtidBinlogPos"])
                        assert.ok(tags[runSpecific] !== undefined, runSpecific);
                    const { Name: _n, RunId: _r, BinlogFile: _f, BinlogPosition: _p, ...withGtid } = tags; // eslint-disable-line @typescript-eslint/no-unused-vars
                    // A GTID set spans GtidBinlogPos, GtidBinlogPos2, ... (a long one, see the GTID test): all run-specific.
                    const rest = Object.fromEntries(Object.entries(withGtid).filter(([key]) => !key.startsWith("GtidBinlogPos")));
                    const plain = Object.fromEntries(Object.entries(params).filter(([k]) => !k.startsWith("TagSpecification.1.Tag.")));
                    return { plain, rest };
                };
                assert.deepEqual(comparable(bodies[0]), comparable(bodies[1]));
                assert.equal(bodies[0].Description, "nightly a=b+c/d@e");
            });

        it("keeps the keys off every command line and out of every file: curl reads them from a pipe", async () => {
            const seen: { curlRunning: boolean; onCommandLine: string[]; inFiles: string[] } = { curlRunning: false, onCommandLine: [], inFiles: [] };
            const secrets = [ROLE_KEY.secretAccessKey, ROLE_KEY.sessionToken!];
            const scan = () => {
                for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
                    let cmdline = "";
                    try {
                        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
                    } catch {
                        continue;
                    }
                    if (/--aws-sigv4/.test(cmdline)) seen.curlRunning = true;
                    if (secrets.some((secret) => cmdline.includes(secret))) seen.onCommandLine.push(cmdline);
                }
                const walk = (dir: string): string[] =>
                    fs
                        .readdirSync(dir, { withFileTypes: true })
                        .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
                for (const file of [...walk("/run/consistent-snapshot"), ...walk(f.orchestrationDir)]) {
                    if (secrets.some((secret) => fs.readFileSync(file, "utf8").includes(secret))) seen.inFiles.push(file);
                }
            };
            const result = await run(
                {},
                {
                    onStderr: (line) => {
                        if (line.includes("database locked")) scan();
                    },
                },
            );
            assert.equal(result.code, 0, result.stderr);
            assert.equal(seen.curlRunning, CURL_SIGNS, "the scan did not see the waiting curl: it proves nothing");
            assert.deepEqual(seen.onCommandLine, []);
            assert.deepEqual(seen.inFiles, []);
        });

        it("auto falls back to the AWS CLI, saying why, where curl cannot sign (curl 7.74)", async () => {
            const result = await f.runScript(SCRIPT, withOldCurl({}));
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.summary.apiClient, "aws-cli");
            assert.match(
                result.stderr,
                /NOTE: snapshot call through the AWS CLI: curl 7\.74\.0 cannot sign requests \(--aws-sigv4 needs curl 7\.75\.0 or later\)/,
            );
            assert.deepEqual(
                f.double.requests.filter((r) => r.what.startsWith("CreateSnapshots")).map((r) => r.what),
                ["CreateSnapshots"],
            );
        });

        it("a client that takes longer than 20 s to start still gets the request: the script waits for it to open its input before closing it", async () => {
            // The script stops waiting for the client's start-up after 20 s and goes on to lock and freeze. Input
            // written to a FIFO that nobody else holds is discarded when the writer closes it, so the request
            // must not be closed before the client has opened it (before that, such a run hung until 208).
            const slow = fs.mkdtempSync(path.join(f.runDir, "slow-aws-"));
            // The CLI the script finds otherwise (runs by hand hide /root, where the image's pyenv shim lives).
            const real = execFileSync("sh", ["-c", "which -a aws | grep -v '^/root/' | head -n 1"], { encoding: "utf8" }).trim();
            fs.writeFileSync(path.join(slow, "aws"), `#!/bin/sh\n[ "$2" = create-snapshots ] && sleep 22\nexec ${real} "$@"\n`, { mode: 0o755 });
            const result = await f.runScript(SCRIPT, { ...f.scriptEnv({ apiClient: "aws-cli" }), PATH: `${slow}:${process.env.PATH}` });
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stderr, /NOTE: the aws-cli client was not ready after 20 s; continuing/);
            assert.equal(f.double.observations.length, 1);
            assert.ok(
                (result.summary.frozenMs as number) >= 1000,
                `frozen ${result.summary.frozenMs} ms: the client's late start was not inside the freeze, the test proves nothing`,
            );
            await assertHostRecovered();
        });

        it("apiClient=curl where curl cannot sign: exits 202 naming why, before anything is locked", async () => {
            const result = await f.runScript(SCRIPT, withOldCurl({ apiClient: "curl" }));
            expectFailure(result, 202, /SSM_apiClient=curl: curl 7\.74\.0 cannot sign requests/);
            assert.equal(result.summary.lockedAtMs, 0);
            assert.equal(f.double.requests.filter((r) => r.what.startsWith("CreateSnapshots")).length, 0);
        });

        if (CURL_SIGNS)
            it("auto falls back to the AWS CLI when EC2 refuses curl's signature in the DryRun call (nothing locked yet)", async () => {
                f.double.refuseSignaturesOf = /^curl\//;
                const result = await run();
                assert.equal(result.code, 0, result.stderr);
                assert.equal(result.summary.apiClient, "aws-cli");
                assert.match(
                    result.stderr,
                    /NOTE: snapshot call through the AWS CLI: the DryRun call was answered HTTP 401 AuthFailure: AWS was not able to validate/,
                );
                const creates = f.double.requests.filter((r) => r.what.startsWith("CreateSnapshots"));
                assert.deepEqual(
                    creates.map((r) => r.what),
                    ["CreateSnapshots DryRun", "CreateSnapshots"],
                );
                assert.match(creates[1].userAgent, /^aws-cli\//);
            });

        it("rejects SSM_apiClient='wget' naming the parameter and the accepted form (201)", async () => {
            const result = await runByHand({ apiClient: "wget" });
            expectFailure(result, 201, /parameter SSM_apiClient: invalid value 'wget'; expected 'auto', 'curl' or 'aws-cli'/);
        });
    });

    describe("when the script itself is stopped while frozen", () => {
        /** Acts once CreateSnapshots has reached the double (the lock and the freeze are held then). */
        function whenCreateSnapshotsArrives<T>(act: (arg: T) => void) {
            return (line: string, arg: T) => {
                if (!line.includes("database locked")) return;
                const poll = setInterval(() => {
                    if (f.double.requests.some((r) => r.what === "CreateSnapshots")) {
                        clearInterval(poll);
                        act(arg);
                    }
                }, 5);
            };
        }

        it("by hand, on SIGTERM: exits 209 and thaws and unlocks at once", async () => {
            f.double.behaviour = "hang";
            let killedAt = 0;
            const result = await runByHand(
                { maxFreezeSeconds: "60" },
                {
                    onStderr: whenCreateSnapshotsArrives((child: ChildProcess) => {
                        killedAt = Date.now();
                        child.kill("SIGTERM");
                    }),
                },
            );
            expectFailure(result, 209, /interrupted by SIGTERM/);
            assert.ok(killedAt > 0);
            assert.ok((result.summary.thawedAtMs as number) - killedAt < 2000, "thaw took more than 2 s after SIGTERM");
            assert.match(result.summary.message, new RegExp(`snapshots may still appear with tag RunId=${result.summary.runId}`));
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        it("by hand, on SIGTERM after EC2 created the snapshots but before the answer: reports them, found by RunId", async () => {
            f.double.behaviour = "hangAfterCreate";
            const result = await runByHand(
                { maxFreezeSeconds: "60" },
                {
                    onStderr: whenCreateSnapshotsArrives((child: ChildProcess) => child.kill("SIGTERM")),
                },
            );
            expectFailure(result, 209, /interrupted by SIGTERM/);
            const created = [...f.double.snapshotStore.values()].filter((snap) => snap.tags.RunId === result.summary.runId);
            assert.equal(created.length, 3);
            assert.deepEqual(
                result.summary.snapshots,
                created.map((snap) => ({ snapshotId: snap.snapshotId, volumeId: snap.volumeId })),
            );
            assert.match(result.summary.message, new RegExp(`the call had been sent: created ${created.map((c) => c.snapshotId).join(" ")}`));
            await assertHostRecovered();
        });

        it("on a Run Command cancel (SIGKILL to the process group): the step ends at once, the lock dies with the session, the watchdog thaws within a second (end of file on the script's pipe)", async () => {
            f.double.behaviour = "hang";
            let killedAt = 0;
            const logFrom = watchdogLogLength();
            const result = await run(
                { maxFreezeSeconds: "60", lockTimeoutSeconds: "2" },
                {
                    onStderr: whenCreateSnapshotsArrives((cancel: () => void) => {
                        killedAt = Date.now();
                        cancel();
                    }),
                },
            );
            assert.equal(result.code, 137, result.stderr);
            assert.equal(result.timedOut, false, "a process outliving the script held the agent's pipes until the step timed out");
            assert.ok(Date.now() - killedAt < 3000, `the step took ${Date.now() - killedAt} ms to end after the kill`);
            // The lock is released as soon as the session's client is gone, and the watchdog, which sees its
            // trigger's end of file without "done", thaws at once: not at the deadline (60 s here).
            assert.ok(await lockReleased(2), "the lock outlived the killed script's session");
            for (const mount of f.freezableMounts) {
                assert.ok(await f.writable(mount, 2000), `${mount} still frozen 2 s after the cancel`);
            }
            assert.ok(Date.now() - killedAt < 5000, `given back ${Date.now() - killedAt} ms after the cancel`);
            assert.match(await watchdogLogged(logFrom, /watchdog: releasing \(script-died\)/), /watchdog: releasing \(script-died\)/);
            await assertNoCommittedRowLost();
        });

        it("a run that finds the run lock held (a cancelled run's watchdog still giving the host back) waits for it, up to 10 s; past that it is refused (203), nothing touched", async () => {
            // The SSM Agent's runs share /run/consistent-snapshot; the lock is an flock(2) on its "lock" file.
            const lockFile = "/run/consistent-snapshot/lock";
            fs.mkdirSync(path.dirname(lockFile), { recursive: true, mode: 0o700 });
            // flock's child (sleep) holds the lock too: both are stopped, as their own process group.
            const holdLock = (seconds: number) => spawn("flock", [lockFile, "sleep", String(seconds)], { stdio: "ignore", detached: true });
            const release = (holder: ChildProcess) => {
                try {
                    process.kill(-holder.pid!, "SIGKILL");
                } catch {
                    /* already gone */
                }
            };
            let holder = holdLock(2);
            try {
                await sleep(300);
                const waited = await run({});
                assert.equal(waited.code, 0, waited.stderr);
                assert.match(waited.stderr, /holds \/run\/consistent-snapshot\/lock; waiting up to 10s/);
            } finally {
                release(holder);
            }
            const requestsBefore = f.double.requests.length;
            holder = holdLock(30);
            try {
                await sleep(300);
                const startedAt = Date.now();
                const refused = await run({});
                expectFailure(refused, 203, /another consistent-snapshot run holds \/run\/consistent-snapshot\/lock \(waited 10s\)/);
                assert.ok(Date.now() - startedAt >= 10000, "refused before its wait");
                assert.ok(!f.double.requests.slice(requestsBefore).some((r) => r.what === "CreateSnapshots"));
            } finally {
                release(holder);
            }
            await assertHostRecovered();
        });

        it("on a cancel after EC2 created the snapshots: they carry their run's tags, and the next run's retention finds and prunes them", async () => {
            f.double.behaviour = "hangAfterCreate";
            const killed = await run(
                { maxFreezeSeconds: "6", lockTimeoutSeconds: "2" },
                {
                    onStderr: whenCreateSnapshotsArrives((cancel: () => void) => cancel()),
                },
            );
            assert.equal(killed.code, 137, killed.stderr);
            await f.double.settle(); // EC2 goes on with a request whose caller has gone
            const orphans = [...f.double.snapshotStore.values()];
            assert.equal(orphans.length, 3, `${killed.stderr}\n${JSON.stringify(f.double.requests)}`);
            for (const snap of orphans) {
                assert.equal(snap.tags.CreatedBy, "consistent-snapshots");
                assert.equal(snap.tags.InstanceId, INSTANCE_ID);
                assert.match(snap.tags.RunId, /^cs-/);
            }
            for (const mount of f.freezableMounts) assert.ok(await f.writable(mount, 9000), `${mount} still frozen`);
            f.double.behaviour = "ok";
            // Older than the next run's own snapshots by at least a second of StartTime.
            await sleep(1100);
            const next = await run({ retainCount: "1" });
            assert.equal(next.code, 0, next.stderr);
            assert.deepEqual([...(next.summary.pruned as string[])].sort(), orphans.map((o) => o.snapshotId).sort());
        });
    });

    describe("when a freeze blocks in the kernel (a writer inside splice() on the filesystem)", () => {
        it("bounds the freeze by the deadline: exits 210 naming the freeze still in flight; when the writer moves on past the deadline, the freeze completes and the watchdog thaws it at once", async () => {
            const splicer = await f.startSplicer(f.appMount);
            const logFrom = watchdogLogLength();
            try {
                const result = await run({ maxFreezeSeconds: "4", lockTimeoutSeconds: "2" });
                expectFailure(result, 210, new RegExp(`fsfreeze --freeze failed: ${f.appMount}: still in flight`));
                const lockedFor = Date.now() - (result.summary.lockedAtMs as number);
                assert.ok(lockedFor < 4000 + 1500, `the run ended ${lockedFor} ms after the lock: the freeze was not bounded by the deadline (4 s)`);
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0, "snapshotted without every freeze");
                assert.ok(await lockReleased(2), "the lock outlived the run");
                // Still in flight: writers to that filesystem wait (the freeze's first stage), and thawing is refused.
                assert.equal(await f.writable(f.appMount, 300), false, "the freeze is not in flight: the test proves nothing");
                await sleep(1000);
            } finally {
                splicer.moveOn();
            }
            const movedOnAt = Date.now();
            assert.ok(await f.writable(f.appMount, 1500), "the freeze completed after the deadline and nobody thawed it");
            assert.ok(Date.now() - movedOnAt < 1500);
            const released = /watchdog: released by (script-died|deadline); thawed .* \(verified\)/;
            assert.match(await watchdogLogged(logFrom, released), released);
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        it("a cancel while the freeze is blocked: the watchdog keeps thawing until the freeze has ended, then thaws what it froze", async () => {
            const splicer = await f.startSplicer(f.appMount);
            const logFrom = watchdogLogLength();
            let cancelled = false;
            try {
                const result = await run(
                    { maxFreezeSeconds: "30", lockTimeoutSeconds: "2" },
                    {
                        onStderr: (line, cancel) => {
                            if (line.includes("database locked"))
                                setTimeout(() => {
                                    cancelled = true;
                                    cancel();
                                }, 1000);
                        },
                    },
                );
                assert.equal(result.code, 137);
                assert.ok(cancelled);
                assert.ok(await lockReleased(2), "the lock outlived the killed script's session");
                assert.equal(await f.writable(f.appMount, 300), false, "the freeze is not in flight: the test proves nothing");
                await sleep(1500); // the watchdog's first thaw attempts fail with EINVAL meanwhile
            } finally {
                splicer.moveOn();
            }
            assert.ok(await f.writable(f.appMount, 1500), "the freeze completed after the cancel and nobody thawed it");
            const released = /watchdog: released by script-died; thawed .* \(verified\)/;
            assert.match(await watchdogLogged(logFrom, released), released);
            await assertHostRecovered();
        });
    });

    describe("the helpers on a signal (a shutdown, an operator's kill)", () => {
        it("SIGTERM to the watchdog gives the host back at once (thaw, unlock, the call's client stopped); the run fails", async () => {
            f.double.behaviour = "hang";
            let signalledAt = 0;
            const result = await run(
                { maxFreezeSeconds: "60", lockTimeoutSeconds: "2" },
                {
                    onStderr: (line) => {
                        if (!line.includes("database locked")) return;
                        const poll = setInterval(() => {
                            if (!f.double.requests.some((r) => r.what === "CreateSnapshots")) return;
                            clearInterval(poll);
                            const [pid] = helperPids("watchdog");
                            signalledAt = Date.now();
                            process.kill(pid, "SIGTERM");
                        }, 5);
                    },
                },
            );
            assert.ok(signalledAt > 0, "the watchdog was not found");
            assert.notEqual(result.code, 0);
            assert.ok(Date.now() - signalledAt < 5000, `the run ended ${Date.now() - signalledAt} ms after the signal`);
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });
    });

    describe("when the database is busy or down", () => {
        function startLongQuery(sql: string): { proc: ChildProcess; done: Promise<void> } {
            const proc = spawn(CLIENT, [`--defaults-extra-file=${f.live.cnf}`, "-e", sql], { stdio: "ignore" });
            return { proc, done: new Promise((resolve) => proc.on("exit", () => resolve())) };
        }
        async function killLongQueries(): Promise<void> {
            const ids = (await f.sql(`SELECT ID FROM ${PROCESSLIST} WHERE INFO LIKE '%SLEEP(30)%' AND ID <> CONNECTION_ID()`))
                .trim()
                .split("\n")
                .filter(Boolean);
            for (const id of ids) await f.sql(`KILL QUERY ${id}`);
        }
        /** Runs `body` while `sql` has been running for 1.5 s; stops the query afterwards, whatever happens. */
        async function whileLongQueryRuns(sql: string, body: () => Promise<void>): Promise<void> {
            const long = startLongQuery(sql);
            try {
                await sleep(1500);
                await body();
            } finally {
                await killLongQueries();
                await long.done;
            }
        }
        const LONG_WRITE = "UPDATE app.slow SET v = v + 1 WHERE id = 1 AND SLEEP(30) = 0";

        it("a KILL of the lock's session before the call (pt-kill, an admin): exits 205, nothing snapshotted, the host given back", async () => {
            // A writer stuck in splice() holds the freeze open for a second: the KILL lands between lock and call.
            const splicer = await f.startSplicer(f.appMount);
            let killed: string[] = [];
            try {
                const result = await run(
                    { maxFreezeSeconds: "30", lockTimeoutSeconds: "2" },
                    {
                        onStderr: (line) => {
                            if (!line.includes("database locked")) return;
                            void (async () => {
                                killed = (await f.sql(`SELECT ID FROM ${PROCESSLIST} WHERE USER = '${BACKUP_USER}'`)).trim().split("\n").filter(Boolean);
                                for (const id of killed) await f.sql(`KILL CONNECTION ${id}`);
                                await sleep(500);
                                splicer.moveOn();
                            })();
                        },
                    },
                );
                expectFailure(result, 205, /the lock's session \(connection \d+\) was lost before the snapshot call/);
                assert.ok(killed.length > 0, "no session of the backup account was found to kill: the test proves nothing");
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0, "snapshotted without the lock");
            } finally {
                splicer.moveOn();
            }
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        it("sends no FLUSH while a long write runs (exit 205), and writers never stall behind it", async () => {
            await whileLongQueryRuns(LONG_WRITE, async () => {
                const flushesBefore = f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim();
                const result = await run({ quiesce: "ftwrl", lockTimeoutSeconds: "2", lockRetries: "1" });
                expectFailure(result, 205, /could not acquire FLUSH TABLES WITH READ LOCK.*left writable/);
                assert.match(result.stderr, /would make a FLUSH wait \(and writers behind it\); not flushing or locking/);
                assert.equal(f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim(), flushesBefore, "a FLUSH was sent");
                assert.equal(result.summary.writeBlockWindowMs, 0);
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
                assert.ok(writer!.longestGapMs("db") < 1000, `writers stalled ${writer!.longestGapMs("db")} ms`);
            });
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        it("a DLM pre-script starts no lock attempt it could not finish, freeze and hand over within preScriptSeconds (DLM's executionTimeout): 205 in time, nothing held", async () => {
            await whileLongQueryRuns(LONG_WRITE, async () => {
                const started = Date.now();
                // Each FTWRL attempt: the long-query wait, FLUSH TABLES and the lock, 2 s each, 1 s between attempts,
                // then 2 s to freeze; 3 s kept for the hand-over. Ten retries would take 10 x 7 s; 20 s hold about three.
                const result = await run({
                    command: "pre-script",
                    executionId: DLM_EXECUTION_ID,
                    quiesce: "ftwrl",
                    lockTimeoutSeconds: "2",
                    lockRetries: "10",
                    preScriptSeconds: "20",
                });
                const elapsed = Date.now() - started;
                expectFailure(
                    result,
                    205,
                    /lock attempt (\d+) not started: \d+ ms into the pre-script, it could take 9000 ms with the freeze, and SSM_preScriptSeconds=20 \(DLM's executionTimeout\) leaves -?\d+ ms before the hand-over; the database was left writable/,
                );
                const attempt = Number(/lock attempt (\d+) not started/.exec(result.summary.message as string)![1]);
                assert.ok(attempt >= 2 && attempt <= 5, `stopped before attempt ${attempt}`);
                assert.ok(elapsed < 17000, `the pre-script took ${elapsed} ms of DLM's 20 s, past the hand-over reserve`);
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
            });
            await assertHostRecovered();
            const post = await run({ command: "post-script", executionId: DLM_EXECUTION_ID });
            assert.equal(post.code, 212, post.stderr);
            await assertNoCommittedRowLost();
        });

        it("bounds the stall by lockTimeoutSeconds when it does wait for a long write (check disabled)", async () => {
            await whileLongQueryRuns(LONG_WRITE, async () => {
                const started = Date.now();
                const result = await run({ quiesce: "ftwrl", lockTimeoutSeconds: "2", lockRetries: "1", longQuerySeconds: "0" });
                expectFailure(result, 205, /could not acquire FLUSH TABLES WITH READ LOCK/);
                // MariaDB flushes at once and waits in the lock; MySQL already waits in the FLUSH.
                assert.match(result.stderr, /(FLUSH TABLES not done|lock not granted) within 2s/);
                assert.ok(Date.now() - started < 15000);
                assert.ok((result.summary.writeBlockWindowMs as number) >= 2000, JSON.stringify(result.summary));
                const stall = writer!.longestGapMs("db");
                assert.ok(stall < 3000, `writer stall ${stall} ms not bounded by the 2 s lock timeout`);
            });
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        // A SELECT on a table the application writes. MariaDB's FLUSH does not wait for reads: the run
        // succeeds. MySQL's does, and marks the table so that every later statement on it waits for the
        // SELECT (seen on 9.7): no FLUSH may be sent, and the run gives up with the database left writable.
        const LONG_SELECT = "SELECT SLEEP(30), id FROM app.inno LIMIT 1";
        it(`quiesce=ftwrl: while a 30 s SELECT reads a table the application writes, writers never wait more than lockTimeoutSeconds + 1 s (${FLAVOR})`, async () => {
            await whileLongQueryRuns(LONG_SELECT, async () => {
                const result = await run({ quiesce: "ftwrl", lockTimeoutSeconds: "2", lockRetries: "1" });
                if (FLAVOR === "mariadb") {
                    assert.equal(result.code, 0, result.stderr);
                    assert.equal(f.double.observations[0].dbWriteBlocked, true);
                } else {
                    expectFailure(result, 205, /left writable/);
                    assert.match(result.stderr, /would make a FLUSH wait/);
                }
                await sleep(2000); // a table marked for flush would keep stalling writers after the run
                const stall = writer!.longestGapMs("db");
                assert.ok(stall < 3000, `writers stalled ${stall} ms behind the long SELECT`);
            });
            await assertHostRecovered();
            await assertNoCommittedRowLost();
        });

        if (FLAVOR === "mariadb") {
            it("quiesce=backup-lock: a 30 s SELECT on a table the application writes stalls no writer (BACKUP STAGE never waits for a SELECT)", async () => {
                await whileLongQueryRuns("SELECT COUNT(*), SLEEP(30) FROM app.inno", async () => {
                    // longQuerySeconds=0: no wait-for-long-queries check; the lock itself must not wait.
                    const result = await run({ quiesce: "backup-lock", longQuerySeconds: "0", lockTimeoutSeconds: "2" });
                    assert.equal(result.code, 0, result.stderr);
                    assert.deepEqual(f.double.observations[0].backupLockModes, ["MDL_BACKUP_WAIT_COMMIT"]);
                    assert.ok((result.summary.writeBlockWindowMs as number) < 1500, `write-block window ${result.summary.writeBlockWindowMs} ms`);
                    await sleep(1000);
                    const stall = writer!.longestGapMs("db");
                    assert.ok(stall < 1500, `writers stalled ${stall} ms`);
                });
                await assertHostRecovered();
                await assertNoCommittedRowLost();
            });

            it("quiesce=backup-lock: a 30 s write on a MyISAM table bounds the stall by lockTimeoutSeconds per attempt (BLOCK_DDL waits for it), then fails 205 leaving the database writable", async () => {
                await whileLongQueryRuns(LONG_WRITE, async () => {
                    const result = await run({ quiesce: "backup-lock", longQuerySeconds: "0", lockTimeoutSeconds: "2", lockRetries: "0" });
                    expectFailure(result, 205, /could not acquire BACKUP STAGE BLOCK_COMMIT.*left writable/);
                    assert.equal(f.double.observations.length, 0);
                    const stall = writer!.longestGapMs("db");
                    assert.ok(stall < (2 + 1) * 1000, `writers stalled ${stall} ms`);
                });
                await assertHostRecovered();
                await assertNoCommittedRowLost();
            });
        }

        it("exits 204 when the database server is down, touching nothing", async () => {
            await writer!.stop();
            await f.stopMysql(f.live);
            try {
                const result = await run();
                expectFailure(result, 204, /cannot reach the database/);
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
                assert.deepEqual(result.summary.mountsFrozen, []);
            } finally {
                await f.restartLive();
            }
            await assertHostRecovered(500);
        });
    });

    describe("mounts", () => {
        it("refuses (201) a database path on a filesystem no snapshotted volume holds (tmpfs over the binlog directory), naming it, before anything is touched", async () => {
            // A dry run: discovery only. The server's open binlog stays on the volume below the tmpfs; nothing rotates.
            const binlogDir = path.join(f.logsMount, "binlog");
            f.mountTmpfs(binlogDir);
            try {
                const result = await run({ dryRun: "true" });
                expectFailure(
                    result,
                    201,
                    new RegExp(`the database path ${binlogDir} is on ${binlogDir} \\(tmpfs, tmpfs\\), which is on no EBS volume this run snapshots`),
                );
            } finally {
                f.unmount(binlogDir);
            }
        });

        it("refuses (201) a freezeMounts entry that is / mounted again (a bind mount), by its filesystem, not its path (a dry run: nothing could freeze)", async () => {
            const rootBind = path.join(f.dir, "root-bind");
            fs.mkdirSync(rootBind, { recursive: true });
            execFileSync("mount", ["--bind", "/", rootBind]);
            try {
                const result = await run({ freezeMounts: rootBind, dryRun: "true" });
                expectFailure(
                    result,
                    201,
                    new RegExp(
                        `parameter SSM_freezeMounts: invalid value '${rootBind}'; expected mount points other than /, /boot and /boot/efi; .* mounted again`,
                    ),
                );
            } finally {
                spawnSync("umount", ["-l", rootBind]);
            }
        });

        it("exits 203 when a configured mount does not exist", async () => {
            const result = await run({ freezeMounts: `${f.dataMount} /no/such/mount` });
            expectFailure(result, 203, /SSM_freezeMounts: '\/no\/such\/mount' is not a mount point/);
            assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
        });

        for (const mount of ["/", "/boot", "/boot/efi", "//"]) {
            it(`refuses to freeze ${mount} (exit 201) before anything is touched`, async () => {
                const result = await run({ freezeMounts: mount });
                expectFailure(result, 201, /SSM_freezeMounts.*never frozen/);
                assert.equal(f.double.requests.length, 0);
            });
        }

        it("refuses a filesystem someone else froze (exit 203) at its one freeze, and leaves that freeze alone", async () => {
            execFreeze(f.appMount);
            try {
                const result = await run();
                expectFailure(result, 203, new RegExp(`${f.appMount} already frozen by someone else`));
                assert.equal(await f.writable(f.appMount, 300), false, "the script thawed a freeze it did not make");
                assert.ok(await f.writable(f.dataMount), "the script left its own freeze in place");
                assert.ok(await f.writable(f.logsMount), "the script left its own freeze in place");
                assert.equal(f.double.requests.filter((r) => r.what === "CreateSnapshots").length, 0);
            } finally {
                f.thawAll();
            }
            await assertHostRecovered();
        });

        it("freezes and thaws each target filesystem exactly once per run (by hand, fsfreeze traced)", async () => {
            const shim = path.join(f.dir, "fsfreeze-shim");
            const trace = path.join(f.dir, "fsfreeze.trace");
            fs.mkdirSync(shim, { recursive: true });
            const real = execFileSync("sh", ["-c", "command -v fsfreeze"], { encoding: "utf8" }).trim();
            fs.writeFileSync(path.join(shim, "fsfreeze"), `#!/bin/sh\necho "$*" >> ${trace}\nexec ${real} "$@"\n`, { mode: 0o755 });
            fs.rmSync(trace, { force: true });
            const env = f.scriptEnv();
            env.PATH = `${shim}:${env.PATH}`;
            const result = await f.runScript(SCRIPT, env);
            assert.equal(result.code, 0, result.stderr);
            const calls = fs.readFileSync(trace, "utf8").trim().split("\n").sort();
            const expected = f.freezableMounts.flatMap((m) => [`--freeze ${m}`, `--unfreeze ${m}`]).sort();
            assert.deepEqual(calls, expected);
            await assertHostRecovered();
        });

        it("with database=none freezes every ext4 and xfs filesystem on a snapshotted volume, and never locks", async () => {
            const flushesBefore = f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim();
            // Also the backup-lock probe's control (MariaDB): no BACKUP STAGE lock is reported when none is taken.
            const result = await run({ database: "none" });
            assert.equal(result.code, 0, result.stderr);
            assert.deepEqual([...(result.summary.mountsFrozen as string[])].sort(), [...f.freezableMounts].sort());
            const [obs] = f.double.observations;
            assert.deepEqual(obs.frozen, { [f.dataMount]: true, [f.logsMount]: true, [f.appMount]: true });
            assert.equal(obs.dbWriteBlocked, false);
            if (FLAVOR === "mariadb") assert.deepEqual(obs.backupLockModes, []);
            assert.equal(result.summary.lockMethod, "");
            assert.equal(result.summary.lockHeldMs, 0);
            assert.equal(f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim(), flushesBefore, "database=none flushed tables");
            await assertHostRecovered();
        });

        it("honours an explicit freezeMounts list: each filesystem once (bind mounts deduplicated), children first; says which snapshotted filesystem it left unfrozen", async () => {
            // The logs filesystem bound inside the data mount: a child mount, and a second name for logs.
            const nested = path.join(f.dataMount, "nested-logs");
            const bind = path.join(f.dir, "logs-bind");
            f.bindMount(f.logsMount, nested);
            f.bindMount(f.logsMount, bind);
            try {
                const result = await run({ freezeMounts: `${f.dataMount} ${nested} ${bind}` });
                assert.equal(result.code, 0, result.stderr);
                assert.deepEqual(result.summary.mountsFrozen, [nested, f.dataMount], "child first, bind duplicate dropped");
                assert.deepEqual(result.summary.mountsNotFrozen, [f.appMount]);
                assert.match(result.stderr, new RegExp(`WARNING: not frozen although on a snapshotted volume .*: ${f.appMount}`));
                const [obs] = f.double.observations;
                assert.deepEqual(obs.frozen, { [f.dataMount]: true, [f.logsMount]: true, [f.appMount]: false });
                assert.equal(requestTags(obs.params).UnfrozenMounts, f.appMount);
                await assertHostRecovered();
            } finally {
                f.thawAll();
                f.unmount(bind);
                f.unmount(nested);
            }
        });

        it("syncs but never freezes a filesystem it cannot freeze, says so, and relies on the database lock", async () => {
            const scratch = path.join(f.dir, "scratch");
            f.mountTmpfs(scratch);
            try {
                const result = await run({ freezeMounts: scratch });
                assert.equal(result.code, 0, result.stderr);
                assert.deepEqual(result.summary.mountsFrozen, []);
                assert.deepEqual(result.summary.mountsSyncedOnly, [scratch]);
                assert.equal(result.summary.frozenMs, 0);
                assert.match(result.stderr, new RegExp(`NOTE: ${scratch} \\(tmpfs\\) is not frozen; it is synced and covered by the database lock only`));
                const [obs] = f.double.observations;
                assertLockHeldAt(obs, result.summary.lockMethod, "the lock must still be held at the snapshot instant");
                assert.deepEqual(obs.frozen, { [f.dataMount]: false, [f.logsMount]: false, [f.appMount]: false });
                assert.equal(requestTags(obs.params).ConsistencyMethod, `${DEFAULT_LOCK.tag}+sync`);
                assert.deepEqual([...(result.summary.mountsNotFrozen as string[])].sort(), [...f.freezableMounts].sort());
                await assertHostRecovered();
            } finally {
                f.unmount(scratch);
            }
        });

        it("includes the boot volume when excludeBootVolume=false", async () => {
            const result = await run({ excludeBootVolume: "false" });
            assert.equal(result.code, 0, result.stderr);
            const [obs] = f.double.observations;
            assert.equal(obs.params["InstanceSpecification.ExcludeBootVolume"], "false");
            assert.deepEqual(result.summary.volumes, [ROOT_VOLUME_ID, DATA_VOLUME_ID, LOGS_VOLUME_ID, APP_VOLUME_ID]);
            assert.equal((result.summary.snapshots as unknown[]).length, 4);
            await assertHostRecovered();
        });
    });

    describe("retention (after the host is given back)", () => {
        const DAY = 86400000;
        let seeded = 0;
        /** Seeds the two snapshots of an earlier run; returns their ids. */
        function seedRun(runId: string, ageDays: number, tags: Record<string, string> = {}): string[] {
            return [DATA_VOLUME_ID, LOGS_VOLUME_ID].map((volumeId) => {
                const snapshotId = `snap-0feed${(++seeded).toString(16).padStart(12, "0")}`;
                f.double.seedSnapshot({
                    snapshotId,
                    volumeId,
                    startTime: new Date(Date.now() - ageDays * DAY),
                    tags: { CreatedBy: "consistent-snapshots", InstanceId: INSTANCE_ID, RunId: runId, ...tags },
                });
                return snapshotId;
            });
        }
        const sorted = (ids: unknown) => [...(ids as string[])].sort();

        it("keeps the newest retainCount runs (this one included) and deletes only older runs of this instance by this tool", async () => {
            const oldest = seedRun("cs-old-1", 3);
            const older = seedRun("cs-old-2", 2);
            const newer = seedRun("cs-old-3", 1);
            const otherInstance = seedRun("cs-other", 5, { InstanceId: "i-0fffffffffffffff0" });
            const otherTool = seedRun("backup-tool", 9, { CreatedBy: "another-backup-tool" });
            const result = await run({ retainCount: "2" });
            assert.equal(result.code, 0, result.stderr);
            assert.deepEqual(sorted(result.summary.pruned), sorted([...oldest, ...older]));
            assert.deepEqual(result.summary.pruneErrors, []);
            const remaining = [...f.double.snapshotStore.keys()];
            for (const id of [...newer, ...otherInstance, ...otherTool]) assert.ok(remaining.includes(id), `${id} was deleted`);
            for (const s of result.summary.snapshots as { snapshotId: string }[]) assert.ok(remaining.includes(s.snapshotId), "deleted its own snapshot");
            assert.match(result.summary.message, /pruned 4/);
        });

        it("prunes outside the freeze and the lock", async () => {
            seedRun("cs-old-4", 2);
            const result = await run({ retainCount: "1" });
            assert.equal(result.code, 0, result.stderr);
            // Retention's DescribeSnapshots is by the tool's tags (the one before the lock, by volume, finds recent snapshots).
            const pruneCalls = f.double.requests.filter(
                (r) => (r.what === "DescribeSnapshots" && r.filters?.includes("tag:CreatedBy")) || r.what === "DeleteSnapshot",
            );
            assert.deepEqual([...new Set(pruneCalls.map((r) => r.what))], ["DescribeSnapshots", "DeleteSnapshot"]);
            for (const call of pruneCalls) {
                assert.ok(
                    call.atMs >= (result.summary.thawedAtMs as number) && call.atMs >= (result.summary.unlockedAtMs as number),
                    `${call.what} while frozen or locked`,
                );
            }
        });

        it("deletes runs older than retainDays and keeps younger ones", async () => {
            const old = seedRun("cs-old-5", 10);
            const young = seedRun("cs-young", 3);
            const result = await run({ retainDays: "7" });
            assert.equal(result.code, 0, result.stderr);
            assert.deepEqual(sorted(result.summary.pruned), sorted(old));
            for (const id of young) assert.ok(f.double.snapshotStore.has(id));
        });

        it("reports a delete that fails without failing the backup", async () => {
            const [stuck, fine] = seedRun("cs-old-6", 4);
            f.double.undeletable.add(stuck);
            const result = await run({ retainCount: "1" });
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.summary.status, "ok");
            assert.deepEqual(result.summary.pruned, [fine]);
            assert.equal((result.summary.pruneErrors as string[]).length, 1);
            assert.match((result.summary.pruneErrors as string[])[0], new RegExp(`^${stuck}: .*InvalidSnapshot.InUse`));
            assert.match(result.summary.message, /1 could not be deleted/);
            assert.ok(f.double.snapshotStore.has(stuck));
        });

        it("keeps everything by default", async () => {
            const old = seedRun("cs-old-7", 400);
            const result = await run();
            assert.equal(result.code, 0, result.stderr);
            assert.deepEqual(result.summary.pruned, []);
            assert.ok(old.every((id) => f.double.snapshotStore.has(id)));
            assert.equal(f.double.requests.filter((r) => r.what === "DescribeSnapshots" && r.filters?.includes("tag:CreatedBy")).length, 0);
        });
    });

    // Data Lifecycle Manager runs the document with command=pre-script, then calls CreateSnapshots itself (from
    // outside the instance), then runs it with command=post-script (only after a successful pre-script).
    describe("as Data Lifecycle Manager's pre and post scripts", () => {
        const EXECUTION_ID = DLM_EXECUTION_ID;
        /** Agent runs keep their state in the real /run (the fixture's own PIDs only ever live there). */
        const HOLD_DIR = "/run/consistent-snapshot/hold";
        const holdValue = (key: string): string | undefined => {
            const state = path.join(HOLD_DIR, "state");
            if (!fs.existsSync(state)) return undefined;
            return new RegExp(`^${key}=(.*)$`, "m").exec(fs.readFileSync(state, "utf8"))?.[1];
        };
        async function heldNow(): Promise<{ frozen: boolean[]; locked: boolean }> {
            return {
                frozen: await Promise.all(f.freezableMounts.map(async (m) => !(await f.writable(m, 300)))),
                locked: !(await lockReleased(1)),
            };
        }

        afterEach(() => {
            // A test that left a hold behind: stop its holder and sentinel (this fixture's processes) and thaw.
            for (const key of ["HolderPid", "SentinelPid"]) {
                const pid = Number(holdValue(key));
                if (pid > 0)
                    try {
                        process.kill(pid, "SIGKILL");
                    } catch {
                        /* gone */
                    }
            }
            f.thawAll();
            fs.rmSync(HOLD_DIR, { recursive: true, force: true });
        });

        it("pre-script exits 0 leaving lock and freeze held; DLM's own CreateSnapshots sees both; post-script releases and tags DLM's snapshots, which restore", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
            assert.equal(pre.code, 0, pre.stderr);
            assert.equal(pre.summary.status, "held");
            assert.ok(!pre.timedOut, "the pre-script's step did not end (a child held the agent's pipes)");
            const held = await heldNow();
            assert.deepEqual(held, { frozen: f.freezableMounts.map(() => true), locked: true }, "released when the pre-script exited");

            const ids = await f.double.dlmCreateSnapshots();
            const [obs] = f.double.observations;
            assert.equal(pre.summary.lockMethod, DEFAULT_LOCK.method);
            assertLockHeldAt(obs, pre.summary.lockMethod, "the lock was not held at DLM's call");
            for (const m of f.freezableMounts) assert.equal(obs.frozen[m], true, `${m} not frozen at DLM's call`);

            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            assert.equal(post.code, 0, post.stderr);
            await assertHostRecovered();
            assert.deepEqual((post.summary.snapshots as { snapshotId: string }[]).map((s) => s.snapshotId).sort(), [...ids].sort());
            for (const id of ids) {
                const tags = f.double.snapshotStore.get(id)!.tags;
                assert.equal(tags["dlm:managed"], "true", "DLM's own tags are kept");
                assert.equal(tags.InstanceId, INSTANCE_ID, "DLM's variable tag is kept (the post-script may not write that key)");
                assert.equal(tags.RunId, pre.summary.runId);
                assert.equal(tags.DlmExecutionId, EXECUTION_ID);
                assert.equal(tags.ConsistencyMethod, `${DEFAULT_LOCK.tag}+fsfreeze`);
                assert.equal(tags.BinlogFile, (pre.summary.binlog as Record<string, string>).file);
                assert.equal(tags.BinlogPosition, (pre.summary.binlog as Record<string, string>).position);
                assert.equal(tags.CreatedBy, undefined, "DLM owns their retention: our pruning must never see them");
            }
            assert.ok((post.summary.lockHeldMs as number) > 0 && (post.summary.frozenMs as number) > 0, JSON.stringify(post.summary));
            assert.equal(fs.existsSync(HOLD_DIR), false, "the hold is cleared");
            await assertNoCommittedRowLost();

            // DLM's snapshots restore: every table checks, the binlog ends at the tagged position, and the copy holds
            // exactly the rows committed before the lock (what the double read at DLM's call).
            const copyOf = (volumeId: string) => copyOfSnapshot(obs, volumeId);
            const binlog = pre.summary.binlog as Record<string, string>;
            const verify = await restoreVerify(copyOf(DATA_VOLUME_ID), copyOf(LOGS_VOLUME_ID), binlog, path.join(f.dir, "verify-dlm"));
            assert.equal(verify.code, 0, verify.stderr);
            assert.deepEqual(verify.summary.failedTables, []);
            assert.equal(verify.summary.binlogFileSize, binlog.position);
            const restored = await f.restore(copyOf(DATA_VOLUME_ID), copyOf(LOGS_VOLUME_ID));
            try {
                const [inno, myi] = f
                    .sqlSync("SELECT IFNULL(MAX(id),0) FROM app.inno; SELECT IFNULL(MAX(id),0) FROM app.myi", restored.server.cnf)
                    .trim()
                    .split("\n")
                    .map(Number);
                assert.ok(obs.maxInnodbId > 0, obs.probeError);
                assert.deepEqual([inno, myi], [obs.maxInnodbId, obs.maxMyisamId]);
            } finally {
                await restored.cleanup();
            }
        });

        it("without a post-script, the holder gives the host back at maxFreezeSeconds on its own; a late post-script exits 213", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID, maxFreezeSeconds: "4", lockTimeoutSeconds: "2" });
            assert.equal(pre.code, 0, pre.stderr);
            await sleep(1500);
            assert.deepEqual((await heldNow()).locked, true);
            await sleep(4000);
            await assertHostRecovered();
            assert.match(fs.readFileSync(path.join(HOLD_DIR, "outcome"), "utf8"), /^deadline \d+/);
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            expectFailure(post, 213, /hold ended \(deadline\) before the post-script/);
            await assertNoCommittedRowLost();
        });

        for (const role of ["holder", "sentinel"]) {
            it(`SIGTERM to a pre-script's ${role} gives the host back at once; the post-script exits 213 (hold ended: signal)`, async () => {
                const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
                assert.equal(pre.code, 0, pre.stderr);
                const [pid] = helperPids(role);
                assert.ok(pid > 0, `no ${role} running`);
                process.kill(pid, "SIGTERM");
                await assertHostRecovered(1500);
                const post = await run({ command: "post-script", executionId: EXECUTION_ID });
                expectFailure(post, 213, /hold ended \(signal\)/);
                assert.deepEqual(helperPids("holder").concat(helperPids("sentinel")), [], "a helper outlived the hold");
            });
        }

        if (FLAVOR === "mariadb")
            it("a GTID set of many domains, longer than a tag value: the run and the post-script tag all of it in parts (JSON, not the CLI's shorthand, which splits on its commas)", async () => {
                // 40 more replication domains: gtid_binlog_pos becomes "0-1-N,1-1-1,...,40-1-1", over 256 characters.
                await f.sql(
                    Array.from({ length: 40 }, (_, i) => `SET SESSION gtid_domain_id = ${i + 1}; INSERT INTO app.probe (at) VALUES (NOW(6))`).join("; "),
                );
                const gtidOf = (tags: Record<string, string>) =>
                    ["GtidBinlogPos", ...Array.from({ length: 7 }, (_, i) => `GtidBinlogPos${i + 2}`)].map((key) => tags[key] ?? "").join("");
                const snapshot = await run();
                assert.equal(snapshot.code, 0, snapshot.stderr);
                const gtid = (snapshot.summary.binlog as Record<string, string>).gtid;
                assert.ok(gtid.length > 256 && gtid.includes(","), `the set is not long enough to prove anything: ${gtid}`);
                const ofRun = [...f.double.snapshotStore.values()].filter((snap) => snap.tags.RunId === snapshot.summary.runId);
                assert.ok(ofRun.length > 0);
                for (const snap of ofRun) {
                    assert.equal(gtidOf(snap.tags), gtid, "the tags do not add up to the whole set");
                    assert.equal(snap.tags.GtidBinlogPos2?.length > 0, true);
                    assert.equal(snap.tags.GtidBinlogPosCut, undefined);
                }
                const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
                assert.equal(pre.code, 0, pre.stderr);
                const ids = await f.double.dlmCreateSnapshots();
                const post = await run({ command: "post-script", executionId: EXECUTION_ID });
                assert.equal(post.code, 0, post.stderr);
                for (const id of ids) assert.equal(gtidOf(f.double.snapshotStore.get(id)!.tags), (pre.summary.binlog as Record<string, string>).gtid);
            });

        it("post-script without a pre-script exits 212 and touches nothing", async () => {
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            expectFailure(post, 212, /no pre-script hold on this instance/);
            assert.equal(f.double.requests.filter((r) => r.kind === "ec2").length, 0);
        });

        it("a second pre-script exits 211 and leaves the first hold alone; a post-script for another execution exits 212", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
            assert.equal(pre.code, 0, pre.stderr);
            const second = await run({ command: "pre-script", executionId: "11111111-2222-4333-8444-555555555555" });
            expectFailure(second, 211, /a pre-script hold is active \(execution 0f1e2d3c/);
            const other = await run({ command: "post-script", executionId: "11111111-2222-4333-8444-555555555555" });
            expectFailure(other, 212, /belongs to execution 0f1e2d3c/);
            assert.deepEqual((await heldNow()).locked, true, "the first hold was disturbed");
            await f.double.dlmCreateSnapshots();
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            assert.equal(post.code, 0, post.stderr);
            await assertHostRecovered();
        });

        it("a killed holder (SIGKILL) takes the lock with it at once, and its sentinel thaws at once (it watches the holder); the post-script exits 213", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID, maxFreezeSeconds: "30", lockTimeoutSeconds: "2" });
            assert.equal(pre.code, 0, pre.stderr);
            assert.equal((await heldNow()).frozen.every(Boolean), true, "nothing held: the test proves nothing");
            process.kill(Number(holdValue("HolderPid")), "SIGKILL");
            await assertHostRecovered(1500);
            // The sentinel writes the outcome once its thaw is verified and the session killed (a client's connect).
            const outcome = path.join(HOLD_DIR, "outcome");
            for (let i = 0; i < 40 && !fs.existsSync(outcome); i++) await sleep(50);
            assert.match(fs.readFileSync(outcome, "utf8"), /^holder-lost \d+ verified\n$/);
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            expectFailure(post, 213, /hold ended \(holder-lost\)/);
        });

        it("holder and sentinel both killed (SIGKILL): the post-script gives the host back itself (thaw verified, session killed) and exits 213", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID, maxFreezeSeconds: "30", lockTimeoutSeconds: "2" });
            assert.equal(pre.code, 0, pre.stderr);
            process.kill(Number(holdValue("SentinelPid")), "SIGKILL");
            process.kill(Number(holdValue("HolderPid")), "SIGKILL");
            await sleep(500);
            assert.equal((await heldNow()).frozen.every(Boolean), true, "someone thawed: the test proves nothing");
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            expectFailure(post, 213, /hold ended \(holder-lost\)/);
            await assertHostRecovered(500);
        });

        it("a pre-script whose holder dies before the hold is handed over does not say held: it fails (213), the host given back", async () => {
            const pre = await run(
                { command: "pre-script", executionId: EXECUTION_ID, maxFreezeSeconds: "30", lockTimeoutSeconds: "2" },
                {
                    onStderr: (line) => {
                        if (!line.includes("database locked")) return;
                        const [holder] = helperPids("holder");
                        if (holder) process.kill(holder, "SIGKILL");
                    },
                },
            );
            expectFailure(pre, 213, /hold/);
            assert.notEqual(pre.summary.status, "held");
            await assertHostRecovered();
            assert.deepEqual(helperPids("holder").concat(helperPids("sentinel")), [], "a helper outlived the failed pre-script");
        });

        it("a post-script that finds no snapshot DLM started while held releases the host and exits 214 (an alert: nothing tagged)", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
            assert.equal(pre.code, 0, pre.stderr);
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            expectFailure(post, 214, /no snapshot of .* started while it was held: nothing tagged/);
            await assertHostRecovered();
        });

        it("a pre-script cancelled once locked (SIGKILL of its process group): the host is given back at once, and the next pre-script works", async () => {
            const pre = await run(
                { command: "pre-script", executionId: EXECUTION_ID, maxFreezeSeconds: "30", lockTimeoutSeconds: "2" },
                {
                    onStderr: (line, kill) => {
                        if (/database locked/.test(line)) kill();
                    },
                },
            );
            assert.equal(pre.code, 137);
            // The session ends with the script; the helpers see the script's end of file without "handover": at once.
            await assertHostRecovered(1500);
            const again = await run({ command: "pre-script", executionId: EXECUTION_ID });
            assert.equal(again.code, 0, again.stderr);
            await f.double.dlmCreateSnapshots();
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            assert.equal(post.code, 0, post.stderr);
            await assertHostRecovered();
        });

        it("the database restarted while held: its shutdown waits for the thaw, the post-script still releases and tags (exit 0)", async () => {
            const pre = await run({ command: "pre-script", executionId: EXECUTION_ID });
            assert.equal(pre.code, 0, pre.stderr);
            const ids = await f.double.dlmCreateSnapshots();
            await writer!.stop();
            const restarting = f.restartLive();
            await sleep(1000);
            const post = await run({ command: "post-script", executionId: EXECUTION_ID });
            assert.equal(post.code, 0, post.stderr);
            await restarting;
            await assertHostRecovered(5000);
            for (const id of ids) assert.equal(f.double.snapshotStore.get(id)!.tags.RunId, pre.summary.runId);
        });

        it("dry-run (DLM's validation call) reports and touches nothing", async () => {
            const result = await run({ command: "dry-run", executionId: "None" });
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.summary.status, "dry-run");
            assert.equal(f.double.requests.filter((r) => r.what.startsWith("CreateSnapshot")).length, 0);
            assert.equal(fs.existsSync(HOLD_DIR), false);
        });
    });

    it("dry run: reports what it would lock, freeze and snapshot, and touches nothing; names the target it serves", async () => {
        const flushesBefore = f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim();
        const result = await run({ dryRun: "true", target: "extra-1" });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.summary.status, "dry-run");
        assert.equal(result.summary.target, "extra-1", "the run metrics' Target dimension");
        assert.deepEqual([...(result.summary.mountsFrozen as string[])].sort(), [...f.freezableMounts].sort());
        assert.deepEqual(result.summary.volumes, [DATA_VOLUME_ID, LOGS_VOLUME_ID, APP_VOLUME_ID]);
        assert.equal(f.double.requests.filter((r) => r.what.startsWith("CreateSnapshot")).length, 0);
        assert.equal(result.summary.frozenMs, 0);
        assert.equal(result.summary.lockHeldMs, 0);
        assert.equal(f.sqlSync("SHOW GLOBAL STATUS LIKE 'Com_flush'").trim(), flushesBefore, "dry run flushed tables");
    });

    // By hand: under Run Command the document's allowedPattern already refuses these before the script starts.
    describe("parameter validation (exit 201 before anything is touched)", () => {
        // Option files someone other than root could have written (the client would load a plugin or talk to a
        // decoy server as root): made in `before`.
        const cnfDir = path.join(f.dir, "option-files");
        before(() => {
            fs.mkdirSync(path.join(cnfDir, "open"), { recursive: true });
            fs.chmodSync(path.join(cnfDir, "open"), 0o777);
            for (const file of ["group-writable.cnf", "not-root.cnf", "open/in-open-dir.cnf"]) fs.writeFileSync(path.join(cnfDir, file), "[client]\n");
            fs.chmodSync(path.join(cnfDir, "group-writable.cnf"), 0o664);
            fs.chownSync(path.join(cnfDir, "not-root.cnf"), 65534, 65534);
            fs.symlinkSync(f.live.cnf, path.join(cnfDir, "link.cnf"));
        });
        const cases: [string, string, RegExp][] = [
            ["database", "postgres", /'mysql' or 'none'/],
            ["quiesce", "crash", /'auto', 'ftwrl', 'backup-lock' or 'crash-recovery'/],
            ["target", "main target", /0-128 of letters, digits and _\.-/],
            ["freezeMounts", "relative/path", /'auto' or absolute mount points/],
            ["freezeMounts", "/data;rm -rf /", /'auto' or absolute mount points/],
            ["freezeMounts", "/data $(reboot)", /'auto' or absolute mount points/],
            ["maxFreezeSeconds", "0", /integer from 2 to 600/],
            ["maxFreezeSeconds", "601", /integer from 2 to 600/],
            ["maxFreezeSeconds", "ten", /integer from 2 to 600/],
            ["lockTimeoutSeconds", "0", /integer from 1 to 60/],
            ["lockTimeoutSeconds", "61", /integer from 1 to 60/],
            ["lockTimeoutSeconds", "45", /smaller than SSM_maxFreezeSeconds/],
            ["lockRetries", "11", /integer from 0 to 10/],
            ["longQuerySeconds", "-1", /integer from 0 to 3600/],
            ["excludeBootVolume", "yes", /'true' or 'false'/],
            ["dryRun", "1", /'true' or 'false'/],
            ["snapshotDescription", "bad `cmd`", /0-255 characters/],
            ["snapshotDescription", "x".repeat(256), /0-255 characters/],
            ["mysqlDefaultsFile", "relative.cnf", /absolute path/],
            ["mysqlDefaultsFile", "/no/such/file.cnf", /readable MySQL option file/],
            [
                "mysqlDefaultsFile",
                path.join(cnfDir, "group-writable.cnf"),
                /owned by root, not writable by group or others \(.*group-writable\.cnf: uid 0, mode 664\)/,
            ],
            ["mysqlDefaultsFile", path.join(cnfDir, "not-root.cnf"), /owned by root.*\(.*not-root\.cnf: uid 65534/],
            ["mysqlDefaultsFile", path.join(cnfDir, "open", "in-open-dir.cnf"), /owned by root.*\(.*option-files\/open: uid 0, mode 777\)/],
            ["mysqlDefaultsFile", path.join(cnfDir, "link.cnf"), /a path without symlinks \(.*link\.cnf is one\)/],
            ["mysqlDefaultsFile", cnfDir, /a readable regular file/],
            ["snapshotDescription", "file:///root/.my.cnf", /without '\/\/'/],
            ["snapshotDescription", "http://decoy.example/x", /without '\/\/'/],
            ["retainCount", "1001", /integer from 0 to 1000/],
            ["retainDays", "x", /integer from 0 to 3650/],
        ];
        for (const [name, value, accepted] of cases) {
            it(`rejects SSM_${name}='${value.replace(f.dir, "<fixture>").slice(0, 40)}' naming the parameter and the accepted form`, async () => {
                const result = await runByHand({ [name]: value });
                expectFailure(result, 201, new RegExp(`parameter SSM_${name}: invalid value`));
                assert.match(result.summary.message, accepted);
                assert.equal(f.double.requests.length, 0, "validation must come before IMDS and EC2");
            });
        }
    });

    it("runs under an SSM Agent older than 3.3.2746 (no ENV_VAR: values substituted into the text), with the values given", async () => {
        const result = await run({ dryRun: "true", freezeMounts: `${f.logsMount} ${f.dataMount}` }, { withoutEnvVarSupport: true });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.summary.status, "dry-run");
        assert.match(result.stderr, new RegExp(`dry run: would lock mysql, freeze ${f.logsMount} ${f.dataMount} and snapshot`));
        assert.equal(f.double.requests.filter((r) => r.what.startsWith("CreateSnapshots")).length, 0);
    });

    it("refuses to run with defaults when started under Run Command without the SSM_* variables (not through the document), exit 202", async () => {
        const env = f.scriptEnv();
        delete env.SSM_mysqlDefaultsFile;
        env.AWS_SSM_INSTANCE_ID = INSTANCE_ID;
        const result = await f.runScript(SCRIPT, env);
        expectFailure(result, 202, /parameters did not arrive as SSM_\* variables/);
        assert.equal(f.double.requests.length, 0);
    });
});

function execFreeze(mount: string): void {
    execFileSync("fsfreeze", ["--freeze", mount]);
}
