#!/usr/bin/env node
// The operator CLI: `npx consistent-snapshots <command>`. Reads AWS the SDK's usual way (--region/--profile
// override); prints tables, or JSON with --json; progress goes to standard error; exit codes in EXIT.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_TAG_KEY, MAX_CONCURRENCY_PATTERN, MAX_ERRORS_PATTERN, tagError } from "../components/rules";
import { CliError, Context, EXIT, createClients } from "./context";
import { DEVICE_NAME, restoreCommand } from "./restore";
import { runCommand, runsCommand } from "./runs";
import { INSTANCE_ID, RUN_ID, snapshotsCommand } from "./snapshots";
import { verifyCommand } from "./verify";

export const USAGE = `consistent-snapshots <command> [options]

Commands:
  run        Run the snapshot document now and follow it to the end
             (--target <tag value> [--tag-key <key>] | --instance <id>...) [--parameter <name>=<value>]...
             [--log-group <name>] [--max-concurrency <n|n%>] [--max-errors <n|n%>] [--wait-seconds <s>]
  runs       The last runs of the document, one line per instance, with each run's summary
             [--instance <id>] [--command <command id>] [--since <7d|24h|ISO time>] [--limit <n>]
  snapshots  The snapshot sets, one per run, newest first; --run <RunId> shows one set with its tags
             [--instance <id>] [--run <RunId>] [--since <7d|24h|ISO time>] [--limit <n>]
  restore    <RunId> --instance <id>: new encrypted volumes from the run's snapshots, attached to the instance
             [--az <zone>] [--device-map <volume or snapshot id>=/dev/sdX,...] [--volume-type <type>]
             [--kms-key-id <key>] [--wait-seconds <s>] [--dry-run] [--allow-incomplete]
  verify     <RunId>: the restore drill on demand: the drill runbook restores the run's set on a short-lived
             instance, checks it with restore-verify.sh, tags RestoreResult; followed to the end
             (--drill-document <name> | --stack-outputs <file>) [--target-name <name>] [--wait-seconds <s>]

Options for every command:
  --region <region>  --profile <profile>  --json  --help
  --endpoint <url>          an endpoint for EC2 and SSM (e.g. a VPC interface endpoint)
  --document <name>         the snapshot document (run, runs); or:
  --stack-outputs <file|->  \`pulumi stack output --json\` of the stack (documentNames, logGroupName, and for run
                            runNowSettings: without --target/--instance, run sends what runNowCommand sends)

Exit codes: 0 done; 1 a run failed on a host, or ran nowhere, or a drill failed; 2 bad input (nothing created); 3 AWS refused or
failed a call; 4 timed out waiting.`;

const OPTIONS = {
    region: { type: "string" },
    profile: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
    document: { type: "string" },
    "stack-outputs": { type: "string" },
    endpoint: { type: "string" },
    target: { type: "string" },
    "tag-key": { type: "string" },
    instance: { type: "string", multiple: true },
    parameter: { type: "string", multiple: true },
    "log-group": { type: "string" },
    "max-concurrency": { type: "string" },
    "max-errors": { type: "string" },
    "wait-seconds": { type: "string" },
    command: { type: "string" },
    since: { type: "string" },
    limit: { type: "string" },
    run: { type: "string" },
    az: { type: "string" },
    "device-map": { type: "string", multiple: true },
    "volume-type": { type: "string" },
    "kms-key-id": { type: "string" },
    "dry-run": { type: "boolean" },
    "allow-incomplete": { type: "boolean" },
    "drill-document": { type: "string" },
    "target-name": { type: "string" },
} as const;

/** Which options each command takes (besides the common ones). */
const COMMAND_OPTIONS: Record<string, string[]> = {
    run: ["document", "stack-outputs", "target", "tag-key", "instance", "parameter", "log-group", "max-concurrency", "max-errors", "wait-seconds"],
    runs: ["document", "stack-outputs", "instance", "command", "since", "limit"],
    snapshots: ["instance", "run", "since", "limit"],
    restore: ["instance", "az", "device-map", "volume-type", "kms-key-id", "wait-seconds", "dry-run", "allow-incomplete"],
    verify: ["drill-document", "stack-outputs", "target-name", "wait-seconds"],
};
const COMMON = ["region", "profile", "json", "help", "endpoint"];

