// `run` and `runs`: a run is one SSM command invocation of the snapshot document on one instance (a
// maintenance-window task, a run-now, or DLM's pre- or post-script); its result is the script's JSON summary, the
// last line of its standard output (the script writes its log to standard error).
import {
    CommandInvocation,
    GetCommandInvocationCommand,
    ListCommandsCommand,
    SendCommandCommand,
    paginateListCommandInvocations,
    paginateListCommands,
} from "@aws-sdk/client-ssm";
import { CliError, Context, EXIT, aws, isAwsError } from "./context";
import { isoTime, ms, table } from "./format";

/** Every invocation of a command (all pages), or only one instance's. */
async function listInvocations(ctx: Context, commandId: string, instanceId?: string): Promise<CommandInvocation[]> {
    const found: CommandInvocation[] = [];
    const input = { CommandId: commandId, ...(instanceId ? { InstanceId: instanceId } : {}) };
    for await (const page of paginateListCommandInvocations({ client: ctx.clients.ssm }, input)) found.push(...(page.CommandInvocations ?? []));
    return found;
}

/** SSM command and invocation statuses after which nothing changes. */
const FINAL_STATUSES = [
    "Success",
    "Failed",
    "Cancelled",
    "TimedOut",
    "DeliveryTimedOut",
    "ExecutionTimedOut",
    "Undeliverable",
    "Terminated",
    "InvalidPlatform",
    "AccessDenied",
];

/** The script's summary (the fields the CLI shows; the rest is kept in --json). */
export interface RunSummary {
    status?: string;
    exitCode?: number;
    message?: string;
    command?: string;
    runId?: string;
    lockMethod?: string;
    lockHeldMs?: number;
    writeBlockWindowMs?: number;
    frozenMs?: number;
    apiMs?: number;
    snapshots?: { snapshotId: string; volumeId: string }[];
    [field: string]: unknown;
}

export interface RunRecord {
    commandId: string;
    instanceId: string;
    requestedAt?: Date;
    /** SSM's status of this instance's invocation. */
    status: string;
    documentName?: string;
    /** Who sent it: the comment SSM keeps (a window execution, DLM, or the run-now comment). */
    comment?: string;
    summary?: RunSummary;
    /** Why no summary (no output, or output that is not the script's summary). */
    summaryProblem?: string;
}

/** The script's summary from an invocation's standard output: its last line, when it is a JSON object. */
export function parseSummary(stdout: string | undefined): { summary?: RunSummary; problem?: string } {
    const last = (stdout ?? "").trimEnd().split("\n").pop() ?? "";
    if (last === "") return { problem: "no output (the script did not start, or output is not kept)" };
    try {
        const value: unknown = JSON.parse(last);
        if (value && typeof value === "object" && !Array.isArray(value) && "exitCode" in value) return { summary: value as RunSummary };
    } catch {
        /* not JSON: the problem below */
    }
    return { problem: `the last line of the output is not the script's summary: ${last.slice(0, 120)}` };
}

async function summaryOf(ctx: Context, commandId: string, instanceId: string): Promise<{ summary?: RunSummary; problem?: string }> {
    try {
        const out = await ctx.clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
        return parseSummary(out.StandardOutputContent);
    } catch (error) {
        if (isAwsError(error, "InvocationDoesNotExist")) return { problem: "SSM no longer has this invocation's output" };
        throw error;
    }
}

function summaryColumns(r: RunRecord): (string | number)[] {
    const s = r.summary;
    return [
        s?.status ?? "-",
        s?.exitCode ?? "-",
        s?.lockMethod || "-",
        ms(s?.writeBlockWindowMs),
        ms(s?.frozenMs),
        s?.snapshots?.map((x) => x.snapshotId).join(",") || "-",
        s?.runId || "-",
    ];
}
const SUMMARY_HEADERS = ["SCRIPT", "EXIT", "LOCK", "WRITES BLOCKED", "FROZEN", "SNAPSHOTS", "RUN"];

export interface RunOptions {
    documentName: string;
    /** Instances with the tag <tagKey>=<tagValue>. */
    tagValue?: string;
    tagKey: string;
    instanceIds: string[];
    parameters: Record<string, string[]>;
    logGroupName?: string;
    maxConcurrency: string;
    maxErrors: string;
    /** How long to follow the command before giving up (it goes on in SSM). */
    waitSeconds: number;
    json: boolean;
}

