// A test double for IMDSv2 and the EC2 Query API, on 127.0.0.1, for one fake instance whose EBS
// volumes are image files. On CreateSnapshot(s) it records, at that instant, whether the database
// accepts a commit and whether each target filesystem is frozen, and takes a block-level point-in-time
// copy of each image with `cp --reflink=always` (atomic on XFS), as EBS would.
import { execFile, spawn } from "node:child_process";
import * as http from "node:http";
import * as path from "node:path";
import { promisify } from "node:util";
import { Credentials, signedHeaders, verifySignature } from "./sigv4";

const execFileAsync = promisify(execFile);

export interface FakeVolume {
    volumeId: string;
    deviceName: string;
    /** Image file backing the volume; absent for the boot volume (never copied). */
    image?: string;
    /** Mount point of the filesystem on this volume, probed for freeze at the snapshot instant. */
    mountPoint?: string;
}

/**
 * How CreateSnapshot(s) answers: normally, with an error, never (`hang`: nothing is created), or never
 * after creating the snapshots (`hangAfterCreate`: as when the answer is lost after EC2 acted).
 */
export type ApiBehaviour = "ok" | "error500" | "throttle" | "unauthorized" | "hang" | "hangAfterCreate";

export interface SnapshotObservation {
    action: "CreateSnapshots" | "CreateSnapshot";
    atMs: number;
    params: Record<string, string>;
    /**
     * A write attempted at the snapshot instant waited 1 s for the database lock and gave up. The probe
     * writes a MEMORY table without binlogging, so a frozen filesystem cannot block it: only the lock.
     */
    dbWriteBlocked: boolean;
    /**
     * With `probeBackupLocks` (MariaDB): the BACKUP STAGE lock modes held at the snapshot instant, e.g.
     * MDL_BACKUP_WAIT_COMMIT while BLOCK_COMMIT is held (BACKUP STAGE lets MEMORY tables be written, so
     * `dbWriteBlocked` cannot tell).
     */
    backupLockModes?: string[];
    /**
     * With `stopProcessDuringCopy`: when the process was stopped (SIGSTOP) for the copies, which were then taken
     * with nothing frozen or flushed; the lock and state probes are skipped (a stopped server cannot answer).
     */
    stoppedAtMs?: number;
    /** Mount point -> whether a write to it blocked at the snapshot instant. */
    frozen: Record<string, boolean>;
    /** A write to the fixture's directory on `/` completed: `/` was not frozen. */
    rootWritable: boolean;
    maxInnodbId: number;
    maxMyisamId: number;
    appendLogLines: number;
    /** Why a state probe failed (the answer to the API caller is unaffected); absent when all probes ran. */
    probeError?: string;
    snapshots: { snapshotId: string; volumeId: string; copy: string }[];
}

/** A snapshot as DescribeSnapshots reports it. */
export interface StoredSnapshot {
    snapshotId: string;
    volumeId: string;
    startTime: Date;
    tags: Record<string, string>;
    state?: "pending" | "completed";
}

/** One request; `what` is the EC2 action (`CreateSnapshots DryRun` for a dry run), or IMDS's method and path. */
export interface RequestRecord {
    atMs: number;
    kind: "imds" | "ec2";
    what: string;
    userAgent: string;
    /** The names of the request's filters (Filter.N.Name), e.g. ["volume-id"] or ["tag:CreatedBy", "tag:InstanceId"]. */
    filters?: string[];
}

/** The keys the double's EC2 accepts: the fixture's environment keys and the instance role's, which IMDS serves. */
export const ENVIRONMENT_KEY: Credentials = { accessKeyId: "AKIAFIXTURE", secretAccessKey: "fixture-secret" };
export const ROLE_KEY: Credentials = {
    accessKeyId: "ASIAFIXTUREROLEKEY01",
    secretAccessKey: "fixture-role-secret",
    sessionToken: "fixture-role-session-token",
};
const DLM_KEY: Credentials = { accessKeyId: "ASIADLMSERVICEROLE01", secretAccessKey: "fixture-dlm-secret", sessionToken: "fixture-dlm-session-token" };

