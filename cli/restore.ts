// `restore`: one run's snapshot set as new volumes, attached to an instance, with what to run there next.
// It only creates volumes (encrypted, tagged with where they came from) and attaches them: it never detaches,
// modifies or deletes a volume it did not create in this invocation, so the source instance's own volumes are
// never touched. Everything is checked before anything is created; what it created is deleted again when a
// later step fails before the volume is attached.
import { Instance, Volume, VolumeType, paginateDescribeVolumes } from "@aws-sdk/client-ec2";
import {
    AttachVolumeCommand,
    CreateVolumeCommand,
    DeleteVolumeCommand,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DescribeVolumesCommand,
} from "@aws-sdk/client-ec2";
import { CliError, Context, EXIT, aws, awsErrorMessage, isAwsError } from "./context";
import { table } from "./format";
import { SnapshotRecord, SnapshotSet, findSnapshots, groupByRun, toRecord } from "./snapshots";
import { RESTORED_FROM_RUN_TAG_KEY } from "../components/snapshotTags";

/** Device names EC2 recommends for attached EBS volumes on Linux, in the order new ones are chosen. */
export const FREE_DEVICE_NAMES = "fghijklmnop".split("").map((c) => `/dev/sd${c}`);
/** A device name as --device-map takes it: /dev/sd[b-z] or /dev/xvd[b-z] (a is the root device's). */
export const DEVICE_NAME = /^\/dev\/(sd|xvd)[b-z]$/;
const VOLUME_TYPES: string[] = Object.values(VolumeType);

export interface RestoreOptions {
    runId: string;
    /** The instance to attach to (in its Availability Zone). */
    instanceId: string;
    /** When given, must be the instance's AZ. */
    availabilityZone?: string;
    /** Device per source volume id or snapshot id. */
    deviceMap: Record<string, string>;
    /** Default: the source volume's type when it still exists, else gp3. */
    volumeType?: string;
    /** A KMS key for the new volumes (else the snapshot's key, or the account's default EBS key). */
    kmsKeyId?: string;
    dryRun: boolean;
    /** Restore a set that has fewer snapshots than the run took (its VolumeCount tag): the copy is then not whole. */
    allowIncomplete?: boolean;
    /** How long to wait for pending snapshots, then for the volumes. */
    waitSeconds: number;
    json: boolean;
}

export interface RestoreItem {
    snapshotId: string;
    sourceVolumeId: string;
    /** Where the source volume is (was) attached on the source instance, when EC2 still knows. */
    sourceDevice?: string;
    device: string;
    /** Why this device (original, given, or chosen because the original is taken). */
    deviceReason: "original" | "given" | "free";
    sizeGiB?: number;
    volumeType: string;
    snapshotState: string;
    /** The source volume's provisioned IOPS and throughput, kept when the type stays (io1/io2 need IOPS). */
    iops?: number;
    throughputMiBps?: number;
    volumeId?: string;
}

export interface RestorePlan {
    runId: string;
    sourceInstanceId: string;
    instanceId: string;
    availabilityZone: string;
    items: RestoreItem[];
    /** The run's tags that say how to check and use the copy. */
    tags: Record<string, string>;
}