export async function runCommand(ctx: Context, options: RunOptions): Promise<number> {
    const sent = await aws(`ssm SendCommand of ${options.documentName}`, () =>
        ctx.clients.ssm.send(
            new SendCommandCommand({
                DocumentName: options.documentName,
                ...(options.tagValue !== undefined
                    ? { Targets: [{ Key: `tag:${options.tagKey}`, Values: [options.tagValue] }] }
                    : { InstanceIds: options.instanceIds }),
                Parameters: options.parameters,
                MaxConcurrency: options.maxConcurrency,
                MaxErrors: options.maxErrors,
                Comment: "consistent-snapshots run (operator CLI)",
                ...(options.logGroupName ? { CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: options.logGroupName } } : {}),
            }),
        ),
    );
    const commandId = sent.Command?.CommandId ?? "";
    ctx.err(
        `sent command ${commandId} (${options.documentName}) to ${options.tagValue !== undefined ? `tag:${options.tagKey}=${options.tagValue}` : options.instanceIds.join(", ")}`,
    );
    const deadline = ctx.now() + options.waitSeconds * 1000;
    let last = "";
    let invocations: CommandInvocation[] = [];
    let commandStatus = "Pending";
    let targetCount = 0;
    for (;;) {
        try {
            const command = (await ctx.clients.ssm.send(new ListCommandsCommand({ CommandId: commandId }))).Commands?.[0];
            commandStatus = command?.Status ?? commandStatus;
            targetCount = command?.TargetCount ?? targetCount;
            invocations = await listInvocations(ctx, commandId);
        } catch (error) {
            // Following is best effort: a throttled poll (past the SDK's retries) waits for the next one.
            if (!isAwsError(error, "ThrottlingException"))
                throw new CliError(`following command ${commandId}: ${(error as Error).name}: ${(error as Error).message}`, EXIT.awsError);
            ctx.err(`throttled while following ${commandId}; trying again`);
        }
        const progress = `${commandStatus}: ${invocations.map((i) => `${i.InstanceId} ${i.Status}`).join(", ") || "no instance yet"}`;
        if (progress !== last) ctx.err(progress);
        last = progress;
        if (FINAL_STATUSES.includes(commandStatus) && invocations.every((i) => FINAL_STATUSES.includes(i.Status ?? ""))) break;
        if (ctx.now() >= deadline) {
            throw new CliError(
                `command ${commandId} not finished after ${options.waitSeconds} s (${progress}); it goes on in SSM: \`runs --command ${commandId}\` shows it later`,
                EXIT.timedOut,
            );
        }
        await ctx.sleep(ctx.pollMs);
    }
    if (invocations.length === 0) {
        const why =
            targetCount === 0
                ? `no instance matched ${options.tagValue !== undefined ? `tag:${options.tagKey}=${options.tagValue}` : "the instance ids"} (or none is managed by SSM)`
                : `status ${commandStatus}`;
        ctx.out(`command ${commandId} ran nowhere: ${why}`);
        return EXIT.runFailed;
    }
    const records: RunRecord[] = [];
    for (const i of invocations) {
        const { summary, problem } = await aws("ssm GetCommandInvocation", () => summaryOf(ctx, commandId, i.InstanceId ?? ""));
        records.push({
            commandId,
            instanceId: i.InstanceId ?? "",
            status: i.Status ?? "",
            requestedAt: i.RequestedDateTime,
            documentName: options.documentName,
            summary,
            summaryProblem: problem,
        });
    }
    printRuns(ctx, records, options.json);
    return records.every((r) => r.status === "Success" && r.summary?.exitCode === 0) ? EXIT.ok : EXIT.runFailed;
}

function printRuns(ctx: Context, records: RunRecord[], json: boolean): void {
    if (json) {
        ctx.out(JSON.stringify(records, null, 2));
        return;
    }
    ctx.out(
        table(
            ["REQUESTED", "INSTANCE", "SSM STATUS", ...SUMMARY_HEADERS, "COMMAND"],
            records.map((r) => [isoTime(r.requestedAt), r.instanceId, r.status, ...summaryColumns(r), r.commandId]),
            "(no run of the document in this period)",
        ),
    );
    for (const r of records) {
        if (r.summary && r.summary.exitCode !== 0) ctx.out(`${r.instanceId} ${r.commandId}: exit ${r.summary.exitCode}: ${r.summary.message}`);
        else if (!r.summary) ctx.out(`${r.instanceId} ${r.commandId}: ${r.summaryProblem}`);
    }
}

export interface RunsOptions {
    documentName: string;
    instanceId?: string;
    commandId?: string;
    since?: Date;
    /** At most this many commands, newest first. */
    limit: number;
    json: boolean;
}

/** The last runs of the document, one line per instance and command, newest first, with each run's summary. */
export async function runsCommand(ctx: Context, options: RunsOptions): Promise<number> {
    const commands = await aws("ssm ListCommands", async () => {
        const found = [];
        const filters = [
            { key: "DocumentName" as const, value: options.documentName },
            ...(options.since ? [{ key: "InvokedAfter" as const, value: options.since.toISOString().replace(/\.\d{3}Z$/, "Z") }] : []),
        ];
        const input = options.commandId
            ? { CommandId: options.commandId }
            : { Filters: filters, ...(options.instanceId ? { InstanceId: options.instanceId } : {}) };
        for await (const page of paginateListCommands({ client: ctx.clients.ssm, pageSize: 50 }, input)) {
            found.push(...(page.Commands ?? []));
            if (found.length >= options.limit) break;
        }
        return found.slice(0, options.limit);
    });
    const records: RunRecord[] = [];
    for (const command of commands) {
        const commandId = command.CommandId ?? "";
        const invocations = await aws("ssm ListCommandInvocations", () => listInvocations(ctx, commandId, options.instanceId));
        for (const i of invocations) {
            const final = FINAL_STATUSES.includes(i.Status ?? "");
            const { summary, problem } = final
                ? await aws("ssm GetCommandInvocation", () => summaryOf(ctx, commandId, i.InstanceId ?? ""))
                : { summary: undefined, problem: "still running" };
            records.push({
                commandId,
                instanceId: i.InstanceId ?? "",
                status: i.Status ?? "",
                requestedAt: i.RequestedDateTime ?? command.RequestedDateTime,
                documentName: command.DocumentName,
                comment: command.Comment,
                summary,
                summaryProblem: problem,
            });
        }
    }
    printRuns(ctx, records, options.json);
    return EXIT.ok;
}
