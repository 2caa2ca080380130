// Benchmark: the application's write stall during a snapshot run, every quiesce method and snapshot-call
// client against the seed's sequence.
//
// On the script tests' real fixture (the database server of this machine or of a compatibility chroot, on
// loop-mounted ext4/xfs, real fsfreeze, the IMDS/EC2 double) made one where crash recovery is exact (InnoDB
// only, sync_binlog=1: Fixture.makeCrashRecoveryExact, so that every method can run on the same server), with
// 1, 2 and 4 data volumes and a CreateSnapshot(s) latency of 0 and 200 ms, it runs
//   ftwrl/<client>        scripts/consistent-snapshot.sh with quiesce=ftwrl
//   backup-lock/<client>  the same with quiesce=backup-lock (MariaDB BACKUP STAGE; MySQL LOCK INSTANCE FOR BACKUP)
//   crash-recovery        quiesce=crash-recovery (no lock, no freeze; the double copies the images as EBS would)
//   seed                  the blog's sequence (IMDS + describe + one create-snapshot CLI call per volume inside the
//                         freeze), with the lock held correctly in one session so that only the sequence differs:
//                         the baseline every ratio is taken against
//   dlm                   Data Lifecycle Manager's sequence at its fastest: our pre-script, DLM's CreateSnapshots
//                         from outside the moment it exits, our post-script right after
//   double-only           the control: CreateSnapshots sent to the double from outside, no script at all, in a
//                         window as long as crash-recovery's runs, the call as far into it (the longer the window,
//                         the longer the longest gap the writer has anyway: on MySQL ~50 ms more over 1.5 s). What the
//                         double's own copies cost the writer (reflinking an image file flushes its dirty pages and
//                         locks it; an EBS snapshot costs the instance no I/O), the floor under every variant
// where <client> is curl (apiClient=curl: curl signs the call), cli-v1 and cli-v2 (apiClient=aws-cli with the
// AWS CLI v1 or v2 first on PATH; each only where that CLI is installed), at least 5 times each, interleaved,
// while a writer commits to two InnoDB tables and appends+fsyncs a file every ~5 ms. The stall is the longest gap
// the writer sees between two acknowledged writes during the run. Prints the table of median and max stalls,
// the ratio to the seed's and the issue's targets (crash-recovery's: at most 10 ms over double-only's), and writes it as JSON to bench/results/write-stall-<db>.json.
//
// Run as root: npm run bench  (options: --runs N, --volumes 1,2,4, --latencies 0,200, --variants a,b,...;
// --matrix FILE prints the median matrix of a results file, as in the README, and runs nothing)
// In a compatibility cell (MySQL: sid), with the host's AWS CLI v1 brought in (no Debian suite ships it with MySQL):
//   COMPAT_AWS_CLI_V1_PACKAGES=$(python3 -c 'import awscli, os; print(os.path.dirname(os.path.dirname(awscli.__file__)))') \
//     tests/compat/chroot.sh run sid env TS_NODE_TRANSPILE_ONLY=true node node_modules/.bin/ts-node bench/write-stall.ts
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FLAVOR, Fixture, REPO_ROOT, SCRIPT, ScriptResult, requirePrerequisites, sleep } from "../tests/script/fixture";

const SEED = path.join(REPO_ROOT, "tests", "script", "seed-sequence.sh");
/** The script as it was when the bench started (bash reads a script while it runs it: an edit must not reach a run). */
const SCRIPT_COPY = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cs-bench-")), "consistent-snapshot.sh");
fs.copyFileSync(SCRIPT, SCRIPT_COPY);