const normalize = (device: string) =>
    device
        .replace(/^\/dev\//, "")
        .replace(/^xvd/, "sd")
        .replace(/^sd([a-z])\d*$/, "sd$1");

/**
 * Chooses each snapshot's device on the target instance: the one given (--device-map, by source volume or snapshot
 * id), else the source volume's original device when it is free there, else the first free one of
 * FREE_DEVICE_NAMES. Throws (bad input) when a given device is malformed, taken or given twice.
 */
export function chooseDevices(
    snapshots: { snapshotId: string; volumeId: string; sourceDevice?: string }[],
    deviceMap: Record<string, string>,
    devicesInUse: string[],
): { device: string; reason: RestoreItem["deviceReason"] }[] {
    const taken = new Set(devicesInUse.map(normalize));
    const known = new Set(snapshots.flatMap((s) => [s.volumeId, s.snapshotId]));
    for (const [key, device] of Object.entries(deviceMap)) {
        if (!known.has(key))
            throw new CliError(
                `--device-map ${key}=${device}: ${key} is neither a volume nor a snapshot of this run (${[...known].join(", ")})`,
                EXIT.badInput,
            );
        if (!DEVICE_NAME.test(device))
            throw new CliError(`--device-map ${key}=${device}: expected a device name /dev/sd[b-z] or /dev/xvd[b-z], e.g. /dev/sdg`, EXIT.badInput);
        if (taken.has(normalize(device)))
            throw new CliError(`--device-map ${key}=${device}: ${device} is in use on the instance (in use: ${devicesInUse.join(", ")})`, EXIT.badInput);
    }
    const given = snapshots.map((s) => deviceMap[s.volumeId] ?? deviceMap[s.snapshotId]);
    const givenTwice = given.find((d, i) => d !== undefined && given.findIndex((e) => e !== undefined && normalize(e) === normalize(d)) !== i);
    if (givenTwice) throw new CliError(`--device-map: ${givenTwice} is given for two snapshots`, EXIT.badInput);
    for (const d of given) if (d) taken.add(normalize(d));
    return snapshots.map((s, i) => {
        if (given[i]) return { device: given[i]!, reason: "given" };
        if (s.sourceDevice && DEVICE_NAME.test(s.sourceDevice) && !taken.has(normalize(s.sourceDevice))) {
            taken.add(normalize(s.sourceDevice));
            return { device: s.sourceDevice, reason: "original" };
        }
        const free = FREE_DEVICE_NAMES.find((d) => !taken.has(normalize(d)));
        if (!free)
            throw new CliError(
                `no free device name left on the instance among ${FREE_DEVICE_NAMES[0]}..${FREE_DEVICE_NAMES.at(-1)}: give them with --device-map`,
                EXIT.badInput,
            );
        taken.add(normalize(free));
        return { device: free, reason: "free" };
    });
}

async function describeInstance(ctx: Context, instanceId: string): Promise<Instance> {
    try {
        const out = await ctx.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const instance = out.Reservations?.[0]?.Instances?.[0];
        if (instance) return instance;
    } catch (error) {
        if (!isAwsError(error, "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")) throw awsErrorMessage("ec2 DescribeInstances", error);
    }
    throw new CliError(`--instance ${instanceId}: no such instance in this account and Region`, EXIT.badInput);
}

/** The source volumes EC2 still knows (a deleted one is simply absent: filtered, not named). */
async function describeSourceVolumes(ctx: Context, volumeIds: string[]): Promise<Map<string, Volume>> {
    return aws("ec2 DescribeVolumes", async () => {
        const found = new Map<string, Volume>();
        for await (const page of paginateDescribeVolumes({ client: ctx.clients.ec2 }, { Filters: [{ Name: "volume-id", Values: volumeIds }] })) {
            for (const v of page.Volumes ?? []) found.set(v.VolumeId ?? "", v);
        }
        return found;
    });
}

/** Checks everything and decides every volume and device; creates nothing. */
export async function planRestore(ctx: Context, options: RestoreOptions): Promise<RestorePlan> {
    const sets = groupByRun(await findSnapshots(ctx, { runId: options.runId }));
    const set: SnapshotSet | undefined = sets[0];
    if (!set)
        throw new CliError(`no snapshot of this tool has RunId ${options.runId} in this account and Region (\`snapshots\` lists the runs)`, EXIT.badInput);
    const failed = set.snapshots.filter((s) => s.state === "error");
    if (failed.length > 0)
        throw new CliError(
            `run ${options.runId}: snapshot ${failed.map((s) => s.snapshotId).join(", ")} failed (state error): the set cannot be restored`,
            EXIT.awsError,
        );
    if (!set.complete && !options.allowIncomplete) {
        throw new CliError(
            `run ${options.runId}: ${set.snapshots.length} of its ${set.volumeCount} snapshots exist (one was deleted, or DLM did not take it): ` +
                "a copy of part of the instance is not the database it backed up; --allow-incomplete restores what there is",
            EXIT.badInput,
        );
    }
    const sources = new Set(set.snapshots.map((s) => s.tags.InstanceId));
    if (sources.size !== 1)
        throw new CliError(
            `run ${options.runId}: its snapshots name different instances (${[...sources].join(", ")}); refusing to restore a mixed set`,
            EXIT.badInput,
        );

    const instance = await describeInstance(ctx, options.instanceId);
    const state = instance.State?.Name ?? "unknown";
    if (!["running", "stopped"].includes(state))
        throw new CliError(`--instance ${options.instanceId} is ${state}: volumes attach to a running or stopped instance`, EXIT.badInput);
    const availabilityZone = instance.Placement?.AvailabilityZone ?? "";
    if (options.availabilityZone && options.availabilityZone !== availabilityZone) {
        throw new CliError(
            `--az ${options.availabilityZone}: ${options.instanceId} is in ${availabilityZone}, and a volume attaches only to an instance in its own Availability Zone; leave --az out or give ${availabilityZone}`,
            EXIT.badInput,
        );
    }
    if (options.volumeType && !VOLUME_TYPES.includes(options.volumeType)) {
        throw new CliError(`--volume-type ${options.volumeType}: expected one of ${VOLUME_TYPES.join(", ")}`, EXIT.badInput);
    }
    const inUse = [...new Set([instance.RootDeviceName, ...(instance.BlockDeviceMappings ?? []).map((m) => m.DeviceName)].filter((d): d is string => !!d))];
    const sourceVolumes = await describeSourceVolumes(
        ctx,
        set.snapshots.map((s) => s.volumeId),
    );
    const sourceInstanceId = set.instanceId;
    const withSource = set.snapshots.map((s) => ({
        snapshot: s,
        snapshotId: s.snapshotId,
        volumeId: s.volumeId,
        sourceDevice: sourceVolumes.get(s.volumeId)?.Attachments?.find((a) => a.InstanceId === sourceInstanceId)?.Device,
    }));
    const devices = chooseDevices(withSource, options.deviceMap, inUse);
    const items = withSource.map(({ snapshot, sourceDevice }, i): RestoreItem => {
        const source = sourceVolumes.get(snapshot.volumeId);
        const volumeType = options.volumeType ?? source?.VolumeType ?? "gp3";
        const sameType = source?.VolumeType === volumeType;
        const iops = sameType && ["io1", "io2", "gp3"].includes(volumeType) ? source?.Iops : undefined;
        if ((volumeType === "io1" || volumeType === "io2") && iops === undefined) {
            throw new CliError(
                `--volume-type ${volumeType}: a ${volumeType} volume needs its IOPS, known here only from a source volume of that type ` +
                    `(${snapshot.volumeId} is gone or of another type); give gp3 (its default performance) or gp2`,
                EXIT.badInput,
            );
        }
        return {
            snapshotId: snapshot.snapshotId,
            sourceVolumeId: snapshot.volumeId,
            sourceDevice,
            device: devices[i].device,
            deviceReason: devices[i].reason,
            sizeGiB: snapshot.volumeSize,
            snapshotState: snapshot.state,
            volumeType,
            iops,
            throughputMiBps: sameType && volumeType === "gp3" ? source?.Throughput : undefined,
        };
    });
    return { runId: set.runId, sourceInstanceId, instanceId: options.instanceId, availabilityZone, items, tags: set.snapshots[0].tags };
}

async function waitForSnapshots(ctx: Context, plan: RestorePlan, deadline: number): Promise<void> {
    let pending = plan.items.filter((i) => i.snapshotState !== "completed").map((i) => i.snapshotId);
    while (pending.length > 0) {
        if (ctx.now() >= deadline)
            throw new CliError(
                `snapshots still pending after the wait (${pending.join(", ")}); nothing was created: run restore again later, or give a longer --wait-seconds`,
                EXIT.timedOut,
            );
        await ctx.sleep(ctx.pollMs);
        const out = await aws("ec2 DescribeSnapshots", () => ctx.clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: pending })));
        const records: SnapshotRecord[] = (out.Snapshots ?? []).map(toRecord);
        const failed = records.filter((s) => s.state === "error");
        if (failed.length > 0)
            throw new CliError(`snapshot ${failed.map((s) => s.snapshotId).join(", ")} failed while pending; nothing was created`, EXIT.awsError);
        ctx.err(`waiting for snapshots: ${records.map((s) => `${s.snapshotId} ${s.state} ${s.progress}`).join(", ")}`);
        pending = records.filter((s) => s.state !== "completed").map((s) => s.snapshotId);
    }
}

