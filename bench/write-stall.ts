// Benchmark: the application's write stall during a snapshot run, ours against the seed's sequence.
//
// On the script tests' real fixture (MariaDB on loop-mounted ext4/xfs, real fsfreeze, the IMDS/EC2 double)
// with 1, 2 and 4 data volumes and a CreateSnapshot(s) latency of 0 and 200 ms, it runs
//   ours: scripts/consistent-snapshot.sh (quiesce=ftwrl, the default)
//   backup-lock: the same with quiesce=backup-lock (MariaDB's BACKUP STAGE up to BLOCK_COMMIT)
//   seed: the blog's sequence (IMDS + describe + one create-snapshot CLI call per volume inside the freeze),
//         with the lock held correctly in one session so that only the sequence differs
//   dlm:  Data Lifecycle Manager's sequence at its fastest: our pre-script, DLM's CreateSnapshots called from
//         outside the moment the pre-script exits, our post-script right after (real DLM adds its own
//         scheduling and SSM dispatch time between the two scripts, which nothing here can measure)
// at least 5 times each, interleaved, while a writer commits to InnoDB+MyISAM and appends+fsyncs a file
// every ~5 ms. The stall is the longest gap the writer sees between two acknowledged writes during the run.
// Prints a table of median and max stalls and the seed/ours ratio, and writes it as JSON to bench/results/.
//
// Run as root: npm run bench  (options: --runs N, --volumes 1,2,4, --latencies 0,200, --variants ours,backup-lock,seed,dlm)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Fixture, REPO_ROOT, SCRIPT, requirePrerequisites, sleep } from "../tests/script/fixture";

const SEED = path.join(REPO_ROOT, "tests", "script", "seed-sequence.sh");

type Variant = "ours" | "backup-lock" | "seed" | "dlm";
const VARIANTS: Variant[] = ["ours", "backup-lock", "seed", "dlm"];
interface Args { runs: number; volumes: (1 | 2 | 4)[]; latencies: number[]; variants: Variant[] }
interface Stalls { dbMedianMs: number; dbMaxMs: number; fileMedianMs: number; fileMaxMs: number }
interface Row {
    volumes: number; latencyMs: number; runs: number; ours: Stalls; backupLock?: Stalls; seed?: Stalls; dlm?: Stalls;
    ourPhasesMedianMs: Record<string, number>; backupLockPhasesMedianMs?: Record<string, number>;
}
interface Sample {
    variant: Variant;
    volumes: number;
    latencyMs: number;
    dbStallMs: number;
    fileStallMs: number;
    /** Ours and backup-lock: where the stall went, from the script's own timestamps. */
    phases?: Record<string, number>;
}

function parseArgs(argv: string[]): Args {
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
    const variants = get("variants", "ours,backup-lock,seed,dlm").split(",") as Variant[];
    if (!variants.includes("ours") || variants.some((v) => !VARIANTS.includes(v))) {
        throw new Error("--variants takes ours (the baseline, required), backup-lock, seed and/or dlm");
    }
    return { runs, volumes, latencies, variants };
}

