// The operator CLI against the AWS SDK for JavaScript v3 mocked at the client (aws-sdk-client-mock): each
// command's calls, what it prints, its exit codes, and that bad input creates nothing. The SDK's own retry on
// throttling is proved against a local HTTP double with the real client stack (the mocks bypass middleware).
import {
    AttachVolumeCommand,
    CreateVolumeCommand,
    DeleteVolumeCommand,
    DescribeInstancesCommand,
    DescribeSnapshotsCommand,
    DescribeVolumesCommand,
    DetachVolumeCommand,
    EC2Client,
    ModifyVolumeCommand,
    Snapshot,
} from "@aws-sdk/client-ec2";
import {
    AutomationExecutionStatus,
    GetAutomationExecutionCommand,
    GetAutomationExecutionCommandOutput,
    GetCommandInvocationCommand,
    ListCommandInvocationsCommand,
    ListCommandsCommand,
    SSMClient,
    SendCommandCommand,
    StartAutomationExecutionCommand,
} from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { CliError, Context, EXIT, RETRY, createClients } from "../../cli/context";
import { USAGE, cli, parseSince } from "../../cli/main";
import { FREE_DEVICE_NAMES, chooseDevices } from "../../cli/restore";
import { parseSummary } from "../../cli/runs";
import { groupByRun, toRecord } from "../../cli/snapshots";
import { REPO_ROOT } from "./mocks";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// Created in the describe's before hook, restored in its after hook: the mocks replace send() on every client.
const mockEc2 = () => mockClient(EC2Client);
const mockSsm = () => mockClient(SSMClient);
let ec2: ReturnType<typeof mockEc2>;
let ssm: ReturnType<typeof mockSsm>;

const SOURCE = "i-0aaaaaaaaaaaaaaa1";
const TARGET = "i-0bbbbbbbbbbbbbbb2";
const RUN = "cs-20261205T000012Z-4242";
const OLDER_RUN = "cs-20261204T000010Z-4100";
const DATA_VOLUME = "vol-0d000000000000001";
const LOGS_VOLUME = "vol-0d000000000000002";

function snapshot(id: string, volumeId: string, runId: string, extra: Partial<Snapshot> = {}, tags: Record<string, string> = {}): Snapshot {
    return {
        SnapshotId: id,
        VolumeId: volumeId,
        State: "completed",
        Progress: "100%",
        VolumeSize: 20,
        Encrypted: true,
        StartTime: new Date(`${runId.slice(3, 7)}-${runId.slice(7, 9)}-${runId.slice(9, 11)}T00:00:13Z`),
        Tags: Object.entries({
            CreatedBy: "consistent-snapshots",
            InstanceId: SOURCE,
            RunId: runId,
            ConsistencyMethod: "backup-stage+fsfreeze",
            BinlogFile: "mysql-bin.000042",
            BinlogPosition: "123456",
            FrozenMounts: "/var/lib/mysql /var/log/mysql",
            UnfrozenMounts: "none",
            ...tags,
        }).map(([Key, Value]) => ({ Key, Value })),
        ...extra,
    };
}

const RUN_SET = [snapshot("snap-0000000000000000a", DATA_VOLUME, RUN), snapshot("snap-0000000000000000b", LOGS_VOLUME, RUN)];

interface Captured {
    code: number;
    out: string;
    err: string;
    ctx: Context;
}

/** Runs the CLI with mocked clients and a clock that moves only when it sleeps. */
async function run(argv: string[]): Promise<Captured> {
    const out: string[] = [];
    const err: string[] = [];
    let clock = Date.parse("2026-12-05T12:00:00Z");
    let ctx: Context | undefined;
    const code = await cli(
        argv,
        () => {
            ctx = {
                clients: { ec2: new EC2Client({ region: "eu-west-1" }), ssm: new SSMClient({ region: "eu-west-1" }) },
                out: (t) => out.push(t),
                err: (t) => err.push(t),
                pollMs: 5000,
                sleep: async (ms) => {
                    clock += ms;
                },
                now: () => clock,
            };
            return ctx;
        },
        (t) => err.push(t.trimEnd()),
    );
    return { code, out: out.join("\n"), err: err.join("\n"), ctx: ctx! };
}

/** The EC2 calls made, by command name, in order. */
const ec2CallNames = () => ec2.calls().map((c) => (c.args[0] as object).constructor.name);

function noVolumeCreatedOrTouched(): void {
    const touching = ["CreateVolumeCommand", "AttachVolumeCommand", "DeleteVolumeCommand", "DetachVolumeCommand", "ModifyVolumeCommand"];
    assert.deepEqual(
        ec2CallNames().filter((n) => touching.includes(n)),
        [],
    );
}

function targetInstance(az = "eu-west-1a", devices = ["/dev/xvda"]) {
    ec2.on(DescribeInstancesCommand, { InstanceIds: [TARGET] }).resolves({
        Reservations: [
            {
                Instances: [
                    {
                        InstanceId: TARGET,
                        State: { Name: "running" },
                        Placement: { AvailabilityZone: az },
                        RootDeviceName: "/dev/xvda",
                        BlockDeviceMappings: devices.map((DeviceName, i) => ({ DeviceName, Ebs: { VolumeId: `vol-0e00000000000000${i}` } })),
                    },
                ],
            },
        ],
    });
}

function sourceVolumesStillAttached() {
    ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: [DATA_VOLUME, LOGS_VOLUME] }] }).resolves({
        Volumes: [
            {
                VolumeId: DATA_VOLUME,
                VolumeType: "gp3",
                Iops: 4000,
                Throughput: 250,
                Attachments: [{ InstanceId: SOURCE, Device: "/dev/sdf", State: "attached" }],
            },
            { VolumeId: LOGS_VOLUME, VolumeType: "io2", Iops: 6000, Attachments: [{ InstanceId: SOURCE, Device: "/dev/sdg", State: "attached" }] },
        ],
    });
}

