// `snapshots`: this tool's snapshot sets, one per run. A run's snapshots are one point in time (CreateSnapshots
// across the instance's volumes, or DLM's multi-volume snapshot between the pre- and post-script), tagged with the
// run's RunId by the script (CreatedBy=consistent-snapshots) or, for DLM's, by its post-script (CreatedByPolicy).
import { DescribeSnapshotsCommandInput, Filter, paginateDescribeSnapshots, Snapshot } from "@aws-sdk/client-ec2";
import { CREATED_BY_TAG, LIFECYCLE_POLICY_TAG } from "../components/snapshotTags";
import { CliError, Context, EXIT, aws } from "./context";
import { isoTime, table } from "./format";

/** The script's RunId: cs-<UTC start, basic ISO 8601>-<pid>. */
export const RUN_ID = /^cs-\d{8}T\d{6}Z-\d{1,10}$/;
export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export interface SnapshotRecord {
    snapshotId: string;
    volumeId: string;
    state: string;
    progress: string;
    startTime?: Date;
    volumeSize?: number;
    encrypted: boolean;
    kmsKeyId?: string;
    tags: Record<string, string>;
}

/** One run's snapshots. */
export interface SnapshotSet {
    runId: string;
    instanceId: string;
    /** The earliest snapshot's start: the run's instant. */
    startTime?: Date;
    /** dlm: taken by Data Lifecycle Manager (its pre- and post-script); script: by the script (window or run now). */
    takenBy: "dlm" | "script";
    consistencyMethod: string;
    /** completed when every snapshot is; error when one failed; else pending. */
    state: "completed" | "pending" | "error";
    /** How many volumes the run snapshotted (its VolumeCount tag; absent on runs made before the tag existed). */
    volumeCount?: number;
    /** False when fewer snapshots carry the RunId than the run made (one deleted, or one DLM did not take). */
    complete: boolean;
    snapshots: SnapshotRecord[];
}

/** Whether this tool took the snapshot (the script's CreatedBy tag, or the stack's DLM policy's CreatedByPolicy). */
export function isOurs(tags: Record<string, string>): boolean {
    return tags[CREATED_BY_TAG.key] === CREATED_BY_TAG.value || tags[LIFECYCLE_POLICY_TAG.key] === LIFECYCLE_POLICY_TAG.value;
}