const VARIANTS = [
    "ftwrl/curl",
    "ftwrl/cli-v1",
    "ftwrl/cli-v2",
    "backup-lock/curl",
    "backup-lock/cli-v1",
    "backup-lock/cli-v2",
    "crash-recovery",
    "double-only",
    "seed",
    "dlm",
] as const;
type Variant = (typeof VARIANTS)[number];
interface Args {
    runs: number;
    volumes: (1 | 2 | 4)[];
    latencies: number[];
    variants: Variant[];
}
interface Stalls {
    dbMedianMs: number;
    dbMaxMs: number;
    fileMedianMs: number;
    fileMaxMs: number;
}
interface Row {
    volumes: number;
    latencyMs: number;
    variant: Variant;
    runs: number;
    stalls: Stalls;
    ratioToSeed?: number;
    targetMs?: number;
    met?: boolean;
    phasesMedianMs?: Record<string, number>;
    /** Of the runs with one snapshot call: in how many the longest db gap overlapped the call. */
    dbStallOverlapsCall?: { runs: number; of: number };
}
interface Sample {
    variant: Variant;
    volumes: number;
    latencyMs: number;
    dbStallMs: number;
    fileStallMs: number;
    /** Runs of the script: where the stall went, from its own timestamps. */
    phases?: Record<string, number>;
    /** Runs with one snapshot call (the script's, the control's): whether the longest db gap overlapped it. */
    dbStallOverlapsCall?: boolean;
}