/** Longest gap between consecutive writer events of a kind that overlaps [from, to]. */
function stall(events: { kind: string; atMs: number }[], kind: string, from: number, to: number): number {
    const times = events.filter((e) => e.kind === kind).map((e) => e.atMs).sort((a, b) => a - b);
    let longest = 0;
    for (let i = 1; i < times.length; i++) {
        if (times[i] >= from && times[i - 1] <= to) longest = Math.max(longest, times[i] - times[i - 1]);
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
async function runDlmSequence(f: Fixture, params: Record<string, string>): Promise<Awaited<ReturnType<Fixture["runScript"]>>> {
    const executionId = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    const pre = await f.runScript(SCRIPT, f.scriptEnv({ ...params, command: "pre-script", executionId }), { killAfterMs: 120000 });
    if (pre.code !== 0) return pre;
    await f.double.dlmCreateSnapshots();
    return f.runScript(SCRIPT, f.scriptEnv({ ...params, command: "post-script", executionId }), { killAfterMs: 120000 });
}

async function runOnce(f: Fixture, variant: Variant, volumes: number, latencyMs: number): Promise<Sample> {
    const writer = f.startWriter();
    await writer.waitForCommits(20);
    await sleep(200);
    const mounts = f.freezableMounts.join(" ");
    const params = { freezeMounts: mounts, maxFreezeSeconds: "60", lockTimeoutSeconds: "5" };
    const started = Date.now();
    const result = variant === "dlm" ? await runDlmSequence(f, params)
        : variant === "ours" ? await f.runScript(SCRIPT, f.scriptEnv(params), { killAfterMs: 120000 })
            : variant === "backup-lock" ? await f.runScript(SCRIPT, f.scriptEnv({ ...params, quiesce: "backup-lock" }), { killAfterMs: 120000 })
            : await f.runScript(SEED, { ...f.scriptEnv(), SEED_MYSQL_CNF: f.live.cnf, SEED_MOUNTS: mounts, SEED_HOLD_LOCK: "true" }, { killAfterMs: 120000 });
    const ended = Date.now();
    await sleep(200);
    await writer.stop();
    if (result.code !== 0) throw new Error(`${variant} run failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
    const events = writer.commits;
    const sample: Sample = {
        variant, volumes, latencyMs,
        dbStallMs: stall(events, "db", started, ended),
        fileStallMs: stall(events, "file", started, ended),
    };
    if (variant === "ours" || variant === "backup-lock") {
        const s = result.summary as unknown as Record<string, number>;
        sample.phases = {
            lockAcquire: s.lockedAtMs - s.lockRequestedAtMs,
            binlogAndFreeze: s.allFrozenAtMs - s.lockedAtMs,
            buildRequest: s.apiStartMs - s.allFrozenAtMs,
            apiCall: s.apiEndMs - s.apiStartMs,
            thaw: s.thawedAtMs - s.apiEndMs,
            unlock: s.unlockedAtMs - s.thawedAtMs,
            lockHeld: s.lockHeldMs,
            frozen: s.frozenMs,
        };
    }
    return sample;
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    requirePrerequisites();
    const samples: Sample[] = [];
    for (const volumes of args.volumes) {
        const f = new Fixture({ volumeCount: volumes });
        const cleanUp = () => f.thawAll();
        process.once("SIGINT", cleanUp);
        try {
            await f.setUp();
            f.double.observe = false;
            for (const latencyMs of args.latencies) {
                f.double.latencyMs = latencyMs;
                for (let i = 0; i < args.runs; i++) {
                    // Interleaved, alternating which goes first, so drift hits both alike.
                    const order = i % 2 === 0 ? args.variants : [...args.variants].reverse();
                    for (const variant of order) {
                        const sample = await runOnce(f, variant, volumes, latencyMs);
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
    report(args, samples);
}

function report(args: Args, samples: Sample[]): void {
    const rows: Row[] = [];
    for (const volumes of args.volumes) {
        for (const latencyMs of args.latencies) {
            const of = (variant: string) => samples.filter((s) => s.variant === variant && s.volumes === volumes && s.latencyMs === latencyMs);
            const ours = of("ours");
            const phasesOf = (variant: Variant) => {
                const of_ = of(variant);
                if (of_.length === 0) return undefined;
                const phases: Record<string, number> = {};
                for (const key of Object.keys(of_[0].phases ?? {})) phases[key] = median(of_.map((s) => s.phases![key]));
                return phases;
            };
            const optional = (variant: Variant) => (of(variant).length > 0 ? stalls(of(variant)) : undefined);
            rows.push({
                volumes, latencyMs, runs: ours.length, ours: stalls(ours), backupLock: optional("backup-lock"), seed: optional("seed"),
                dlm: optional("dlm"), ourPhasesMedianMs: phasesOf("ours")!, backupLockPhasesMedianMs: phasesOf("backup-lock"),
            });
        }
    }
    const ratio = (other: Stalls | undefined, r: Row) => (other ? `${(other.dbMedianMs / Math.max(1, r.ours.dbMedianMs)).toFixed(1)}×` : "-");
    const cell = (x: Stalls | undefined, kind: "db" | "file") => (x ? `${x[`${kind}MedianMs`]} / ${x[`${kind}MaxMs`]} ms` : "-");
    const lines = [
        "| volumes | API latency | ours (ftwrl) db stall median / max | ours file stall median / max | backup-lock db stall median / max | backup-lock/ours (db median) | seed db stall median / max | seed file stall median / max | seed/ours (db median) | dlm sequence db stall median / max | dlm/ours (db median) | ours: median ≤ latency + 100 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ...rows.map((r) => `| ${r.volumes} | ${r.latencyMs} ms | ${cell(r.ours, "db")} | ${cell(r.ours, "file")} | ` +
            `${cell(r.backupLock, "db")} | ${ratio(r.backupLock, r)} | ` +
            `${cell(r.seed, "db")} | ${cell(r.seed, "file")} | ${ratio(r.seed, r)} | ${cell(r.dlm, "db")} | ${ratio(r.dlm, r)} | ` +
            `${r.ours.dbMedianMs <= r.latencyMs + 100 ? "yes" : "no"} |`),
        "",
        "Where ours and backup-lock spend the stall (medians, ms, from the script's timestamps):",
        "",
        "| volumes | API latency | method | lock acquire | binlog + freeze | build request | API call | thaw | unlock | lock held | frozen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ...rows.flatMap((r) => [["ftwrl", r.ourPhasesMedianMs], ["backup-lock", r.backupLockPhasesMedianMs]].flatMap(([method, p]) => {
            if (!p || typeof p === "string") return [];
            return [`| ${r.volumes} | ${r.latencyMs} ms | ${method} | ${p.lockAcquire} | ${p.binlogAndFreeze} | ${p.buildRequest} | ${p.apiCall} | ${p.thaw} | ${p.unlock} | ${p.lockHeld} | ${p.frozen} |`];
        })),
    ];
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
    const table = lines.join("\n");
    process.stdout.write(`\nWrite stall during a snapshot run (${args.runs} runs each, interleaved) on ${machine}\n\n${table}\n`);
    const dir = path.join(REPO_ROOT, "bench", "results");
    fs.mkdirSync(dir, { recursive: true });
    const result = { date: new Date().toISOString(), machine, args, rows, samples, table };
    fs.writeFileSync(path.join(dir, "write-stall.json"), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwritten: bench/results/write-stall.json\n`);
}

main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
});