const bad = (message: string) => new CliError(`${message}\n(consistent-snapshots --help shows every command and option)`, EXIT.badInput);

function one(values: Record<string, unknown>, name: string): string | undefined {
    const v = values[name];
    return Array.isArray(v) ? v[v.length - 1] : (v as string | undefined);
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw bad(`--${name} ${value}: expected a whole number from ${min} to ${max}`);
    return Number(value);
}

/** --since: a duration back from now (30m, 24h, 7d) or an ISO 8601 time. */
export function parseSince(value: string | undefined, now: number): Date | undefined {
    if (value === undefined) return undefined;
    const relative = /^(\d{1,5})([mhd])$/.exec(value);
    if (relative) return new Date(now - Number(relative[1]) * { m: 60e3, h: 3600e3, d: 86400e3 }[relative[2] as "m" | "h" | "d"]);
    const time = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(time))
        throw bad(`--since ${value}: expected a duration back from now (30m, 24h, 7d) or an ISO 8601 time (2026-12-01 or 2026-12-01T06:00:00Z)`);
    return new Date(time);
}

function instanceIds(values: string[] | undefined): string[] {
    const ids = (values ?? []).flatMap((v) => v.split(",")).filter((v) => v !== "");
    for (const id of ids) if (!INSTANCE_ID.test(id)) throw bad(`--instance ${id}: expected an instance id (i- and 8 or 17 hexadecimal digits)`);
    return ids;
}

/** The stack outputs the CLI reads (index.ts's; a program that embeds the components may export the same names). */
interface StackOutputs {
    documentNames?: string[];
    logGroupName?: string;
    restoreDrillDocumentName?: string;
    runNowSettings?: { tagKey?: string; tagValue?: string; maxConcurrency?: string; maxErrors?: string; parameters?: Record<string, string> };
}

/** The stack's outputs, from `pulumi stack output --json` (a file, or - for standard input). */
function stackOutputs(source: string | undefined): StackOutputs {
    if (source === undefined) return {};
    let text: string;
    try {
        text = fs.readFileSync(source === "-" ? 0 : source, "utf8");
    } catch (error) {
        throw bad(`--stack-outputs ${source}: cannot read it (${(error as Error).message})`);
    }
    try {
        const value = JSON.parse(text) as unknown;
        if (value && typeof value === "object" && !Array.isArray(value)) return value as StackOutputs;
    } catch {
        /* below */
    }
    throw bad(`--stack-outputs ${source}: expected the JSON object \`pulumi stack output --json\` prints`);
}

const DOCUMENT_NAME = /^[a-zA-Z0-9_\-.:/]{3,128}$/;

function documentName(values: Record<string, unknown>, outputs: { documentNames?: string[] }): string {
    const name = one(values, "document") ?? (Array.isArray(outputs.documentNames) ? outputs.documentNames[0] : undefined);
    if (name === undefined)
        throw bad(
            "which document? give --document <name>, or --stack-outputs with the stack's documentNames (npx pulumi stack output --json | consistent-snapshots ... --stack-outputs -)",
        );
    if (!DOCUMENT_NAME.test(name)) throw bad(`--document ${name}: expected an SSM document name (3-128 of letters, digits, _ - . : /)`);
    return name;
}

/** --parameter name=value, each over the stack's run-now parameter of that name. */
function parameters(values: string[] | undefined, defaults: Record<string, string> = {}): Record<string, string[]> {
    const out: Record<string, string[]> = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, [String(v)]]));
    for (const p of values ?? []) {
        const match = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/s.exec(p);
        if (!match) throw bad(`--parameter ${p}: expected <name>=<value>, e.g. maxFreezeSeconds=20`);
        out[match[1]] = [match[2]];
    }
    return out;
}