export interface DoubleOptions {
    instanceId: string;
    region: string;
    availabilityZone: string;
    rootDeviceName: string;
    volumes: FakeVolume[];
    /** Where snapshot copies go: a directory on the reflink-capable XFS pool. */
    snapshotDir: string;
    /** Runs a SQL statement against the live server; rejects on error. */
    sql: (statement: string, timeoutMs: number) => Promise<string>;
    /** Whether a write that only the database lock can block succeeds within 1 s. */
    lockFree: () => Promise<boolean>;
    /** MariaDB: the modes of the BACKUP STAGE locks other sessions hold now. */
    backupLockModes: () => Promise<string[]>;
    /** A file on a frozen-able mount that the writer appends to. */
    appendLog: string;
    /** The instance profile's role name; IMDS serves temporary credentials for it, as EC2 does. */
    roleName: string;
    /** A directory on `/` used to prove `/` stays writable. */
    rootProbeDir: string;
}

export class Ec2Double {
    public behaviour: ApiBehaviour = "ok";
    public latencyMs = 0;
    /**
     * Refuse the signature of requests whose User-Agent matches (AuthFailure, as EC2 answers a wrong signature):
     * a client that signs wrongly, e.g. a curl version with a SigV4 bug.
     */
    public refuseSignaturesOf?: RegExp;
    /** Probe the lock and the freezes at each snapshot (they take ~1 s); off for benchmarks. */
    public observe = true;
    /** Also read the BACKUP STAGE locks held at each snapshot (MariaDB). */
    public probeBackupLocks = false;
    /**
     * A process (the database server) to stop with SIGSTOP while the images are copied, and continue after: an
     * atomic point-in-time copy of every volume taken *without* freezing or syncing anything, as EBS takes a
     * multi-volume snapshot — only what reached the block devices is in it. (Kernel writeback of pages the server
     * wrote before it stopped can still land during the few milliseconds the parallel reflinks take; every write
     * the server made durable with fsync is in every copy.)
     */
    public stopProcessDuringCopy?: number;
    /**
     * EC2's interval between snapshots of one volume, in ms (0: not enforced): a CreateSnapshot(s) of a volume whose
     * newest snapshot started less than this before fails with SnapshotCreationPerVolumeRateExceeded, as EC2 does
     * within 15 s ("wait at least 15 seconds between concurrent volume snapshots", EC2 API error codes). Off by
     * default: the suite snapshots the same volumes seconds apart, run after run; the test of the script's wait
     * turns it on at EC2's 15 s.
     */
    public volumeSnapshotIntervalMs = 0;
    public readonly observations: SnapshotObservation[] = [];
    public readonly requests: RequestRecord[] = [];
    private server?: http.Server;
    private token = "fixture-token-" + Math.random().toString(36).slice(2);
    private snapshotCounter = 0;
    private readonly hidden = new Set<string>();
    private hanging: http.ServerResponse[] = [];
    private pendingWork: Promise<unknown>[] = [];
    /** Every snapshot that exists, by id (created through the API or seeded by a test). */
    public readonly snapshotStore = new Map<string, StoredSnapshot>();
    /** DeleteSnapshot fails for these ids with InvalidSnapshot.InUse (as for a snapshot backing an AMI). */
    public readonly undeletable = new Set<string>();

    constructor(private readonly opts: DoubleOptions) {}

    get endpoint(): string {
        const address = this.server?.address();
        if (!address || typeof address === "string") throw new Error("double not started");
        return `http://127.0.0.1:${address.port}`;
    }

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => {
            this.handle(req, res).catch((err) => {
                res.statusCode = 500;
                res.end(String(err));
            });
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    }

    async stop(): Promise<void> {
        this.releaseHanging();
        await Promise.allSettled(this.pendingWork);
        await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
        this.server?.closeAllConnections();
    }

    reset(): void {
        this.behaviour = "ok";
        this.latencyMs = 0;
        this.refuseSignaturesOf = undefined;
        this.observe = true;
        this.probeBackupLocks = false;
        this.stopProcessDuringCopy = undefined;
        this.hidden.clear();
        this.snapshotStore.clear();
        this.undeletable.clear();
        this.tagCalls.length = 0;
        this.observations.length = 0;
        this.requests.length = 0;
        this.releaseHanging();
    }