/**
 * Polls the volumes until `ready`. By filter, not by id: EC2 is eventually consistent, and DescribeVolumes by id of
 * a volume created a moment ago can fail with InvalidVolume.NotFound; a filter answers without it until it shows.
 */
async function waitForVolumes(ctx: Context, volumeIds: string[], ready: (v: Volume) => boolean, what: string, deadline: number): Promise<void> {
    for (;;) {
        const out = await aws("ec2 DescribeVolumes", () =>
            ctx.clients.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: "volume-id", Values: volumeIds }] })),
        );
        const volumes = out.Volumes ?? [];
        const broken = volumes.filter((v) => v.State === "error");
        if (broken.length > 0) throw new CliError(`volume ${broken.map((v) => v.VolumeId).join(", ")} is in state error`, EXIT.awsError);
        if (volumes.length === volumeIds.length && volumes.every(ready)) return;
        if (ctx.now() >= deadline)
            throw new CliError(
                `volumes not ${what} within the wait: ${volumes
                    .filter((v) => !ready(v))
                    .map((v) => `${v.VolumeId} ${v.State}`)
                    .join(", ")}`,
                EXIT.timedOut,
            );
        ctx.err(`waiting for volumes to be ${what}: ${volumes.map((v) => `${v.VolumeId} ${v.State}`).join(", ")}`);
        await ctx.sleep(ctx.pollMs);
    }
}