describe("operator CLI (npx consistent-snapshots)", () => {
    before(() => {
        ec2 = mockEc2();
        ssm = mockSsm();
    });
    beforeEach(() => {
        ec2.reset();
        ssm.reset();
    });
    after(() => {
        ec2.restore();
        ssm.restore();
    });

    describe("command line", () => {
        const cases: [string[], RegExp][] = [
            [["backup"], /unknown command "backup": expected one of run, runs, snapshots, restore, verify/],
            [["snapshots", "--target", "x"], /snapshots takes no --target/],
            [["snapshots", "--bogus"], /Unknown option '--bogus'/],
            [["snapshots", "--run", "20261205"], /--run 20261205: expected a RunId such as cs-20261201T000012Z-4242/],
            [["snapshots", "--instance", "i-123"], /--instance i-123: expected an instance id/],
            [["snapshots", "--since", "yesterday"], /--since yesterday: expected a duration back from now \(30m, 24h, 7d\) or an ISO 8601 time/],
            [["snapshots", "--limit", "0"], /--limit 0: expected a whole number from 1 to 1000/],
            [["restore", "--instance", TARGET], /restore: expected one RunId .* got none/],
            [["restore", RUN], /restore: give the instance to attach the volumes to, --instance <id>/],
            [["restore", RUN, "--instance", TARGET, "--az", "west"], /--az west: expected an Availability Zone name/],
            [
                ["restore", RUN, "--instance", TARGET, "--device-map", "vol-1=/dev/sdg"],
                /--device-map vol-1=\/dev\/sdg: expected <volume or snapshot id>=<device>/,
            ],
            [
                ["restore", RUN, "--instance", TARGET, "--device-map", `${DATA_VOLUME}=/dev/nvme1n1`],
                /expected <volume or snapshot id>=<device>, e\.g\. vol-0123456789abcdef0=\/dev\/sdg/,
            ],
            [["run", "--target", "Db"], /which document\? give --document <name>, or --stack-outputs/],
            [["run", "--document", "cs-doc"], /run: give --target <tag value> or --instance <id> \(one of the two\)/],
            [["run", "--document", "cs-doc", "--target", "Db", "--instance", SOURCE], /one of the two/],
            [["run", "--document", "cs-doc", "--target", "Db", "--max-concurrency", "0"], /--max-concurrency 0: expected a count from 1/],
            [["run", "--document", "cs-doc", "--target", "Db", "--parameter", "maxFreezeSeconds"], /--parameter maxFreezeSeconds: expected <name>=<value>/],
            [["run", "--document", "x", "--target", "Db"], /--document x: expected an SSM document name/],
            [["runs", "--document", "cs-doc", "--command", "42"], /--command 42: expected an SSM command id/],
            [["runs", "--stack-outputs", "/nonexistent/outputs.json"], /--stack-outputs \/nonexistent\/outputs\.json: cannot read it/],
        ];
        for (const [argv, message] of cases) {
            it(`refuses ${argv.join(" ")} with exit 2, naming the option and the accepted form, calling nothing`, async () => {
                const result = await run(argv);
                assert.equal(result.code, EXIT.badInput, result.err);
                assert.match(result.err, message);
                assert.equal(ec2.calls().length + ssm.calls().length, 0, "called AWS");
            });
        }

        it("prints the usage with --help (exit 0) and without a command (exit 2)", async () => {
            const written: string[] = [];
            const original = process.stdout.write.bind(process.stdout);
            process.stdout.write = ((t: string) => {
                written.push(t);
                return true;
            }) as typeof process.stdout.write;
            try {
                assert.equal((await run(["--help"])).code, EXIT.ok);
                assert.equal((await run([])).code, EXIT.badInput);
            } finally {
                process.stdout.write = original;
            }
            assert.equal(written.join(""), `${USAGE}\n${USAGE}\n`);
        });

        it("reads --since as a duration back from now or an ISO time", () => {
            const now = Date.parse("2026-12-05T12:00:00Z");
            assert.equal(parseSince("7d", now)!.toISOString(), "2026-11-28T12:00:00.000Z");
            assert.equal(parseSince("90m", now)!.toISOString(), "2026-12-05T10:30:00.000Z");
            assert.equal(parseSince("2026-12-01", now)!.toISOString(), "2026-12-01T00:00:00.000Z");
            assert.equal(parseSince("2026-12-01T06:00:00+02:00", now)!.toISOString(), "2026-12-01T04:00:00.000Z");
            assert.throws(() => parseSince("2026-13-01", now), CliError);
        });

        it("takes the document and the log group from `pulumi stack output --json`", async () => {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "outputs-")), "outputs.json");
            fs.writeFileSync(
                file,
                JSON.stringify({ documentNames: ["consistent-snapshot-1a2b3c"], logGroupName: "snapshots-output-9f8e", runNowCommand: "aws ssm ..." }),
            );
            ssm.on(ListCommandsCommand).resolves({ Commands: [] });
            const result = await run(["runs", "--stack-outputs", file]);
            assert.equal(result.code, EXIT.ok, result.err);
            assert.equal(ssm.commandCalls(ListCommandsCommand)[0].args[0].input.Filters?.[0].value, "consistent-snapshot-1a2b3c");
        });
    });

    describe("snapshots", () => {
        it("groups every page of this tool's snapshots by run, newest first, leaving out others' snapshots", async () => {
            const foreign = snapshot("snap-0000000000000000f", DATA_VOLUME, RUN, {}, { CreatedBy: "someone-else" });
            const dlm = snapshot(
                "snap-0000000000000000d",
                DATA_VOLUME,
                "cs-20261203T000011Z-77",
                {},
                { CreatedBy: "", CreatedByPolicy: "consistent-snapshots" },
            );
            ec2.on(DescribeSnapshotsCommand)
                .resolvesOnce({ Snapshots: [RUN_SET[0], foreign, snapshot("snap-0000000000000000c", DATA_VOLUME, OLDER_RUN)], NextToken: "page-2" })
                .resolvesOnce({ Snapshots: [RUN_SET[1], dlm] });
            const result = await run(["snapshots", "--json"]);
            assert.equal(result.code, EXIT.ok, result.err);
            const sets = JSON.parse(result.out) as { runId: string; takenBy: string; snapshots: { snapshotId: string }[] }[];
            assert.deepEqual(
                sets.map((s) => [s.runId, s.takenBy, s.snapshots.map((x) => x.snapshotId)]),
                [
                    [RUN, "script", ["snap-0000000000000000a", "snap-0000000000000000b"]],
                    [OLDER_RUN, "script", ["snap-0000000000000000c"]],
                    ["cs-20261203T000011Z-77", "dlm", ["snap-0000000000000000d"]],
                ],
            );
            const calls = ec2.commandCalls(DescribeSnapshotsCommand);
            assert.equal(calls.length, 2, "did not follow NextToken");
            assert.deepEqual(calls[0].args[0].input.OwnerIds, ["self"]);
            assert.equal(calls[1].args[0].input.NextToken, "page-2");
        });

        it("prints one line per run, and for --run the set with its consistency and binlog tags", async () => {
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: RUN_SET });
            const list = await run(["snapshots"]);
            assert.match(
                list.out,
                new RegExp(
                    `2026-12-05T00:00:13Z\\s+${RUN}\\s+${SOURCE}\\s+2\\s+completed\\s+backup-stage\\+fsfreeze\\s+script\\s+mysql-bin\\.000042:123456\\s+-$`,
                    "m",
                ),
            );
            const one = await run(["snapshots", "--run", RUN]);
            assert.equal(one.code, EXIT.ok);
            assert.deepEqual(ec2.commandCalls(DescribeSnapshotsCommand).at(-1)!.args[0].input.Filters, [
                { Name: "tag-key", Values: ["RunId"] },
                { Name: "tag:RunId", Values: [RUN] },
            ]);
            assert.match(one.out, /BinlogPosition\s+123456/);
            assert.match(one.out, /FrozenMounts\s+\/var\/lib\/mysql \/var\/log\/mysql/);
        });

        it("says an unknown RunId is unknown (exit 2)", async () => {
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
            const result = await run(["snapshots", "--run", RUN]);
            assert.equal(result.code, EXIT.badInput);
            assert.match(result.err, new RegExp(`no snapshot of this tool has RunId ${RUN} in this account and Region`));
        });

        it("marks a set pending while one snapshot is, and error when one failed", () => {
            const sets = groupByRun([
                toRecord(RUN_SET[0]),
                toRecord({ ...RUN_SET[1], State: "pending", Progress: "40%" }),
                toRecord(snapshot("snap-0000000000000000c", DATA_VOLUME, OLDER_RUN, { State: "error" })),
            ]);
            assert.deepEqual(
                sets.map((s) => s.state),
                ["pending", "error"],
            );
        });
    });

    describe("restore", () => {
        beforeEach(() => {
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: RUN_SET });
            targetInstance();
            sourceVolumesStillAttached();
        });

        it("--dry-run prints the plan and creates nothing", async () => {
            const result = await run(["restore", RUN, "--instance", TARGET, "--dry-run"]);
            assert.equal(result.code, EXIT.ok, result.err);
            assert.match(result.out, new RegExp(`Plan \\(dry run, nothing created\\): run ${RUN} of ${SOURCE} -> ${TARGET} in eu-west-1a`));
            assert.match(result.out, /snap-0000000000000000a\s+vol-0d000000000000001\s+\/dev\/sdf\s+\(new\)\s+\/dev\/sdf\s+original\s+20\s+gp3\s+completed/);
            assert.match(result.out, /snap-0000000000000000b\s+vol-0d000000000000002\s+\/dev\/sdg\s+\(new\)\s+\/dev\/sdg\s+original\s+20\s+io2/);
            noVolumeCreatedOrTouched();
        });

        it("creates encrypted volumes in the instance's AZ, waits, attaches them at the original devices, and says what to run next", async () => {
            let created = 0;
            ec2.on(CreateVolumeCommand).callsFake(() => ({ VolumeId: `vol-0f00000000000000${++created}`, State: "creating" }));
            ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: ["vol-0f000000000000001", "vol-0f000000000000002"] }] })
                .resolvesOnce({
                    Volumes: [
                        { VolumeId: "vol-0f000000000000001", State: "creating" },
                        { VolumeId: "vol-0f000000000000002", State: "available" },
                    ],
                })
                .resolvesOnce({
                    Volumes: [
                        { VolumeId: "vol-0f000000000000001", State: "available" },
                        { VolumeId: "vol-0f000000000000002", State: "available" },
                    ],
                })
                .resolves({
                    Volumes: ["vol-0f000000000000001", "vol-0f000000000000002"].map((VolumeId) => ({
                        VolumeId,
                        State: "in-use",
                        Attachments: [{ InstanceId: TARGET, State: "attached" }],
                    })),
                });
            ec2.on(AttachVolumeCommand).resolves({ State: "attaching" });
            const result = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(result.code, EXIT.ok, result.err);
            const creates = ec2.commandCalls(CreateVolumeCommand).map((c) => c.args[0].input);
            assert.deepEqual(
                creates.map((c) => [c.SnapshotId, c.AvailabilityZone, c.VolumeType, c.Iops, c.Throughput, c.Encrypted]),
                [
                    ["snap-0000000000000000a", "eu-west-1a", "gp3", 4000, 250, true],
                    ["snap-0000000000000000b", "eu-west-1a", "io2", 6000, undefined, true],
                ],
            );
            assert.deepEqual(creates[0].TagSpecifications, [
                {
                    ResourceType: "volume",
                    Tags: [
                        { Key: "Name", Value: `restore ${RUN} ${DATA_VOLUME}` },
                        { Key: "RestoredFromSnapshot", Value: "snap-0000000000000000a" },
                        { Key: "RestoredFromRunId", Value: RUN },
                        { Key: "RestoredFromVolume", Value: DATA_VOLUME },
                    ],
                },
            ]);
            assert.deepEqual(
                ec2.commandCalls(AttachVolumeCommand).map((c) => c.args[0].input),
                [
                    { VolumeId: "vol-0f000000000000001", InstanceId: TARGET, Device: "/dev/sdf" },
                    { VolumeId: "vol-0f000000000000002", InstanceId: TARGET, Device: "/dev/sdg" },
                ],
            );
            for (const command of [DeleteVolumeCommand, DetachVolumeCommand, ModifyVolumeCommand])
                assert.equal(ec2.commandCalls(command).length, 0, command.name);
            assert.match(result.err, /waiting for volumes to be available: vol-0f000000000000001 creating/);
            assert.match(result.out, /SSM_expectBinlogFile=mysql-bin\.000042 SSM_expectBinlogPosition=123456 bash restore-verify\.sh/);
            assert.match(result.out, /The source had these filesystems frozen: \/var\/lib\/mysql \/var\/log\/mysql\./);
        });

        it("restoring beside the live data on the source instance: takes free device names, never one in use", async () => {
            targetInstance("eu-west-1a", ["/dev/xvda", "/dev/sdf", "/dev/sdg"]);
            const result = await run(["restore", RUN, "--instance", TARGET, "--dry-run", "--json"]);
            const plan = JSON.parse(result.out) as { items: { device: string; deviceReason: string }[] };
            assert.deepEqual(
                plan.items.map((i) => [i.device, i.deviceReason]),
                [
                    ["/dev/sdh", "free"],
                    ["/dev/sdi", "free"],
                ],
            );
        });

        it("chooses devices: given ones first, originals when free (xvdf and sdf are one name), then the first free", () => {
            const snaps = [
                { snapshotId: "snap-a", volumeId: "vol-a", sourceDevice: "/dev/sdf" },
                { snapshotId: "snap-b", volumeId: "vol-b", sourceDevice: "/dev/xvdg" },
                { snapshotId: "snap-c", volumeId: "vol-c" },
            ];
            assert.deepEqual(chooseDevices(snaps, { "snap-c": "/dev/sdf" }, ["/dev/xvda", "/dev/xvdg"]), [
                { device: "/dev/sdh", reason: "free" },
                { device: "/dev/sdi", reason: "free" },
                { device: "/dev/sdf", reason: "given" },
            ]);
            assert.throws(() => chooseDevices(snaps, { "vol-a": "/dev/sdq", "vol-b": "/dev/sdq" }, []), /\/dev\/sdq is given for two snapshots/);
            assert.throws(() => chooseDevices(snaps, { "vol-a": "/dev/xvdg" }, ["/dev/sdg"]), /\/dev\/xvdg is in use on the instance/);
            assert.throws(() => chooseDevices(snaps, { "vol-z": "/dev/sdh" }, []), /vol-z is neither a volume nor a snapshot of this run/);
            const many = FREE_DEVICE_NAMES.map((_, i) => ({ snapshotId: `snap-${i}`, volumeId: `vol-${i}` }));
            assert.throws(() => chooseDevices([...many, { snapshotId: "snap-x", volumeId: "vol-x" }], {}, []), /no free device name left/);
        });

        it("refuses a set with fewer snapshots than its VolumeCount tag (one deleted) unless --allow-incomplete (exit 2, nothing created)", async () => {
            const counted = RUN_SET.map((snap) => ({ ...snap, Tags: [...snap.Tags!, { Key: "VolumeCount", Value: "3" }] }));
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: counted });
            const refused = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(refused.code, EXIT.badInput);
            assert.match(refused.err, new RegExp(`run ${RUN}: 2 of its 3 snapshots exist .* --allow-incomplete restores what there is`));
            noVolumeCreatedOrTouched();
            const list = await run(["snapshots"]);
            assert.match(list.out, /\s2\/3 INCOMPLETE\s/);
            const allowed = await run(["restore", RUN, "--instance", TARGET, "--allow-incomplete", "--dry-run"]);
            assert.equal(allowed.code, EXIT.ok, allowed.err);
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({
                Snapshots: counted.slice(0, 2).map((x) => ({ ...x, Tags: x.Tags!.map((t) => (t.Key === "VolumeCount" ? { ...t, Value: "2" } : t)) })),
            });
            assert.match((await run(["snapshots"])).out, /\s2\/2\s/);
        });

        it("keeps the source's IOPS and throughput when the type stays; refuses io1/io2 when no source volume says its IOPS (exit 2)", async () => {
            const gp2 = await run(["restore", RUN, "--instance", TARGET, "--volume-type", "gp2", "--dry-run", "--json"]);
            const plan = JSON.parse(gp2.out) as { items: { volumeType: string; iops?: number; throughputMiBps?: number }[] };
            assert.deepEqual(
                plan.items.map((i) => [i.volumeType, i.iops, i.throughputMiBps]),
                [
                    ["gp2", undefined, undefined],
                    ["gp2", undefined, undefined],
                ],
            );
            ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: [DATA_VOLUME, LOGS_VOLUME] }] }).resolves({ Volumes: [] });
            const io2 = await run(["restore", RUN, "--instance", TARGET, "--volume-type", "io2"]);
            assert.equal(io2.code, EXIT.badInput);
            assert.match(io2.err, /--volume-type io2: a io2 volume needs its IOPS, known here only from a source volume of that type/);
            noVolumeCreatedOrTouched();
        });

        it("waits for new volumes by filter (EC2 answers a new volume's id with InvalidVolume.NotFound for a while), not failing on their absence", async () => {
            let created = 0;
            ec2.on(CreateVolumeCommand).callsFake(() => ({ VolumeId: `vol-0f00000000000000${++created}` }));
            const ids = ["vol-0f000000000000001", "vol-0f000000000000002"];
            ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: ids }] })
                .resolvesOnce({ Volumes: [] })
                .resolvesOnce({ Volumes: ids.map((VolumeId) => ({ VolumeId, State: "available" })) })
                .resolves({ Volumes: ids.map((VolumeId) => ({ VolumeId, State: "in-use", Attachments: [{ InstanceId: TARGET, State: "attached" }] })) });
            ec2.on(DescribeVolumesCommand, { VolumeIds: ids }).rejects(
                Object.assign(new Error("The volume does not exist."), { name: "InvalidVolume.NotFound" }),
            );
            const result = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(result.code, EXIT.ok, result.err);
            assert.equal(ec2.commandCalls(AttachVolumeCommand).length, 2);
        });

        it("refuses an AZ that is not the instance's (exit 2), creating nothing", async () => {
            const result = await run(["restore", RUN, "--instance", TARGET, "--az", "eu-west-1b"]);
            assert.equal(result.code, EXIT.badInput);
            assert.match(
                result.err,
                /--az eu-west-1b: i-0bbbbbbbbbbbbbbb2 is in eu-west-1a, and a volume attaches only to an instance in its own Availability Zone/,
            );
            noVolumeCreatedOrTouched();
        });

        it("refuses an unknown RunId, an unknown instance and a device in use (exit 2), creating nothing", async () => {
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: [] });
            const unknownRun = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(unknownRun.code, EXIT.badInput);
            assert.match(unknownRun.err, /no snapshot of this tool has RunId/);
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: RUN_SET });
            ec2.on(DescribeInstancesCommand, { InstanceIds: ["i-0ccccccccccccccc3"] }).rejects(
                Object.assign(new Error("The instance ID 'i-0ccccccccccccccc3' does not exist"), { name: "InvalidInstanceID.NotFound" }),
            );
            const unknownInstance = await run(["restore", RUN, "--instance", "i-0ccccccccccccccc3"]);
            assert.equal(unknownInstance.code, EXIT.badInput);
            assert.match(unknownInstance.err, /--instance i-0ccccccccccccccc3: no such instance in this account and Region/);
            targetInstance("eu-west-1a", ["/dev/xvda", "/dev/sdh"]);
            const inUse = await run(["restore", RUN, "--instance", TARGET, "--device-map", `${DATA_VOLUME}=/dev/xvdh`]);
            assert.equal(inUse.code, EXIT.badInput);
            assert.match(
                inUse.err,
                /--device-map vol-0d000000000000001=\/dev\/xvdh: \/dev\/xvdh is in use on the instance \(in use: \/dev\/xvda, \/dev\/sdh\)/,
            );
            noVolumeCreatedOrTouched();
        });

        it("waits for a pending snapshot, with progress, then restores", async () => {
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({
                Snapshots: [RUN_SET[0], { ...RUN_SET[1], State: "pending", Progress: "40%" }],
            });
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: ["snap-0000000000000000b"] })
                .resolvesOnce({ Snapshots: [{ ...RUN_SET[1], State: "pending", Progress: "85%" }] })
                .resolves({ Snapshots: [RUN_SET[1]] });
            let created = 0;
            ec2.on(CreateVolumeCommand).callsFake(() => ({ VolumeId: `vol-0f00000000000000${++created}` }));
            ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: ["vol-0f000000000000001", "vol-0f000000000000002"] }] })
                .resolvesOnce({ Volumes: ["vol-0f000000000000001", "vol-0f000000000000002"].map((VolumeId) => ({ VolumeId, State: "available" })) })
                .resolves({
                    Volumes: ["vol-0f000000000000001", "vol-0f000000000000002"].map((VolumeId) => ({
                        VolumeId,
                        State: "in-use",
                        Attachments: [{ InstanceId: TARGET, State: "attached" }],
                    })),
                });
            const result = await run(["restore", RUN, "--instance", TARGET, "--dry-run"]);
            assert.match(result.out, /snap-0000000000000000b .* pending/);
            const restored = await run(["restore", RUN, "--instance", TARGET, "--json"]);
            assert.match(restored.err, /waiting for snapshots: snap-0000000000000000b pending 85%/);
            assert.equal(restored.code, EXIT.ok, restored.err);
            assert.equal(ec2.commandCalls(CreateVolumeCommand).length, 2);
            const names = ec2CallNames();
            const polls = ec2
                .calls()
                .map((c, i) => (((c.args[0] as DescribeSnapshotsCommand).input as { SnapshotIds?: string[] }).SnapshotIds ? i : -1))
                .filter((i) => i >= 0);
            assert.ok(polls.at(-1)! < names.indexOf("CreateVolumeCommand"), "created a volume before the snapshot completed");
        });

        it("gives up on a snapshot still pending after --wait-seconds (exit 4), creating nothing", async () => {
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: [RUN_SET[0], { ...RUN_SET[1], State: "pending", Progress: "3%" }] });
            ec2.on(DescribeSnapshotsCommand, { SnapshotIds: ["snap-0000000000000000b"] }).resolves({
                Snapshots: [{ ...RUN_SET[1], State: "pending", Progress: "4%" }],
            });
            const result = await run(["restore", RUN, "--instance", TARGET, "--wait-seconds", "60"]);
            assert.equal(result.code, EXIT.timedOut);
            assert.match(result.err, /snapshots still pending after the wait \(snap-0000000000000000b\); nothing was created/);
            noVolumeCreatedOrTouched();
        });

        it("refuses a set with a failed snapshot (exit 3), creating nothing", async () => {
            ec2.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] }).resolves({ Snapshots: [RUN_SET[0], { ...RUN_SET[1], State: "error" }] });
            const result = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(result.code, EXIT.awsError);
            assert.match(result.err, /snapshot snap-0000000000000000b failed \(state error\): the set cannot be restored/);
            noVolumeCreatedOrTouched();
        });

        it("throttled past the SDK's retries on the second volume: deletes the volume it created, exit 3 naming the call", async () => {
            ec2.on(CreateVolumeCommand)
                .resolvesOnce({ VolumeId: "vol-0f000000000000001" })
                .rejects(Object.assign(new Error("Request limit exceeded."), { name: "RequestLimitExceeded" }));
            ec2.on(DeleteVolumeCommand).resolves({});
            const result = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(result.code, EXIT.awsError);
            assert.match(
                result.err,
                /ec2 CreateVolume from snap-0000000000000000b: RequestLimitExceeded: Request limit exceeded\. \(throttled after the SDK's retries; try again later\)/,
            );
            assert.deepEqual(
                ec2.commandCalls(DeleteVolumeCommand).map((c) => c.args[0].input),
                [{ VolumeId: "vol-0f000000000000001" }],
            );
            assert.match(result.err, /deleted vol-0f000000000000001 \(created by this restore, not attached\)/);
            assert.equal(ec2.commandCalls(AttachVolumeCommand).length, 0);
        });

        it("an attach refused: the attached volume is left (and said), the unattached one deleted", async () => {
            let created = 0;
            ec2.on(CreateVolumeCommand).callsFake(() => ({ VolumeId: `vol-0f00000000000000${++created}` }));
            ec2.on(DescribeVolumesCommand, { Filters: [{ Name: "volume-id", Values: ["vol-0f000000000000001", "vol-0f000000000000002"] }] }).resolves({
                Volumes: ["vol-0f000000000000001", "vol-0f000000000000002"].map((VolumeId) => ({ VolumeId, State: "available" })),
            });
            ec2.on(AttachVolumeCommand)
                .resolvesOnce({})
                .rejects(Object.assign(new Error("not authorized"), { name: "UnauthorizedOperation" }));
            ec2.on(DeleteVolumeCommand).resolves({});
            const result = await run(["restore", RUN, "--instance", TARGET]);
            assert.equal(result.code, EXIT.awsError);
            assert.match(
                result.err,
                /ec2 AttachVolume vol-0f000000000000002 to i-0bbbbbbbbbbbbbbb2 at \/dev\/sdg: UnauthorizedOperation: not authorized \(the caller's IAM permissions or credentials\)/,
            );
            assert.deepEqual(
                ec2.commandCalls(DeleteVolumeCommand).map((c) => c.args[0].input.VolumeId),
                ["vol-0f000000000000002"],
            );
            assert.match(result.err, /left attached to i-0bbbbbbbbbbbbbbb2 \(detach and delete them when done\): vol-0f000000000000001/);
        });
    });

    describe("run", () => {
        const COMMAND_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
        const summary = (exitCode: number, extra: object = {}) =>
            JSON.stringify({
                status: exitCode === 0 ? "ok" : "failed",
                exitCode,
                message: exitCode === 0 ? "snapshots created" : "could not lock: timeout",
                runId: RUN,
                lockMethod: "BACKUP STAGE",
                lockHeldMs: 140,
                writeBlockWindowMs: 92,
                frozenMs: 85,
                snapshots: exitCode === 0 ? [{ snapshotId: "snap-0000000000000000a", volumeId: DATA_VOLUME }] : [],
                ...extra,
            });

        function follow(statuses: { command: string; invocations: [string, string][] }[]) {
            const commands = ssm.on(ListCommandsCommand, { CommandId: COMMAND_ID });
            const invocations = ssm.on(ListCommandInvocationsCommand, { CommandId: COMMAND_ID });
            for (const s of statuses) {
                commands.resolvesOnce({ Commands: [{ CommandId: COMMAND_ID, Status: s.command as never, TargetCount: s.invocations.length }] });
                invocations.resolvesOnce({
                    CommandInvocations: s.invocations.map(([InstanceId, Status]) => ({
                        InstanceId,
                        Status: Status as never,
                        RequestedDateTime: new Date("2026-12-05T12:00:01Z"),
                    })),
                });
            }
        }

        it("sends the document to the tagged instances, follows it to the end, prints each host's summary; exit 0", async () => {
            ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
            follow([
                { command: "Pending", invocations: [] },
                { command: "InProgress", invocations: [[SOURCE, "InProgress"]] },
                { command: "Success", invocations: [[SOURCE, "Success"]] },
            ]);
            ssm.on(GetCommandInvocationCommand).resolves({ StandardOutputContent: `${summary(0)}\n` });
            const result = await run([
                "run",
                "--document",
                "cs-doc",
                "--target",
                "Db",
                "--parameter",
                "maxFreezeSeconds=20",
                "--log-group",
                "snapshots-output",
            ]);
            assert.equal(result.code, EXIT.ok, result.err);
            assert.deepEqual(ssm.commandCalls(SendCommandCommand)[0].args[0].input, {
                DocumentName: "cs-doc",
                Targets: [{ Key: "tag:ConsistentSnapshot", Values: ["Db"] }],
                Parameters: { maxFreezeSeconds: ["20"] },
                MaxConcurrency: "1",
                MaxErrors: "1",
                Comment: "consistent-snapshots run (operator CLI)",
                CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: "snapshots-output" },
            });
            assert.match(result.err, /InProgress: i-0aaaaaaaaaaaaaaa1 InProgress/);
            assert.match(
                result.out,
                new RegExp(`${SOURCE}\\s+Success\\s+ok\\s+0\\s+BACKUP STAGE\\s+92 ms\\s+85 ms\\s+snap-0000000000000000a\\s+${RUN}\\s+${COMMAND_ID}`),
            );
        });

        it("with --stack-outputs and no target, sends what the stack's runNowCommand sends (under DLM: the policy's retention); --parameter wins", async () => {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "outputs-")), "outputs.json");
            fs.writeFileSync(
                file,
                JSON.stringify({
                    documentNames: ["consistent-snapshot-1a2b3c"],
                    runNowSettings: {
                        tagKey: "Backup",
                        tagValue: "Orders",
                        maxConcurrency: "10%",
                        maxErrors: "5%",
                        parameters: { retainDays: "14", maxFreezeSeconds: "20" },
                    },
                }),
            );
            ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
            follow([{ command: "Success", invocations: [[SOURCE, "Success"]] }]);
            ssm.on(GetCommandInvocationCommand).resolves({ StandardOutputContent: summary(0) });
            const result = await run(["run", "--stack-outputs", file, "--parameter", "maxFreezeSeconds=10"]);
            assert.equal(result.code, EXIT.ok, result.err);
            const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
            assert.deepEqual(
                [input.DocumentName, input.Targets, input.MaxConcurrency, input.MaxErrors, input.Parameters, input.CloudWatchOutputConfig],
                [
                    "consistent-snapshot-1a2b3c",
                    [{ Key: "tag:Backup", Values: ["Orders"] }],
                    "10%",
                    "5%",
                    { retainDays: ["14"], maxFreezeSeconds: ["10"] },
                    undefined,
                ],
            );
        });

        it("exit 1 when one host's run failed, with the script's message", async () => {
            ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
            follow([
                {
                    command: "Failed",
                    invocations: [
                        [SOURCE, "Success"],
                        [TARGET, "Failed"],
                    ],
                },
            ]);
            ssm.on(GetCommandInvocationCommand, { CommandId: COMMAND_ID, InstanceId: SOURCE }).resolves({ StandardOutputContent: summary(0) });
            ssm.on(GetCommandInvocationCommand, { CommandId: COMMAND_ID, InstanceId: TARGET }).resolves({ StandardOutputContent: `${summary(205)}\n` });
            const result = await run(["run", "--document", "cs-doc", "--instance", `${SOURCE},${TARGET}`, "--json"]);
            assert.equal(result.code, EXIT.runFailed);
            const records = JSON.parse(result.out) as { instanceId: string; summary: { exitCode: number } }[];
            assert.deepEqual(
                records.map((r) => [r.instanceId, r.summary.exitCode]),
                [
                    [SOURCE, 0],
                    [TARGET, 205],
                ],
            );
            assert.deepEqual(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds, [SOURCE, TARGET]);
        });

        it("exit 1 when no instance matched the tag", async () => {
            ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
            follow([{ command: "Success", invocations: [] }]);
            const result = await run(["run", "--document", "cs-doc", "--target", "Nobody"]);
            assert.equal(result.code, EXIT.runFailed);
            assert.match(result.out, /ran nowhere: no instance matched tag:ConsistentSnapshot=Nobody/);
        });

        it("keeps following through a throttled poll; gives up after --wait-seconds (exit 4), saying the command goes on", async () => {
            ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
            ssm.on(ListCommandsCommand)
                .rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }))
                .resolves({ Commands: [{ CommandId: COMMAND_ID, Status: "InProgress", TargetCount: 1 }] });
            ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [{ InstanceId: SOURCE, Status: "InProgress" }] });
            const result = await run(["run", "--document", "cs-doc", "--target", "Db", "--wait-seconds", "60"]);
            assert.equal(result.code, EXIT.timedOut);
            assert.match(result.err, /throttled while following/);
            assert.match(result.err, new RegExp(`command ${COMMAND_ID} not finished after 60 s .* it goes on in SSM`));
            assert.ok(ssm.commandCalls(ListCommandsCommand).length >= 12, "stopped polling");
        });
    });

    describe("runs", () => {
        it("lists the document's last commands (every page), one line per instance with its summary", async () => {
            ssm.on(ListCommandsCommand)
                .resolvesOnce({
                    Commands: [{ CommandId: "c-1", DocumentName: "cs-doc", RequestedDateTime: new Date("2026-12-05T00:00:05Z") }],
                    NextToken: "t2",
                })
                .resolvesOnce({ Commands: [{ CommandId: "c-2", DocumentName: "cs-doc", RequestedDateTime: new Date("2026-12-04T00:00:05Z") }] });
            ssm.on(ListCommandInvocationsCommand, { CommandId: "c-1" }).resolves({ CommandInvocations: [{ InstanceId: SOURCE, Status: "Success" }] });
            ssm.on(ListCommandInvocationsCommand, { CommandId: "c-2" }).resolves({ CommandInvocations: [{ InstanceId: SOURCE, Status: "Failed" }] });
            ssm.on(GetCommandInvocationCommand, { CommandId: "c-1" }).resolves({
                StandardOutputContent: JSON.stringify({ exitCode: 0, status: "ok", runId: RUN, frozenMs: 70 }),
            });
            ssm.on(GetCommandInvocationCommand, { CommandId: "c-2" }).rejects(Object.assign(new Error("gone"), { name: "InvocationDoesNotExist" }));
            const result = await run(["runs", "--document", "cs-doc", "--since", "7d"]);
            assert.equal(result.code, EXIT.ok, result.err);
            assert.deepEqual(ssm.commandCalls(ListCommandsCommand)[0].args[0].input.Filters, [
                { key: "DocumentName", value: "cs-doc" },
                { key: "InvokedAfter", value: "2026-11-28T12:00:00Z" }, // the form SSM documents (CommandFilter)
            ]);
            assert.match(result.out, new RegExp(`${SOURCE}\\s+Success\\s+ok\\s+0\\s+-\\s+-\\s+70 ms\\s+-\\s+${RUN}\\s+c-1`));
            assert.match(result.out, /i-0aaaaaaaaaaaaaaa1 c-2: SSM no longer has this invocation's output/);
        });

        it("reads the summary from the last line of the output only when it is the script's", () => {
            assert.deepEqual(parseSummary('log\n{"exitCode":0,"status":"ok"}\n'), { summary: { exitCode: 0, status: "ok" } });
            assert.match(parseSummary("bash: line 1: aws: command not found").problem!, /not the script's summary: bash: line 1/);
            assert.match(parseSummary("").problem!, /no output/);
            assert.match(parseSummary('{"status":"ok"}').problem!, /not the script's summary/);
        });
    });

    describe("verify (the restore drill on demand)", () => {
        it("snapshots shows each set's newest drill result (RestoreResult, RestoreVerifiedAt on its snapshots)", async () => {
            const drilled = [
                snapshot("snap-0000000000000000a", DATA_VOLUME, RUN, {}, { RestoreResult: "failed", RestoreVerifiedAt: "2026-11-29_06.10.00" }),
                snapshot("snap-0000000000000000b", LOGS_VOLUME, RUN, {}, { RestoreResult: "passed", RestoreVerifiedAt: "2026-12-06_06.12.40" }),
            ];
            ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: drilled });
            const list = await run(["snapshots"]);
            assert.match(list.out, new RegExp(`${RUN}.*mysql-bin\\.000042:123456\\s+passed 2026-12-06_06\\.12\\.40$`, "m"));
        });

        const VERIFIED = JSON.stringify({
            status: "ok",
            exitCode: 0,
            message: "restored datadir verified: 42 tables checked",
            tablesChecked: 42,
            binlogFile: "mysql-bin.000042",
            binlogFileSize: "123456",
            expectedBinlogPosition: "123456",
        });
        const execution = (
            status: AutomationExecutionStatus,
            steps: { StepName: string; StepStatus: AutomationExecutionStatus; Outputs?: Record<string, string[]>; FailureMessage?: string }[],
        ): GetAutomationExecutionCommandOutput => ({
            $metadata: {},
            AutomationExecution: { AutomationExecutionId: "exec-1", AutomationExecutionStatus: status, StepExecutions: steps },
        });

        it("starts the drill runbook for the run, follows its steps, and prints restore-verify.sh's figures", async () => {
            ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: "exec-1" });
            ssm.on(GetAutomationExecutionCommand)
                .resolvesOnce(
                    execution("InProgress", [
                        { StepName: "chooseSnapshotSet", StepStatus: "Success" },
                        { StepName: "launchDrillInstance", StepStatus: "InProgress" },
                    ]),
                )
                .resolvesOnce(execution("Success", [{ StepName: "verifyRestore", StepStatus: "Success", Outputs: { Output: [`log line\n${VERIFIED}`] } }]));
            const outputs = path.join(os.tmpdir(), `outputs-${process.pid}.json`);
            fs.writeFileSync(outputs, JSON.stringify({ restoreDrillDocumentName: "snapshots-drill-runbook-a1b2c3" }));
            try {
                const result = await run(["verify", RUN, "--stack-outputs", outputs]);
                assert.equal(result.code, EXIT.ok, result.err);
                assert.deepEqual(ssm.commandCalls(StartAutomationExecutionCommand)[0].args[0].input, {
                    DocumentName: "snapshots-drill-runbook-a1b2c3",
                    Parameters: { Target: ["main"], RunId: [RUN] },
                });
                assert.match(result.err, /InProgress: step launchDrillInstance InProgress/);
                assert.match(result.out, new RegExp(`${RUN}\\s+exec-1\\s+passed\\s+42\\s+mysql-bin.000042 123456/123456`));
            } finally {
                fs.rmSync(outputs);
            }
        });

        it("exits 1 naming the failed step when the drill fails", async () => {
            ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: "exec-1" });
            const failed = JSON.stringify({ status: "failed", exitCode: 5, message: "CHECK TABLE found problems in 1 of 42 tables", tablesChecked: 42 });
            ssm.on(GetAutomationExecutionCommand).resolves(
                execution("Failed", [
                    {
                        StepName: "verifyRestore",
                        StepStatus: "Failed",
                        Outputs: { Output: [failed] },
                        FailureMessage: "Step fails when it is verifying the command",
                    },
                    { StepName: "cleanUp", StepStatus: "Success" },
                ]),
            );
            const result = await run(["verify", RUN, "--drill-document", "drill-runbook", "--target-name", "extra-1", "--json"]);
            assert.equal(result.code, EXIT.runFailed);
            const json = JSON.parse(result.out);
            assert.equal(json.failedStep, "verifyRestore");
            assert.equal(json.restoreVerify.exitCode, 5);
            assert.deepEqual(ssm.commandCalls(StartAutomationExecutionCommand)[0].args[0].input.Parameters, { Target: ["extra-1"], RunId: [RUN] });
        });

        it("says how to follow a drill still running at --wait-seconds (exit 4), and starts nothing without a drill document (exit 2)", async () => {
            ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: "exec-1" });
            ssm.on(GetAutomationExecutionCommand).resolves(execution("InProgress", [{ StepName: "verifyRestore", StepStatus: "InProgress" }]));
            const slow = await run(["verify", RUN, "--drill-document", "drill-runbook", "--wait-seconds", "60"]);
            assert.equal(slow.code, EXIT.timedOut);
            assert.match(slow.err, /still InProgress after 60 s; it goes on .*get-automation-execution --automation-execution-id exec-1/);
            ssm.reset();
            const none = await run(["verify", RUN]);
            assert.equal(none.code, EXIT.badInput);
            assert.match(none.err, /verify: which drill\? give --drill-document/);
            const badRun = await run(["verify", "last-night", "--drill-document", "drill-runbook"]);
            assert.equal(badRun.code, EXIT.badInput);
            assert.equal(ssm.commandCalls(StartAutomationExecutionCommand).length, 0);
        });
    });
});