export function toRecord(s: Snapshot): SnapshotRecord {
    return {
        snapshotId: s.SnapshotId ?? "",
        volumeId: s.VolumeId ?? "",
        state: s.State ?? "unknown",
        progress: s.Progress ?? "",
        startTime: s.StartTime,
        volumeSize: s.VolumeSize,
        encrypted: s.Encrypted === true,
        kmsKeyId: s.KmsKeyId,
        tags: Object.fromEntries((s.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
    };
}

/** Groups snapshots by RunId, newest run first; within a run, by volume id. */
export function groupByRun(snapshots: SnapshotRecord[]): SnapshotSet[] {
    const runs = new Map<string, SnapshotRecord[]>();
    for (const s of snapshots) {
        const runId = s.tags.RunId;
        if (!runId || !isOurs(s.tags)) continue;
        runs.set(runId, [...(runs.get(runId) ?? []), s]);
    }
    const time = (d?: Date) => d?.getTime() ?? 0;
    return [...runs.entries()]
        .map(([runId, members]): SnapshotSet => {
            const sorted = [...members].sort((a, b) => a.volumeId.localeCompare(b.volumeId));
            const states = new Set(sorted.map((s) => s.state));
            const counts = sorted.map((s) => Number(s.tags.VolumeCount)).filter((n) => Number.isInteger(n) && n > 0);
            const volumeCount = counts.length > 0 ? Math.max(...counts) : undefined;
            return {
                runId,
                instanceId: sorted[0].tags.InstanceId ?? "",
                startTime: sorted
                    .map((s) => s.startTime)
                    .filter((d): d is Date => d !== undefined)
                    .sort((a, b) => time(a) - time(b))[0],
                takenBy: sorted.some((s) => s.tags[LIFECYCLE_POLICY_TAG.key] === LIFECYCLE_POLICY_TAG.value) ? "dlm" : "script",
                consistencyMethod: sorted[0].tags.ConsistencyMethod ?? "",
                state: states.has("error") ? "error" : [...states].every((s) => s === "completed") ? "completed" : "pending",
                volumeCount,
                complete: volumeCount === undefined || sorted.length >= volumeCount,
                snapshots: sorted,
            };
        })
        .sort((a, b) => time(b.startTime) - time(a.startTime) || b.runId.localeCompare(a.runId));
}

/** This tool's snapshots (all pages), of one instance or one run when given. */
export async function findSnapshots(ctx: Context, filter: { instanceId?: string; runId?: string }): Promise<SnapshotRecord[]> {
    const filters: Filter[] = [{ Name: "tag-key", Values: ["RunId"] }];
    if (filter.runId) filters.push({ Name: "tag:RunId", Values: [filter.runId] });
    if (filter.instanceId) filters.push({ Name: "tag:InstanceId", Values: [filter.instanceId] });
    const input: DescribeSnapshotsCommandInput = { OwnerIds: ["self"], Filters: filters, MaxResults: 1000 };
    return aws("ec2 DescribeSnapshots", async () => {
        const found: SnapshotRecord[] = [];
        for await (const page of paginateDescribeSnapshots({ client: ctx.clients.ec2 }, input)) {
            found.push(...(page.Snapshots ?? []).map(toRecord).filter((s) => isOurs(s.tags)));
        }
        return found;
    });
}

/** The tags worth reading beside a run: how it was made consistent, and where its binlog ends. */
const SET_TAGS = [
    "ConsistencyMethod",
    "Database",
    "DatabaseVersion",
    "BinlogFile",
    "BinlogPosition",
    "GtidBinlogPos",
    "BinlogPositionBeforeCall",
    "FrozenMounts",
    "UnfrozenMounts",
    "RestoreVerifiedAt",
    "RestoreResult",
];

/** The set's last restore-drill result ("passed 2026-12-06_06.12.40"), or "-" when none was drilled. */
export function drillResult(set: SnapshotSet): string {
    const drilled = set.snapshots
        .map((s) => s.tags)
        .filter((t) => t.RestoreResult)
        .sort((a, b) => (b.RestoreVerifiedAt ?? "").localeCompare(a.RestoreVerifiedAt ?? ""));
    return drilled.length > 0 ? `${drilled[0].RestoreResult} ${drilled[0].RestoreVerifiedAt ?? ""}`.trim() : "-";
}

export interface SnapshotsOptions {
    instanceId?: string;
    runId?: string;
    /** Only runs that started at or after this time. */
    since?: Date;
    /** At most this many runs, newest first. */
    limit: number;
    json: boolean;
}

export async function snapshotsCommand(ctx: Context, options: SnapshotsOptions): Promise<number> {
    const sets = groupByRun(await findSnapshots(ctx, options))
        .filter((s) => !options.since || (s.startTime?.getTime() ?? 0) >= options.since.getTime())
        .slice(0, options.limit);
    if (options.runId && sets.length === 0) {
        throw new CliError(`no snapshot of this tool has RunId ${options.runId} in this account and Region (snapshots lists the runs there)`, EXIT.badInput);
    }
    if (options.json) {
        ctx.out(JSON.stringify(sets, null, 2));
        return EXIT.ok;
    }
    if (options.runId) {
        const set = sets[0];
        ctx.out(table(["RUN", "INSTANCE", "STARTED", "TAKEN BY", "STATE"], [[set.runId, set.instanceId, isoTime(set.startTime), set.takenBy, set.state]]));
        ctx.out("");
        ctx.out(
            table(
                ["SNAPSHOT", "VOLUME", "GiB", "STATE", "PROGRESS"],
                set.snapshots.map((s) => [s.snapshotId, s.volumeId, s.volumeSize ?? "-", s.state, s.progress || "-"]),
            ),
        );
        ctx.out("");
        const tags = set.snapshots[0].tags;
        ctx.out(
            table(
                ["TAG", "VALUE"],
                SET_TAGS.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]]),
            ),
        );
        return EXIT.ok;
    }
    ctx.out(
        table(
            ["STARTED", "RUN", "INSTANCE", "SNAPSHOTS", "STATE", "METHOD", "TAKEN BY", "BINLOG", "RESTORE DRILL"],
            sets.map((s) => {
                const t = s.snapshots[0].tags;
                return [
                    isoTime(s.startTime),
                    s.runId,
                    s.instanceId,
                    s.volumeCount === undefined ? s.snapshots.length : `${s.snapshots.length}/${s.volumeCount}${s.complete ? "" : " INCOMPLETE"}`,
                    s.state,
                    s.consistencyMethod || "-",
                    s.takenBy,
                    t.BinlogFile ? `${t.BinlogFile}:${t.BinlogPosition ?? "?"}` : "-",
                    // The drill tags every snapshot of the set it restored; the newest result of any of them.
                    drillResult(s),
                ];
            }),
            "(no snapshot of this tool here: is this the right account and Region?)",
        ),
    );
    return EXIT.ok;
}