/** The AWS CLIs installed, by major version: the directory to put first on PATH, and what it says it is. */
function installedClis(): Partial<Record<"v1" | "v2", { dir: string; version: string }>> {
    const found: Partial<Record<"v1" | "v2", { dir: string; version: string }>> = {};
    const candidates = execFileSync("sh", ["-c", "which -a aws; ls /usr/bin/aws /usr/local/bin/aws 2>/dev/null || true"], { encoding: "utf8" }).split("\n");
    // In a compatibility chroot: the CLI v1 brought in by tests/compat/chroot.sh (COMPAT_AWS_CLI_V1_PACKAGES).
    if (process.env.COMPAT_AWS_CLI_V1) candidates.push(process.env.COMPAT_AWS_CLI_V1);
    for (const binary of [...new Set(candidates.filter(Boolean))]) {
        let version = "";
        try {
            version = execFileSync(binary, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
        } catch {
            continue;
        }
        const major = /^aws-cli\/([12])\./.exec(version)?.[1];
        const key = major === "1" ? "v1" : major === "2" ? "v2" : undefined;
        if (key && !found[key]) found[key] = { dir: path.dirname(binary), version: version.split(" ")[0] };
    }
    return found;
}

function parseArgs(argv: string[], clis: ReturnType<typeof installedClis>): Args {
    const get = (name: string, fallback: string) => {
        const i = argv.indexOf(`--${name}`);
        return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
    };
    const runs = Number(get("runs", "5"));
    const volumes = get("volumes", "1,2,4").split(",").map(Number) as (1 | 2 | 4)[];
    const latencies = get("latencies", "0,200").split(",").map(Number);
    if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a positive integer");
    if (volumes.some((v) => ![1, 2, 4].includes(v))) throw new Error("--volumes takes 1, 2 and/or 4");
    if (latencies.some((l) => !Number.isInteger(l) || l < 0)) throw new Error("--latencies takes non-negative integers (ms)");
    const installed = VARIANTS.filter((v) => !/cli-v[12]$/.test(v) || clis[v.slice(-2) as "v1" | "v2"]);
    const variants = get("variants", installed.join(",")).split(",") as Variant[];
    const unknown = variants.filter((v) => !installed.includes(v));
    if (unknown.length > 0) throw new Error(`--variants: ${unknown.join(", ")} unknown or its CLI not installed; here: ${installed.join(", ")}`);
    if (!variants.includes("seed")) throw new Error("--variants needs seed: the baseline every ratio is taken against");
    return { runs, volumes, latencies, variants };
}

/** The issue's target for a variant's median stall, if it has one. */
function targetMs(variant: Variant, latencyMs: number, doubleOnlyMs: number): number | undefined {
    if (variant === "crash-recovery") return doubleOnlyMs + 10;
    if (variant.startsWith("ftwrl/") || variant.startsWith("backup-lock/")) return latencyMs + 40;
    return undefined;
}

/** Longest gap between consecutive writer events of a kind that overlaps [from, to]: its length, start and end. */
function stall(events: { kind: string; atMs: number }[], kind: string, from: number, to: number): { ms: number; fromMs: number; toMs: number } {
    const times = events
        .filter((e) => e.kind === kind)
        .map((e) => e.atMs)
        .sort((a, b) => a - b);
    let longest = { ms: 0, fromMs: from, toMs: from };
    for (let i = 1; i < times.length; i++) {
        if (times[i] >= from && times[i - 1] <= to && times[i] - times[i - 1] > longest.ms) {
            longest = { ms: times[i] - times[i - 1], fromMs: times[i - 1], toMs: times[i] };
        }
    }
    return longest;
}

function stalls(samples: Sample[]): Stalls {
    const db = samples.map((s) => s.dbStallMs);
    const file = samples.map((s) => s.fileStallMs);
    return { dbMedianMs: median(db), dbMaxMs: Math.max(...db), fileMedianMs: median(file), fileMaxMs: Math.max(...file) };
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** DLM's sequence: pre-script, CreateSnapshots from outside at once, post-script. The post-script's summary. */
async function runDlmSequence(f: Fixture, params: Record<string, string>): Promise<ScriptResult> {
    const executionId = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    const pre = await f.runScript(SCRIPT_COPY, f.scriptEnv({ ...params, command: "pre-script", executionId }), { killAfterMs: 120000 });
    if (pre.code !== 0) return pre;
    await f.double.dlmCreateSnapshots();
    return f.runScript(SCRIPT_COPY, f.scriptEnv({ ...params, command: "post-script", executionId }), { killAfterMs: 120000 });
}

/** Where crash-recovery's last run in this cell sent its call, and how long the run went on after the answer. */
const crashRecoveryWindow = { beforeCallMs: 0, afterAnswerMs: 0 };

/** One run of a variant's sequence; what its (last) script said, the summary empty for the control. */
async function runVariant(
    f: Fixture,
    variant: Variant,
    clis: ReturnType<typeof installedClis>,
): Promise<Pick<ScriptResult, "code" | "signal" | "stderr" | "summary">> {
    const mounts = f.freezableMounts.join(" ");
    const params = { freezeMounts: mounts, maxFreezeSeconds: "60", lockTimeoutSeconds: "5" };
    const limit = { killAfterMs: 120000 };
    switch (variant) {
        case "double-only": {
            await sleep(crashRecoveryWindow.beforeCallMs);
            const apiStartMs = Date.now();
            await f.double.dlmCreateSnapshots();
            const apiEndMs = Date.now();
            await sleep(crashRecoveryWindow.afterAnswerMs);
            return { code: 0, signal: null, stderr: "", summary: { status: "", exitCode: 0, message: "", apiStartMs, apiEndMs } };
        }
        case "dlm":
            return runDlmSequence(f, params);
        case "seed":
            return f.runScript(SEED, { ...f.scriptEnv(), SEED_MYSQL_CNF: f.live.cnf, SEED_MOUNTS: mounts, SEED_HOLD_LOCK: "true" }, limit);
        default: {
            // <method>/<client>, or crash-recovery, whose call curl sends.
            const [quiesce, client = "curl"] = variant.split("/");
            const env = f.scriptEnv({ ...params, quiesce, apiClient: client === "curl" ? "curl" : "aws-cli" });
            const cli = client === "curl" ? undefined : clis[client.slice(4) as "v1" | "v2"];
            if (cli) env.PATH = `${cli.dir}:${env.PATH}`;
            return f.runScript(SCRIPT_COPY, env, limit);
        }
    }
}

async function runOnce(f: Fixture, variant: Variant, volumes: number, latencyMs: number, clis: ReturnType<typeof installedClis>): Promise<Sample> {
    const writer = f.startWriter();
    await writer.waitForCommits(20);
    await sleep(200);
    const started = Date.now();
    const result = await runVariant(f, variant, clis);
    const ended = Date.now();
    await sleep(200);
    await writer.stop();
    if (result.code !== 0) {
        throw new Error(`${variant} run failed (${result.signal ? `signal ${result.signal}` : `exit ${result.code}`}): ${result.stderr.slice(-2000)}`);
    }
    if (variant === "crash-recovery") {
        const s = result.summary as unknown as Record<string, number>;
        Object.assign(crashRecoveryWindow, { beforeCallMs: s.apiStartMs - started, afterAnswerMs: ended - s.apiEndMs });
    }
    const events = writer.commits;
    const dbStall = stall(events, "db", started, ended);
    const sample: Sample = { variant, volumes, latencyMs, dbStallMs: dbStall.ms, fileStallMs: stall(events, "file", started, ended).ms };
    const call = result.summary as { apiStartMs?: number; apiEndMs?: number };
    if (variant !== "seed" && variant !== "dlm" && call.apiStartMs && call.apiEndMs) {
        sample.dbStallOverlapsCall = dbStall.fromMs <= call.apiEndMs && dbStall.toMs >= call.apiStartMs;
    }
    if (variant !== "seed" && variant !== "dlm" && variant !== "double-only") {
        const s = result.summary as unknown as Record<string, number>;
        const quiesced = s.allFrozenAtMs || s.lockedAtMs || s.apiStartMs;
        sample.phases = {
            lockAcquire: s.lockedAtMs ? s.lockedAtMs - s.lockRequestedAtMs : 0,
            binlogAndFreeze: s.lockedAtMs ? quiesced - s.lockedAtMs : 0,
            buildRequest: s.apiStartMs - quiesced,
            apiCall: s.apiEndMs - s.apiStartMs,
            thaw: s.thawedAtMs ? s.thawedAtMs - s.apiEndMs : 0,
            unlock: s.unlockedAtMs ? s.unlockedAtMs - (s.thawedAtMs || s.apiEndMs) : 0,
            lockHeld: s.lockHeldMs,
            frozen: s.frozenMs,
        };
    }
    return sample;
}

/** The README's view of the rows: db-stall medians (ms), a line per volume count and latency, a column per variant. */
function medianMatrix(rows: Row[]): string {
    const variants = [...new Set(rows.map((r) => r.variant))];
    const cells = [...new Set(rows.map((r) => `${r.volumes}|${r.latencyMs}`))];
    return [
        `| volumes | API latency | ${variants.join(" | ")} |`,
        `| --- | --- |${" --- |".repeat(variants.length)}`,
        ...cells.map((cell) => {
            const [volumes, latencyMs] = cell.split("|").map(Number);
            const medians = variants.map(
                (v) => rows.find((r) => r.variant === v && r.volumes === volumes && r.latencyMs === latencyMs)?.stalls.dbMedianMs ?? "-",
            );
            return `| ${volumes} | ${latencyMs} ms | ${medians.join(" | ")} |`;
        }),
    ].join("\n");
}

async function main(): Promise<void> {
    const matrixOf = process.argv.indexOf("--matrix");
    if (matrixOf >= 0) {
        // Prints the median matrix of a results file, e.g. bench/results/write-stall-mysql.json, without running.
        const results = JSON.parse(fs.readFileSync(process.argv[matrixOf + 1], "utf8")) as { rows: Row[] };
        process.stdout.write(`${medianMatrix(results.rows)}\n`);
        return;
    }
    const clis = installedClis();
    const args = parseArgs(process.argv.slice(2), clis);
    requirePrerequisites();
    const samples: Sample[] = [];
    for (const volumes of args.volumes) {
        const f = new Fixture({ volumeCount: volumes });
        const cleanUp = () => f.thawAll();
        process.once("SIGINT", cleanUp);
        try {
            await f.setUp();
            f.makeCrashRecoveryExact();
            f.double.observe = false;
            for (const latencyMs of args.latencies) {
                f.double.latencyMs = latencyMs;
                for (let i = 0; i < args.runs; i++) {
                    // Interleaved, alternating which goes first, so drift hits both alike.
                    const order = i % 2 === 0 ? args.variants : [...args.variants].reverse();
                    for (const variant of order) {
                        const sample = await runOnce(f, variant, volumes, latencyMs, clis);
                        samples.push(sample);
                        process.stderr.write(`  ${volumes} vol, ${latencyMs} ms, ${variant}: db ${sample.dbStallMs} ms, file ${sample.fileStallMs} ms\n`);
                        f.double.reset();
                        f.double.observe = false;
                        f.double.latencyMs = latencyMs;
                    }
                }
            }
        } finally {
            f.thawAll();
            await f.tearDown();
            process.removeListener("SIGINT", cleanUp);
        }
    }
    report(args, samples, clis);
}

function report(args: Args, samples: Sample[], clis: ReturnType<typeof installedClis>): void {
    const rows: Row[] = [];
    for (const volumes of args.volumes) {
        for (const latencyMs of args.latencies) {
            const of = (variant: Variant) => samples.filter((s) => s.variant === variant && s.volumes === volumes && s.latencyMs === latencyMs);
            const seed = stalls(of("seed"));
            const doubleOnly = of("double-only").length > 0 ? stalls(of("double-only")).dbMedianMs : 0;
            for (const variant of args.variants) {
                const mine = of(variant);
                const row: Row = { volumes, latencyMs, variant, runs: mine.length, stalls: stalls(mine) };
                if (variant !== "seed") row.ratioToSeed = Number((row.stalls.dbMedianMs / Math.max(1, seed.dbMedianMs)).toFixed(3));
                const target = targetMs(variant, latencyMs, doubleOnly);
                if (target !== undefined) {
                    row.targetMs = target;
                    row.met = row.stalls.dbMedianMs <= target;
                }
                const withCall = mine.filter((s) => s.dbStallOverlapsCall !== undefined);
                if (withCall.length > 0) row.dbStallOverlapsCall = { runs: withCall.filter((s) => s.dbStallOverlapsCall).length, of: withCall.length };
                if (mine[0]?.phases) {
                    row.phasesMedianMs = Object.fromEntries(Object.keys(mine[0].phases).map((k) => [k, median(mine.map((s) => s.phases![k]))]));
                }
                rows.push(row);
            }
        }
    }
    const cell = (x: Stalls, kind: "db" | "file") => `${x[`${kind}MedianMs`]} / ${x[`${kind}MaxMs`]}`;
    const lines = [
        "| volumes | API latency | variant | db stall median / max (ms) | file stall median / max (ms) | db median ÷ seed's | target (median) | longest db gap overlaps the call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ...rows.map(
            (r) =>
                `| ${r.volumes} | ${r.latencyMs} ms | ${r.variant} | ${cell(r.stalls, "db")} | ${cell(r.stalls, "file")} | ` +
                `${r.ratioToSeed === undefined ? "1 (baseline)" : `${r.ratioToSeed.toFixed(2)}`} | ${r.targetMs === undefined ? "-" : `≤ ${r.targetMs} ms: ${r.met ? "met" : "NOT met"}`} | ` +
                `${r.dbStallOverlapsCall ? `${r.dbStallOverlapsCall.runs} of ${r.dbStallOverlapsCall.of} runs` : "-"} |`,
        ),
        "",
        "Where the script's runs spend the stall (medians, ms, from its timestamps):",
        "",
        "| volumes | API latency | variant | lock acquire | binlog + freeze | build request | API call | thaw | unlock | lock held | frozen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ...rows
            .filter((r) => r.phasesMedianMs)
            .map((r) => {
                const p = r.phasesMedianMs!;
                return `| ${r.volumes} | ${r.latencyMs} ms | ${r.variant} | ${p.lockAcquire} | ${p.binlogAndFreeze} | ${p.buildRequest} | ${p.apiCall} | ${p.thaw} | ${p.unlock} | ${p.lockHeld} | ${p.frozen} |`;
            }),
    ];
    const database = execFileSync(FLAVOR === "mariadb" ? "mariadbd" : "mysqld", ["--version"], { encoding: "utf8" }).trim();
    const curl = execFileSync("curl", ["--version"], { encoding: "utf8" }).split("\n")[0].split(" ").slice(0, 2).join(" ");
    const cliVersions = Object.entries(clis)
        .map(([k, v]) => `${k} ${v!.version}`)
        .join(", ");
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
    const table = lines.join("\n");
    process.stdout.write(
        `\nWrite stall during a snapshot run (${args.runs} runs each, interleaved) on ${machine}\n` +
            `database: ${database}\nclients: ${curl}; AWS CLI ${cliVersions}\n\n${table}\n\nDb-stall medians (ms):\n\n${medianMatrix(rows)}\n`,
    );
    const dir = path.join(REPO_ROOT, "bench", "results");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `write-stall-${FLAVOR}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, database, curl, clis, args, rows, samples, table }, null, 2)}\n`);
    process.stdout.write(`\nwritten: ${path.relative(REPO_ROOT, file)}\n`);
}

main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
});