describe("operator CLI with the real SDK client (no mocks): Region, credentials, retries", () => {
    it("retries a throttled call (adaptive mode, up to 8 attempts) and succeeds, against a local SSM double over HTTP", async () => {
        let requests = 0;
        const server = http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                requests++;
                assert.equal(req.headers["x-amz-target"], "AmazonSSM.ListCommands");
                if (requests <= 2) {
                    res.writeHead(400, { "content-type": "application/x-amz-json-1.1" }).end(
                        JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }),
                    );
                } else {
                    res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify({ Commands: [] }));
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const saved = { ...process.env };
        Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "eu-west-1" });
        try {
            const { port } = server.address() as { port: number };
            const clients = createClients({ endpoint: `http://127.0.0.1:${port}` });
            assert.deepEqual([await clients.ssm.config.maxAttempts(), clients.ssm.config.retryMode], [RETRY.maxAttempts, RETRY.retryMode]);
            const out = await clients.ssm.send(new ListCommandsCommand({}));
            assert.deepEqual(out.Commands, []);
            assert.equal(requests, 3);
        } finally {
            process.env = saved;
            server.close();
        }
    });

    it("the built CLI loads no Pulumi module, and says what is missing without a Region", () => {
        const probe = spawnSync(
            process.execPath,
            ["-e", "require('./bin/cli/main.js'); console.log(Object.keys(require.cache).filter((k) => k.includes('@pulumi')).length)"],
            { cwd: REPO_ROOT, encoding: "utf8" },
        );
        assert.equal(probe.stdout.trim(), "0", probe.stderr);
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "cli-home-"));
        const result = spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "cli", "main.js"), "snapshots"], {
            encoding: "utf8",
            env: { ...env, HOME: home, AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
        });
        assert.equal(result.status, EXIT.badInput, result.stderr);
        assert.equal(
            result.stderr,
            "consistent-snapshots: ec2 DescribeSnapshots: no AWS Region: pass --region or set AWS_REGION (or a region in the profile)\n",
        );
    });
});