/** Deletes volumes this invocation created and did not attach; says what it could not delete. */
async function deleteCreated(ctx: Context, volumeIds: string[]): Promise<void> {
    for (const volumeId of volumeIds) {
        try {
            await ctx.clients.ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
            ctx.err(`deleted ${volumeId} (created by this restore, not attached)`);
        } catch (error) {
            ctx.err(`could NOT delete ${volumeId} (created by this restore): ${(error as Error).message}; delete it by hand`);
        }
    }
}

/** Creates the volumes, waits for them, attaches them. */
export async function executeRestore(ctx: Context, plan: RestorePlan, options: Pick<RestoreOptions, "kmsKeyId" | "waitSeconds">): Promise<RestorePlan> {
    const deadline = ctx.now() + options.waitSeconds * 1000;
    await waitForSnapshots(ctx, plan, deadline);
    const created: string[] = [];
    const attached: string[] = [];
    try {
        for (const item of plan.items) {
            const out = await aws(`ec2 CreateVolume from ${item.snapshotId}`, () =>
                ctx.clients.ec2.send(
                    new CreateVolumeCommand({
                        SnapshotId: item.snapshotId,
                        AvailabilityZone: plan.availabilityZone,
                        VolumeType: item.volumeType as VolumeType,
                        ...(item.iops !== undefined ? { Iops: item.iops } : {}),
                        ...(item.throughputMiBps !== undefined ? { Throughput: item.throughputMiBps } : {}),
                        Encrypted: true,
                        ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
                        TagSpecifications: [
                            {
                                ResourceType: "volume",
                                Tags: [
                                    { Key: "Name", Value: `restore ${plan.runId} ${item.sourceVolumeId}` },
                                    { Key: "RestoredFromSnapshot", Value: item.snapshotId },
                                    { Key: RESTORED_FROM_RUN_TAG_KEY, Value: plan.runId },
                                    { Key: "RestoredFromVolume", Value: item.sourceVolumeId },
                                ],
                            },
                        ],
                    }),
                ),
            );
            item.volumeId = out.VolumeId!;
            created.push(item.volumeId);
            ctx.err(`created ${item.volumeId} from ${item.snapshotId}`);
        }
        await waitForVolumes(ctx, created, (v) => v.State === "available", "available", deadline);
        for (const item of plan.items) {
            await aws(`ec2 AttachVolume ${item.volumeId} to ${plan.instanceId} at ${item.device}`, () =>
                ctx.clients.ec2.send(new AttachVolumeCommand({ VolumeId: item.volumeId, InstanceId: plan.instanceId, Device: item.device })),
            );
            attached.push(item.volumeId!);
            ctx.err(`attaching ${item.volumeId} at ${item.device}`);
        }
        await waitForVolumes(
            ctx,
            created,
            (v) => v.Attachments?.some((a) => a.InstanceId === plan.instanceId && a.State === "attached") === true,
            `attached to ${plan.instanceId}`,
            ctx.now() + Math.max(options.waitSeconds, 300) * 1000,
        );
    } catch (error) {
        const unattached = created.filter((v) => !attached.includes(v));
        if (unattached.length > 0) await deleteCreated(ctx, unattached);
        if (attached.length > 0) ctx.err(`left attached to ${plan.instanceId} (detach and delete them when done): ${attached.join(", ")}`);
        throw error;
    }
    return plan;
}