function deviceMap(values: string[] | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of (values ?? []).flatMap((v) => v.split(",")).filter((v) => v !== "")) {
        const match = /^((?:vol|snap)-[0-9a-f]{8,17})=(.+)$/.exec(entry);
        if (!match || !DEVICE_NAME.test(match[2]))
            throw bad(`--device-map ${entry}: expected <volume or snapshot id>=<device>, e.g. vol-0123456789abcdef0=/dev/sdg`);
        out[match[1]] = match[2];
    }
    return out;
}

/** Parses the command line and runs the command; returns the exit code. */
export async function main(argv: string[], makeContext: (aws: { region?: string; profile?: string; endpoint?: string }) => Context): Promise<number> {
    const [command, ...rest] = argv;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.badInput : EXIT.ok;
    }
    if (!(command in COMMAND_OPTIONS)) throw bad(`unknown command ${JSON.stringify(command)}: expected one of ${Object.keys(COMMAND_OPTIONS).join(", ")}`);
    let parsed;
    try {
        parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
        throw bad(`${command}: ${(error as Error).message}`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
        process.stdout.write(`${USAGE}\n`);
        return EXIT.ok;
    }
    const allowed = [...COMMON, ...COMMAND_OPTIONS[command]];
    const misplaced = Object.keys(values).find((k) => !allowed.includes(k));
    if (misplaced) throw bad(`${command} takes no --${misplaced}`);
    const ctx = makeContext({ region: values.region, profile: values.profile, endpoint: values.endpoint });
    const json = values.json === true;
    const outputs = stackOutputs(values["stack-outputs"]);
    const limit = integer("limit", values.limit, 20, 1, 1000);
    const since = parseSince(values.since, ctx.now());
    const instances = instanceIds(values.instance);
    if (command !== "restore" && command !== "verify" && positionals.length > 0)
        throw bad(`${command} takes no positional argument (got ${positionals.join(" ")})`);

    switch (command) {
        case "run": {
            // Without --target or --instance, the stack's main target (runNowSettings), as its runNowCommand.
            const settings = outputs.runNowSettings ?? {};
            const tagValue = values.target ?? (instances.length === 0 ? settings.tagValue : undefined);
            if (values.target !== undefined && instances.length > 0) throw bad("run: give --target <tag value> or --instance <id> (one of the two)");
            if (tagValue === undefined && instances.length === 0)
                throw bad("run: give --target <tag value> or --instance <id> (one of the two), or --stack-outputs with runNowSettings");
            const tagKey = values["tag-key"] ?? settings.tagKey ?? DEFAULT_TAG_KEY;
            const tagProblem = tagError(tagKey, true) ?? (tagValue === undefined ? undefined : tagError(tagValue, false));
            if (tagProblem) throw bad(`--tag-key/--target: expected ${tagProblem}`);
            const maxConcurrency = values["max-concurrency"] ?? settings.maxConcurrency ?? "1";
            if (!MAX_CONCURRENCY_PATTERN.test(maxConcurrency))
                throw bad(`--max-concurrency ${maxConcurrency}: expected a count from 1 or a percentage from 1% to 100%`);
            const maxErrors = values["max-errors"] ?? settings.maxErrors ?? "1";
            if (!MAX_ERRORS_PATTERN.test(maxErrors)) throw bad(`--max-errors ${maxErrors}: expected a count from 0 or a percentage from 0% to 100%`);
            return runCommand(ctx, {
                documentName: documentName(values, outputs),
                tagValue,
                tagKey,
                instanceIds: instances,
                parameters: parameters(values.parameter, settings.parameters),
                logGroupName: values["log-group"] ?? outputs.logGroupName,
                maxConcurrency,
                maxErrors,
                waitSeconds: integer("wait-seconds", values["wait-seconds"], 1800, 10, 172800),
                json,
            });
        }
        case "runs": {
            const commandId = values.command;
            if (commandId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(commandId)) {
                throw bad(`--command ${commandId}: expected an SSM command id (a UUID)`);
            }
            if (instances.length > 1) throw bad("runs: give at most one --instance");
            return runsCommand(ctx, { documentName: documentName(values, outputs), instanceId: instances[0], commandId, since, limit, json });
        }
        case "snapshots": {
            const runId = values.run;
            if (runId !== undefined && !RUN_ID.test(runId)) throw bad(`--run ${runId}: expected a RunId such as cs-20261201T000012Z-4242`);
            if (instances.length > 1) throw bad("snapshots: give at most one --instance");
            return snapshotsCommand(ctx, { instanceId: instances[0], runId, since, limit, json });
        }
        case "verify": {
            if (positionals.length !== 1 || !RUN_ID.test(positionals[0]))
                throw bad(`verify: expected one RunId (such as cs-20261201T000012Z-4242), got ${positionals.join(" ") || "none"}`);
            const drillDocument = values["drill-document"] ?? outputs.restoreDrillDocumentName;
            if (drillDocument === undefined)
                throw bad(
                    "verify: which drill? give --drill-document <name>, or --stack-outputs with the stack's restoreDrillDocumentName (set restoreDrill in the stack)",
                );
            if (!DOCUMENT_NAME.test(drillDocument))
                throw bad(`--drill-document ${drillDocument}: expected an SSM document name (3-128 of letters, digits, _ - . : /)`);
            const targetName = values["target-name"] ?? "main";
            if (!/^[A-Za-z0-9_.-]{1,128}$/.test(targetName)) throw bad(`--target-name ${targetName}: expected a target's name (main, extra-1, ...)`);
            return verifyCommand(ctx, {
                runId: positionals[0],
                documentName: drillDocument,
                targetName,
                waitSeconds: integer("wait-seconds", values["wait-seconds"], 5400, 10, 86400),
                json,
            });
        }
        default: {
            if (positionals.length !== 1 || !RUN_ID.test(positionals[0]))
                throw bad(`restore: expected one RunId (such as cs-20261201T000012Z-4242), got ${positionals.join(" ") || "none"}`);
            if (instances.length !== 1) throw bad("restore: give the instance to attach the volumes to, --instance <id>");
            const az = values.az;
            if (az !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(az)) throw bad(`--az ${az}: expected an Availability Zone name such as eu-west-1a`);
            return restoreCommand(ctx, {
                runId: positionals[0],
                instanceId: instances[0],
                availabilityZone: az,
                deviceMap: deviceMap(values["device-map"]),
                volumeType: values["volume-type"],
                kmsKeyId: values["kms-key-id"],
                dryRun: values["dry-run"] === true,
                allowIncomplete: values["allow-incomplete"] === true,
                waitSeconds: integer("wait-seconds", values["wait-seconds"], 3600, 10, 86400),
                json,
            });
        }
    }
}

/** The real context: SDK clients, the terminal, real time. */
export function defaultContext(aws: { region?: string; profile?: string; endpoint?: string }): Context {
    let clients: Context["clients"] | undefined;
    return {
        // Created on first use: a usage error needs none (and the SDK's own start-up warnings stay out of it).
        get clients() {
            clients ??= createClients(aws);
            return clients;
        },
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`consistent-snapshots: ${text}\n`),
        pollMs: 5000,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        now: () => Date.now(),
    };
}

/** main, with every failure turned into its message on standard error and its exit code (never a stack trace for a CliError). */
export async function cli(
    argv: string[],
    makeContext: (aws: { region?: string; profile?: string; endpoint?: string }) => Context,
    writeError: (text: string) => void = (text) => process.stderr.write(text),
): Promise<number> {
    try {
        return await main(argv, makeContext);
    } catch (error) {
        if (error instanceof CliError) {
            writeError(`consistent-snapshots: ${error.message}\n`);
            return error.exitCode;
        }
        writeError(`consistent-snapshots: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
        return EXIT.awsError;
    }
}

if (require.main === module) {
    void cli(process.argv.slice(2), defaultContext).then((code) => {
        process.exitCode = code;
    });
}