    /** Waits for snapshots being made and for write probes that were blocked by a freeze (they finish at thaw). */
    async settle(): Promise<void> {
        await Promise.allSettled(this.pendingWork);
        this.pendingWork = [];
    }

    private releaseHanging(): void {
        for (const res of this.hanging) res.destroy();
        this.hanging = [];
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const raw = await new Promise<Buffer>((resolve) => {
            const chunks: Buffer[] = [];
            req.on("data", (chunk: Buffer) => chunks.push(chunk));
            req.on("end", () => resolve(Buffer.concat(chunks)));
        });
        const url = req.url ?? "/";
        if (url.startsWith("/latest/")) return this.imds(req, res, url);
        const params = Object.fromEntries(new URLSearchParams(raw.toString("utf8")));
        const action = params.Action ?? "";
        const dryRun = params.DryRun === "true";
        const userAgent = req.headers["user-agent"] ?? "";
        const filters = Object.keys(params)
            .filter((k) => /^Filter\.\d+\.Name$/.test(k))
            .map((k) => params[k]);
        this.requests.push({ atMs: Date.now(), kind: "ec2", what: dryRun ? `${action} DryRun` : action, userAgent, ...(filters.length ? { filters } : {}) });
        const refused = verifySignature(
            { method: req.method ?? "", url, rawHeaders: req.rawHeaders },
            raw,
            [ENVIRONMENT_KEY, ROLE_KEY, DLM_KEY],
            this.opts.region,
        );
        if (refused) return this.error(res, refused.status, refused.code, refused.message);
        if (this.refuseSignaturesOf?.test(userAgent)) {
            return this.error(res, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
        }
        if (dryRun) {
            if (action !== "CreateSnapshots") throw new Error(`double: DryRun of ${action} is not modelled`);
            return this.behaviour === "unauthorized"
                ? this.error(res, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
                : this.error(res, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
        }
        switch (action) {
            case "DescribeInstances":
                return this.xml(res, 200, this.describeInstances());
            case "DescribeInstanceAttribute":
                return this.xml(res, 200, this.describeInstanceAttribute());
            case "CreateSnapshots":
            case "CreateSnapshot": {
                // Tracked so that settle() also waits for snapshots still being made after the caller died.
                const creating = this.createSnapshots(action, params, res);
                this.pendingWork.push(creating.catch(() => undefined));
                return creating;
            }
            case "DescribeSnapshots":
                return this.xml(res, 200, this.describeSnapshots(params));
            case "DeleteSnapshot":
                return this.deleteSnapshot(params, res);
            case "CreateTags":
                return this.createTags(params, res);
            default:
                return this.error(res, 400, "InvalidAction", `The action ${action} is not valid for this web service.`);
        }
    }

    /**
     * CreateSnapshots as Data Lifecycle Manager sends it between the pre- and the post-script: from outside
     * the instance, boot volume excluded, tagged dlm:managed and with the policy's variable tag
     * InstanceId=$(instance-id) (components/snapshotLifecyclePolicy.ts). The double probes lock and freeze as for any call.
     */
    async dlmCreateSnapshots(): Promise<string[]> {
        const body = new URLSearchParams({
            Action: "CreateSnapshots",
            Version: "2016-11-15",
            "InstanceSpecification.InstanceId": this.opts.instanceId,
            "InstanceSpecification.ExcludeBootVolume": "true",
            "TagSpecification.1.ResourceType": "snapshot",
            "TagSpecification.1.Tag.1.Key": "dlm:managed",
            "TagSpecification.1.Tag.1.Value": "true",
            "TagSpecification.1.Tag.2.Key": "aws:dlm:lifecycle-policy-id",
            "TagSpecification.1.Tag.2.Value": "policy-0123456789abcdef0",
            "TagSpecification.1.Tag.3.Key": "InstanceId",
            "TagSpecification.1.Tag.3.Value": this.opts.instanceId,
        }).toString();
        const headers = { ...signedHeaders(this.endpoint, body, DLM_KEY, this.opts.region), "user-agent": "dlm-double" };
        const response = await fetch(this.endpoint, { method: "POST", body, headers });
        const text = await response.text();
        if (!response.ok) throw new Error(`DLM's CreateSnapshots failed: ${response.status} ${text}`);
        return [...text.matchAll(/<snapshotId>(snap-[0-9a-f]+)<\/snapshotId>/g)].map((m) => m[1]);
    }

    /** Adds a snapshot as if some earlier run (or another tool) had made it. */
    seedSnapshot(snapshot: StoredSnapshot): void {
        this.snapshotStore.set(snapshot.snapshotId, snapshot);
    }

    private describeSnapshots(params: Record<string, string>): string {
        const filters: { name: string; values: string[] }[] = [];
        for (let i = 1; params[`Filter.${i}.Name`] !== undefined; i++) {
            const values: string[] = [];
            for (let j = 1; params[`Filter.${i}.Value.${j}`] !== undefined; j++) values.push(params[`Filter.${i}.Value.${j}`]);
            filters.push({ name: params[`Filter.${i}.Name`], values });
        }
        // A filter's values may also arrive comma-separated in one value (the CLI's shorthand Values=a,b).
        const matches = [...this.snapshotStore.values()].filter((snap) =>
            filters.every((f) => {
                const values = f.values.flatMap((v) => v.split(","));
                if (f.name === "volume-id") return values.includes(snap.volumeId);
                if (!f.name.startsWith("tag:")) throw new Error(`double: unsupported filter ${f.name}`);
                return values.includes(snap.tags[f.name.slice(4)]);
            }),
        );
        const items = matches
            .map(
                (snap) =>
                    `<item><snapshotId>${snap.snapshotId}</snapshotId><volumeId>${snap.volumeId}</volumeId>` +
                    `<status>${snap.state ?? "completed"}</status><startTime>${snap.startTime.toISOString()}</startTime><progress>${snap.state === "pending" ? "3%" : "100%"}</progress>` +
                    `<ownerId>111122223333</ownerId><volumeSize>1</volumeSize><tagSet>${tagSetXml(snap.tags)}</tagSet></item>`,
            )
            .join("");
        return (
            `<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-5</requestId>` +
            `<snapshotSet>${items}</snapshotSet></DescribeSnapshotsResponse>`
        );
    }

    /** CreateTags on snapshots (the DLM post-script tags what DLM created); records every call. */
    public readonly tagCalls: { resources: string[]; tags: Record<string, string> }[] = [];
    private createTags(params: Record<string, string>, res: http.ServerResponse): void {
        const resources: string[] = [];
        for (let i = 1; params[`ResourceId.${i}`] !== undefined; i++) resources.push(params[`ResourceId.${i}`]);
        const tags: Record<string, string> = {};
        for (let i = 1; params[`Tag.${i}.Key`] !== undefined; i++) tags[params[`Tag.${i}.Key`]] = params[`Tag.${i}.Value`] ?? "";
        const missing = resources.find((id) => !this.snapshotStore.has(id));
        if (missing) return this.error(res, 400, "InvalidSnapshot.NotFound", `The snapshot '${missing}' does not exist.`);
        for (const id of resources) Object.assign(this.snapshotStore.get(id)!.tags, tags);
        this.tagCalls.push({ resources, tags });
        this.xml(
            res,
            200,
            `<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-7</requestId>` + "<return>true</return></CreateTagsResponse>",
        );
    }

    private deleteSnapshot(params: Record<string, string>, res: http.ServerResponse): void {
        const id = params.SnapshotId;
        if (this.undeletable.has(id)) {
            return this.error(res, 400, "InvalidSnapshot.InUse", `The snapshot ${id} is currently in use by ami-0123456789abcdef0`);
        }
        if (!this.snapshotStore.delete(id)) return this.error(res, 400, "InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
        this.xml(
            res,
            200,
            `<DeleteSnapshotResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-6</requestId>` +
                "<return>true</return></DeleteSnapshotResponse>",
        );
    }

    private imds(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
        this.requests.push({ atMs: Date.now(), kind: "imds", what: `${req.method} ${url}`, userAgent: req.headers["user-agent"] ?? "" });
        if (url === "/latest/api/token") {
            if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) {
                res.statusCode = 400;
                return void res.end();
            }
            res.statusCode = 200;
            return void res.end(this.token);
        }
        if (req.headers["x-aws-ec2-metadata-token"] !== this.token) {
            res.statusCode = 401; // IMDSv1 refused, as on Amazon Linux 2023 with IMDSv2 required
            return void res.end();
        }
        const values: Record<string, string> = {
            "/latest/meta-data/iam/security-credentials/": this.opts.roleName,
            [`/latest/meta-data/iam/security-credentials/${this.opts.roleName}`]: JSON.stringify({
                Code: "Success",
                LastUpdated: new Date().toISOString(),
                Type: "AWS-HMAC",
                AccessKeyId: ROLE_KEY.accessKeyId,
                SecretAccessKey: ROLE_KEY.secretAccessKey,
                Token: ROLE_KEY.sessionToken,
                Expiration: new Date(Date.now() + 6 * 3600 * 1000).toISOString(),
            }),
            "/latest/meta-data/instance-id": this.opts.instanceId,
            "/latest/meta-data/placement/region": this.opts.region,
            "/latest/meta-data/placement/availability-zone": this.opts.availabilityZone,
            "/latest/meta-data/services/domain": "amazonaws.com",
        };
        const value = values[url];
        res.statusCode = value === undefined ? 404 : 200;
        res.end(value ?? "");
    }

    /** Leaves a volume out of the instance's block device mappings (as if detached from the snapshot set) until reset. */
    hideVolume(volumeId: string): void {
        this.hidden.add(volumeId);
    }

    private mappingsXml(): string {
        return this.opts.volumes
            .filter((v) => !this.hidden.has(v.volumeId))
            .map(
                (v) =>
                    `<item><deviceName>${v.deviceName}</deviceName><ebs><volumeId>${v.volumeId}</volumeId>` +
                    `<status>attached</status><deleteOnTermination>false</deleteOnTermination></ebs></item>`,
            )
            .join("");
    }

    private describeInstances(): string {
        return (
            `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>` +
            `<reservationSet><item><reservationId>r-0123</reservationId><instancesSet><item>` +
            `<instanceId>${this.opts.instanceId}</instanceId><rootDeviceName>${this.opts.rootDeviceName}</rootDeviceName>` +
            `<placement><availabilityZone>${this.opts.availabilityZone}</availabilityZone></placement>` +
            `<blockDeviceMapping>${this.mappingsXml()}</blockDeviceMapping>` +
            `</item></instancesSet></item></reservationSet></DescribeInstancesResponse>`
        );
    }

    private describeInstanceAttribute(): string {
        return (
            `<DescribeInstanceAttributeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-2</requestId>` +
            `<instanceId>${this.opts.instanceId}</instanceId><blockDeviceMapping>${this.mappingsXml()}</blockDeviceMapping>` +
            `</DescribeInstanceAttributeResponse>`
        );
    }

    private async createSnapshots(action: "CreateSnapshots" | "CreateSnapshot", params: Record<string, string>, res: http.ServerResponse): Promise<void> {
        if (this.behaviour === "hang") {
            this.hanging.push(res);
            return;
        }
        if (this.behaviour === "error500") return this.error(res, 500, "InternalError", "An internal error has occurred");
        if (this.behaviour === "throttle") return this.error(res, 503, "RequestLimitExceeded", "Request limit exceeded.");
        if (this.behaviour === "unauthorized") {
            return this.error(res, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.");
        }
        const atMs = Date.now();
        let targets: FakeVolume[];
        if (action === "CreateSnapshots") {
            const excludeBoot = params["InstanceSpecification.ExcludeBootVolume"] === "true";
            targets = this.opts.volumes.filter((v) => !(excludeBoot && v.deviceName === this.opts.rootDeviceName));
        } else {
            targets = this.opts.volumes.filter((v) => v.volumeId === params.VolumeId);
        }
        const tooSoon = targets.find((v) =>
            [...this.snapshotStore.values()].some((snap) => snap.volumeId === v.volumeId && atMs - snap.startTime.getTime() < this.volumeSnapshotIntervalMs),
        );
        if (tooSoon) {
            return this.error(
                res,
                400,
                "SnapshotCreationPerVolumeRateExceeded",
                "The maximum per volume CreateSnapshot request rate has been exceeded. Use an increasing or variable sleep interval between requests.",
            );
        }
        const mounts = targets.flatMap((v) => (v.mountPoint ? [v.mountPoint] : []));
        const stopped = this.stopProcessDuringCopy;
        // Frozen or not, measured before the copies (a stopped server does not change what a freeze is).
        const frozenBefore = stopped ? await Promise.all(mounts.map((m) => this.probeFrozen(m))) : undefined;
        // The snapshot itself first: the state of every image at this instant.
        const snapshots: { snapshotId: string; volumeId: string; copy: string }[] = [];
        let stoppedAtMs: number | undefined;
        if (stopped) {
            process.kill(stopped, "SIGSTOP");
            stoppedAtMs = Date.now();
        }
        try {
            const copies: Promise<unknown>[] = [];
            for (const volume of targets) {
                const snapshotId = `snap-${(++this.snapshotCounter).toString(16).padStart(17, "0")}`;
                const copy = path.join(this.opts.snapshotDir, `${snapshotId}.img`);
                if (volume.image) copies.push(execFileAsync("cp", ["--reflink=always", volume.image, copy]));
                snapshots.push({ snapshotId, volumeId: volume.volumeId, copy });
                this.snapshotStore.set(snapshotId, { snapshotId, volumeId: volume.volumeId, startTime: new Date(atMs), tags: requestTags(params) });
            }
            await Promise.all(copies);
        } finally {
            if (stopped) process.kill(stopped, "SIGCONT");
        }
        if (stopped) {
            this.observations.push({
                action,
                atMs,
                params,
                dbWriteBlocked: false,
                rootWritable: true,
                maxInnodbId: 0,
                maxMyisamId: 0,
                appendLogLines: 0,
                snapshots,
                stoppedAtMs,
                frozen: Object.fromEntries(mounts.map((m, i) => [m, frozenBefore![i]])),
            });
            if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
            return this.respondCreated(action, params, atMs, snapshots, res);
        }
        if (this.behaviour === "hangAfterCreate") {
            this.hanging.push(res);
            return;
        }
        if (!this.observe) {
            if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
            return this.respondCreated(action, params, atMs, snapshots, res);
        }
        const [dbWriteBlocked, backupLockModes, frozenList, rootWritable, state] = await Promise.all([
            this.opts.lockFree().then((free) => !free),
            this.probeBackupLocks ? this.opts.backupLockModes() : Promise.resolve(undefined),
            Promise.all(mounts.map((m) => this.probeFrozen(m))),
            this.probeFrozen(this.opts.rootProbeDir).then((frozen) => !frozen),
            this.readState(),
        ]);
        this.observations.push({
            action,
            atMs,
            params,
            dbWriteBlocked,
            ...(backupLockModes === undefined ? {} : { backupLockModes }),
            rootWritable,
            ...state,
            snapshots,
            frozen: Object.fromEntries(mounts.map((m, i) => [m, frozenList[i]])),
        });
        if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
        return this.respondCreated(action, params, atMs, snapshots, res);
    }

    private respondCreated(
        action: "CreateSnapshots" | "CreateSnapshot",
        params: Record<string, string>,
        atMs: number,
        snapshots: { snapshotId: string; volumeId: string }[],
        res: http.ServerResponse,
    ): void {
        const tags = tagSetXml(requestTags(params));
        if (action === "CreateSnapshot") {
            const s = snapshots[0];
            return this.xml(
                res,
                200,
                `<CreateSnapshotResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
                    `<requestId>r-3</requestId><snapshotId>${s.snapshotId}</snapshotId><volumeId>${s.volumeId}</volumeId>` +
                    `<status>pending</status><startTime>${new Date(atMs).toISOString()}</startTime><progress></progress>` +
                    `<ownerId>111122223333</ownerId><volumeSize>1</volumeSize><description></description></CreateSnapshotResponse>`,
            );
        }
        const items = snapshots
            .map(
                (s) =>
                    `<item><snapshotId>${s.snapshotId}</snapshotId><volumeId>${s.volumeId}</volumeId>` +
                    `<state>pending</state><startTime>${new Date(atMs).toISOString()}</startTime><progress></progress>` +
                    `<ownerId>111122223333</ownerId><volumeSize>1</volumeSize><tagSet>${tags}</tagSet></item>`,
            )
            .join("");
        return this.xml(
            res,
            200,
            `<CreateSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
                `<requestId>r-4</requestId><snapshotSet>${items}</snapshotSet></CreateSnapshotsResponse>`,
        );
    }

    /**
     * A write to a frozen filesystem sleeps until thaw, so "frozen" is a write that has not finished in
     * 300 ms. The writer process is left to finish at thaw (it cannot be killed while it sleeps).
     */
    private probeFrozen(dir: string): Promise<boolean> {
        const child = spawn("sh", ["-c", 'echo probe >> "$1/.freeze-probe"', "probe", dir], { stdio: "ignore" });
        const done = new Promise<void>((resolve) => child.on("exit", () => resolve()));
        this.pendingWork.push(done);
        return Promise.race([done.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 300))]);
    }

    /**
     * The committed state at the snapshot instant. Reads are not blocked by the global read lock, but on 2
     * cores under the writer, the CLI and the freeze a client can be slow to start: retried, and a probe that
     * still fails is recorded (tests that need the state fail on it) instead of failing the API call.
     */
    private async readState(): Promise<{ maxInnodbId: number; maxMyisamId: number; appendLogLines: number; probeError?: string }> {
        let maxInnodbId = -1,
            maxMyisamId = -1,
            appendLogLines = -1;
        const errors: string[] = [];
        // Two attempts of 8 s at most: under the seed's sequence (no lock) a writer stuck on the frozen filesystem
        // holds MyISAM's table lock, so this read waits for the thaw, once per CreateSnapshot call.
        for (let attempt = 1; attempt <= 2 && maxInnodbId < 0; attempt++) {
            const started = Date.now();
            try {
                const out = await this.opts.sql("SELECT IFNULL(MAX(id),0) FROM app.inno; SELECT IFNULL(MAX(id),0) FROM app.myi", 8000);
                [maxInnodbId, maxMyisamId] = out.trim().split("\n").map(Number);
            } catch (err) {
                // Measured: under the lock and the freeze this read takes ~10 ms; record everything a rare failure shows.
                const e = err as Error & { code?: number | string; signal?: string; killed?: boolean; stderr?: string };
                errors.push(
                    `attempt ${attempt} after ${Date.now() - started} ms: exit ${e.code ?? "-"}, signal ${e.signal ?? "-"}, ` +
                        `killed ${e.killed ?? false}, stderr ${JSON.stringify(e.stderr ?? "")}`,
                );
            }
        }
        try {
            const { stdout } = await execFileAsync("sh", ["-c", 'wc -l < "$1" 2>/dev/null || echo 0', "wc", this.opts.appendLog]);
            appendLogLines = Number(stdout.trim());
        } catch (err) {
            errors.push(`append log: ${(err as Error).message}`);
        }
        return { maxInnodbId, maxMyisamId, appendLogLines, ...(maxInnodbId < 0 || appendLogLines < 0 ? { probeError: errors.join("; ") } : {}) };
    }

    private xml(res: http.ServerResponse, status: number, body: string): void {
        res.statusCode = status;
        res.setHeader("Content-Type", "text/xml;charset=UTF-8");
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
    }

    private error(res: http.ServerResponse, status: number, code: string, message: string): void {
        this.xml(
            res,
            status,
            `<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>` +
                `</Error></Errors><RequestID>req-err</RequestID></Response>`,
        );
    }
}

/** The tags of a CreateSnapshot(s) request's first tag specification, by key, as the Query API encodes them. */
export function requestTags(params: Record<string, string>): Record<string, string> {
    const tags: Record<string, string> = {};
    for (let i = 1; params[`TagSpecification.1.Tag.${i}.Key`] !== undefined; i++) {
        tags[params[`TagSpecification.1.Tag.${i}.Key`]] = params[`TagSpecification.1.Tag.${i}.Value`] ?? "";
    }
    return tags;
}

function tagSetXml(tags: Record<string, string>): string {
    return Object.entries(tags)
        .map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`)
        .join("");
}

function escapeXml(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