/** What to run on the instance next: find the devices, mount and verify with restore-verify.sh. */
export function nextSteps(plan: RestorePlan): string[] {
    const t = plan.tags;
    const expect = t.BinlogFile && t.BinlogPosition ? ` SSM_expectBinlogFile=${t.BinlogFile} SSM_expectBinlogPosition=${t.BinlogPosition}` : "";
    return [
        `On ${plan.instanceId}: \`lsblk -o NAME,SERIAL,SIZE\` shows each new volume (on Nitro as an NVMe device whose serial is the volume id without its dash).`,
        `The source had these filesystems frozen: ${t.FrozenMounts ?? "-"}${t.UnfrozenMounts && t.UnfrozenMounts !== "none" ? `; crash-consistent only: ${t.UnfrozenMounts}` : ""}.`,
        `Verify the copy before using it (as root; mounts are <device>=<empty directory>):`,
        `  sudo SSM_mounts="<device>=/restore/data" SSM_datadir=/restore/data/<datadir> SSM_binlogDir=/restore/data/<binlog dir>${expect} bash restore-verify.sh`,
        ...(t.ConsistencyMethod === "crash-recovery"
            ? ["(crash-recovery snapshot: no exact binlog position to expect; the server's crash recovery sets it)"]
            : []),
    ];
}

export async function restoreCommand(ctx: Context, options: RestoreOptions): Promise<number> {
    const plan = await planRestore(ctx, options);
    const rows = () =>
        plan.items.map((i) => [
            i.snapshotId,
            i.sourceVolumeId,
            i.sourceDevice ?? "-",
            i.volumeId ?? "(new)",
            i.device,
            i.deviceReason,
            i.sizeGiB ?? "-",
            i.volumeType,
            i.snapshotState,
        ]);
    const headers = ["SNAPSHOT", "SOURCE VOLUME", "SOURCE DEVICE", "NEW VOLUME", "DEVICE", "WHY", "GiB", "TYPE", "SNAPSHOT STATE"];
    if (options.dryRun) {
        if (options.json) ctx.out(JSON.stringify({ dryRun: true, ...plan }, null, 2));
        else {
            ctx.out(
                `Plan (dry run, nothing created): run ${plan.runId} of ${plan.sourceInstanceId} -> ${plan.instanceId} in ${plan.availabilityZone}, encrypted volumes`,
            );
            ctx.out(table(headers, rows()));
        }
        return EXIT.ok;
    }
    ctx.err(`restoring run ${plan.runId} of ${plan.sourceInstanceId} to ${plan.instanceId} in ${plan.availabilityZone}`);
    await executeRestore(ctx, plan, options);
    if (options.json) {
        ctx.out(JSON.stringify({ dryRun: false, ...plan }, null, 2));
    } else {
        ctx.out(table(headers, rows()));
        ctx.out("");
        for (const line of nextSteps(plan)) ctx.out(line);
    }
    return EXIT.ok;
}
