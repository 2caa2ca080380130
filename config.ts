// The stack's configuration: every key, its default and its rule, in one place. `loadStackConfig` runs
// before any resource is declared; a bad value fails `pulumi preview` with a message that names the key,
// the value and the accepted form. The components' own checks judge the values they take (messages renamed to
// the config keys); the rules here are the stack's. Pulumi.yaml declares the same keys and defaults for the CLI.
import * as pulumi from "@pulumi/pulumi";
import { MYSQL_HOST_DEFAULTS } from "./components/mysqlHost";
import { DEFAULT_TAG_VALUE } from "./components/rules";
import { MAX_FRESHNESS_HOURS } from "./components/schedule";
import { DLM_SCRIPT_PARAMETERS, SNAPSHOT_SCRIPTS, SnapshotScriptName, documentParameterError } from "./components/snapshotDocument";
import { SnapshotCopyRegion, lifecyclePolicyArgsErrors } from "./components/snapshotLifecyclePolicy";
import { MAINTENANCE_WINDOW_DEFAULTS, SnapshotTargetArgs, WINDOW_TARGET_DEFAULTS, maintenanceWindowArgsErrors } from "./components/snapshotMaintenanceWindow";
import { RestoreDrillRunArgs, restoreDrillRunArgsErrors } from "./components/restoreDrill";

export const PROJECT = "consistent-snapshots";

/** An additional maintenance-window target: instances tagged `<tagKey>=<tagValue>` run `script`'s document. */
export interface ExtraTargetConfig {
    tagValue: string;
    script: SnapshotScriptName;
    maxConcurrency: string;
    maxErrors: string;
    parameters: Record<string, string>;
}

export interface StackConfig {
    /** Who runs the snapshots: an SSM maintenance window, or Data Lifecycle Manager with pre/post scripts. */
    scheduler: "maintenanceWindow" | "dlm";
    schedule: string;
    scheduleTimezone: string;
    duration: number;
    cutoff: number;
    enabled: boolean;
    tagKey: string;
    tagValue: string;
    maxConcurrency: string;
    maxErrors: string;
    networkMode: "public" | "private";
    createDemoHost: boolean;
    instanceType: string;
    dataVolumeSizeGiB: number;
    /** Pulumi `protect` on the demo host's data volume. */
    protectDataVolume: boolean;
    /** Pulumi `retainOnDelete` on the demo host's data volume. */
    retainDataVolumeOnDelete: boolean;
    /** Days the demo host's MariaDB keeps binary logs. */
    binlogExpireDays: number;
    logRetentionDays: number;
    /** KMS key of the command-output log group: "" (CloudWatch Logs' own encryption), "create", or a key ARN. */
    logGroupKmsKey: string;
    commandTimeoutSeconds: number;
    snapshotParameters: Record<string, string>;
    extraTargets: ExtraTargetConfig[];
    /** E-mail address subscribed to failure alerts ("" = none). */
    alertEmail: string;
    /** Existing SNS topic for failure alerts ("" = create one). */
    alertTopicArn: string;
    /** scheduler dlm: copy every snapshot to these Regions. */
    copyToRegions: SnapshotCopyRegion[];
    /** scheduler dlm: fast snapshot restore in these Availability Zones. */
    fastRestoreAvailabilityZones: string[];
    /** scheduler dlm: take a crash-consistent snapshot anyway when the pre-script fails. */
    executeOperationOnScriptFailure: boolean;
    /** Hours without a successful run before the freshness alarm: "auto" (from the schedule), 0 (none) or 1-168. */
    freshnessHours: "auto" | number;
    /** Scheduled restore drills ({}: none); `subnetId: "auto"` is the demo network's private subnet. */
    restoreDrill: RestoreDrillConfig | Record<string, never>;
}

/** The `restoreDrill` key: a RestoreDrill's arguments, with `subnetId` possibly `auto`. */
export const hasRestoreDrill = (config: Pick<StackConfig, "restoreDrill">): config is { restoreDrill: RestoreDrillConfig } => "subnetId" in config.restoreDrill;
export type RestoreDrillConfig = Omit<RestoreDrillRunArgs, "subnetId"> & { subnetId: string };
/** The fields `restoreDrill` takes. */
const RESTORE_DRILL_FIELDS = ["subnetId", "schedule", "scheduleTimezone", "enabled", "instanceType", "imageId", "timeoutMinutes", "serverPackage"];

/** Defaults, applied here because the mocked runtime (and `new pulumi.Config` in code) never sees Pulumi.yaml's. */
export const CONFIG_DEFAULTS: Readonly<StackConfig> = Object.freeze({
    scheduler: "maintenanceWindow",
    schedule: MAINTENANCE_WINDOW_DEFAULTS.schedule,
    scheduleTimezone: MAINTENANCE_WINDOW_DEFAULTS.scheduleTimezone,
    duration: MAINTENANCE_WINDOW_DEFAULTS.duration,
    cutoff: MAINTENANCE_WINDOW_DEFAULTS.cutoff,
    enabled: MAINTENANCE_WINDOW_DEFAULTS.enabled,
    tagKey: MAINTENANCE_WINDOW_DEFAULTS.tagKey,
    tagValue: DEFAULT_TAG_VALUE,
    maxConcurrency: WINDOW_TARGET_DEFAULTS.maxConcurrency,
    maxErrors: WINDOW_TARGET_DEFAULTS.maxErrors,
    networkMode: "public",
    createDemoHost: true,
    instanceType: MYSQL_HOST_DEFAULTS.instanceType,
    dataVolumeSizeGiB: MYSQL_HOST_DEFAULTS.dataVolumeSizeGiB,
    protectDataVolume: MYSQL_HOST_DEFAULTS.protectDataVolume,
    retainDataVolumeOnDelete: MYSQL_HOST_DEFAULTS.retainDataVolumeOnDelete,
    binlogExpireDays: MYSQL_HOST_DEFAULTS.binlogExpireDays,
    logRetentionDays: MAINTENANCE_WINDOW_DEFAULTS.logRetentionDays,
    logGroupKmsKey: "",
    commandTimeoutSeconds: MAINTENANCE_WINDOW_DEFAULTS.commandTimeoutSeconds,
    snapshotParameters: {},
    extraTargets: [],
    alertEmail: "",
    alertTopicArn: "",
    copyToRegions: [],
    fastRestoreAvailabilityZones: [],
    executeOperationOnScriptFailure: false,
    freshnessHours: "auto",
    restoreDrill: {},
});

/** Keys whose values are structured (JSON objects or lists in the stack file). */
const STRUCTURED_KEYS = ["snapshotParameters", "extraTargets", "copyToRegions", "fastRestoreAvailabilityZones", "restoreDrill"];

/**
 * The instance policy names every targeted tag value and IAM limits a managed policy to 6,144 characters
 * (whitespace not counted); the rest of the policy takes about 1,500. Each value costs its length plus 3.
 */
export const TAG_VALUES_POLICY_BUDGET = 4000;
/** A KMS key ARN (CloudWatch Logs takes a key ARN, not an alias, for a log group). */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/(mrk-)?[0-9a-f-]{32,36}$/;
/** SSM quota: 20 tasks per maintenance window (not adjustable); one is the main target's. */
export const MAX_EXTRA_TARGETS = 19;

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

type Raw = Record<string, unknown>;

/** Reads the stack's configuration and validates it; throws one ConfigError listing every problem. */
export function loadStackConfig(config: pulumi.Config = new pulumi.Config(PROJECT)): StackConfig {
    const raw: Raw = {};
    for (const key of Object.keys(CONFIG_DEFAULTS)) {
        if (STRUCTURED_KEYS.includes(key)) {
            const text = config.get(key);
            if (text !== undefined) {
                try {
                    raw[key] = JSON.parse(text);
                } catch {
                    raw[key] = text;
                }
            }
        } else {
            raw[key] = config.get(key);
        }
    }
    return validateStackConfig(raw, new pulumi.Config("aws").get("region"));
}

/**
 * Validates raw values (strings as the CLI stores them, or typed values) and applies defaults. `region` is the
 * stack's (`aws:region`), where known: a KMS key must be in it.
 */
export function validateStackConfig(raw: Raw, region?: string): StackConfig {
    const problems: string[] = [];
    const problem = (key: string, value: unknown, expected: string) =>
        problems.push(`${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected ${expected}`);
    const given = (key: keyof StackConfig) => raw[key] !== undefined && raw[key] !== null;

    const str = (key: keyof StackConfig): string => (given(key) ? String(raw[key]) : String(CONFIG_DEFAULTS[key]));
    const int = (key: keyof StackConfig, min: number, max: number, what = `an integer from ${min} to ${max}`): number => {
        const value = str(key);
        if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
            problem(key, raw[key], what);
            return CONFIG_DEFAULTS[key] as number;
        }
        return Number(value);
    };
    // A number for a component to judge: the value as given when it is not numeric text (reported as given).
    const num = (key: keyof StackConfig): number => {
        const value = str(key);
        return (/^-?[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : raw[key]) as number;
    };
    const bool = (key: keyof StackConfig): boolean => {
        const value = str(key);
        if (value !== "true" && value !== "false") {
            problem(key, raw[key], "true or false");
            return CONFIG_DEFAULTS[key] as boolean;
        }
        return value === "true";
    };

    // What the maintenance window takes, as it will get it: its own check judges the values.
    const schedule = str("schedule");
    const scheduleTimezone = str("scheduleTimezone");
    const tagKey = str("tagKey");
    const tagValue = str("tagValue");
    const maxConcurrency = str("maxConcurrency");
    const maxErrors = str("maxErrors");
    const duration = num("duration");
    const cutoff = num("cutoff");
    const logRetentionDays = num("logRetentionDays");
    const commandTimeoutSeconds = num("commandTimeoutSeconds");

    const networkMode = str("networkMode");
    if (networkMode !== "public" && networkMode !== "private") problem("networkMode", networkMode, "public or private");

    const instanceType = str("instanceType");
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) problem("instanceType", instanceType, "an EC2 instance type such as t3.micro");

    const freshnessText = str("freshnessHours");
    const freshnessHours: "auto" | number = freshnessText === "auto" ? "auto" : num("freshnessHours");
    // Judged on the schedule by the window's or the policy's own check (below); here only its form.
    const freshnessParsed = freshnessText === "auto" || (typeof freshnessHours === "number" && Number.isInteger(freshnessHours));
    if (!freshnessParsed)
        problem("freshnessHours", raw.freshnessHours, `auto, 0 (no freshness alarm) or a whole number of hours from 1 to ${MAX_FRESHNESS_HOURS}`);
    const givenFreshness = freshnessParsed && freshnessHours !== "auto" ? freshnessHours : undefined;

    const logGroupKmsKey = str("logGroupKmsKey");
    const keyRegion = KMS_KEY_ARN.exec(logGroupKmsKey)?.[1];
    if (logGroupKmsKey !== "" && logGroupKmsKey !== "create" && (!keyRegion || (region !== undefined && keyRegion !== region))) {
        problem(
            "logGroupKmsKey",
            logGroupKmsKey,
            `empty (CloudWatch Logs' own encryption), create (a key of this stack), or the ARN of a KMS key in the stack's Region${region ? ` (arn:aws:kms:${region}:<account>:key/<id>)` : ""}: CloudWatch Logs uses keys of its own Region`,
        );
    }

    const alertEmail = str("alertEmail");
    if (alertEmail !== "" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alertEmail)) problem("alertEmail", alertEmail, "an e-mail address, or empty for none");
    const alertTopicArn = str("alertTopicArn");
    if (alertTopicArn !== "" && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$/.test(alertTopicArn)) {
        problem("alertTopicArn", alertTopicArn, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), or empty to create a topic");
    }

    const scheduler = str("scheduler");
    if (scheduler !== "maintenanceWindow" && scheduler !== "dlm") problem("scheduler", scheduler, "maintenanceWindow or dlm");

    const snapshotParameters = parameters("snapshotParameters", raw.snapshotParameters, "consistent-snapshot", problem);
    const parsedTargets = targets(raw.extraTargets, tagValue, problem);
    const extraTargets = parsedTargets.map((t) => t.target);
    const windowProblems = maintenanceWindowArgsErrors({
        schedule,
        scheduleTimezone,
        duration,
        cutoff,
        tagKey,
        logRetentionDays,
        commandTimeoutSeconds,
        // Under dlm the policy's check judges the freshness window on the same schedule.
        freshnessHours: scheduler === "dlm" ? 0 : givenFreshness,
        targets: windowTargets({ tagValue, maxConcurrency, maxErrors, snapshotParameters, extraTargets }),
    });
    for (const error of windowProblems)
        problems.push(
            `${PROJECT}:${renameWindowArgument(
                error,
                parsedTargets.map((t) => t.index),
            )}`,
        );
    const tagValuesCost = [tagValue, ...extraTargets.map((t) => t.tagValue)].reduce((sum, v) => sum + [...v].length + 3, 0);
    if (tagValuesCost > TAG_VALUES_POLICY_BUDGET) {
        problem(
            "extraTargets",
            `${extraTargets.length} targets`,
            `tag values (tagValue and every extraTargets[].tagValue) of at most ${TAG_VALUES_POLICY_BUDGET} characters in all, counting 3 more per value (now ${tagValuesCost}): the instance policy names every targeted value and IAM limits a managed policy to 6,144 characters`,
        );
    }

    const copyToRegions = list<SnapshotCopyRegion>(
        "copyToRegions",
        raw.copyToRegions,
        "a list of {region, retainDays?, cmkArn?}",
        (v) =>
            typeof v === "object" &&
            v !== null &&
            !Array.isArray(v) &&
            typeof (v as Raw).region === "string" &&
            Object.keys(v as Raw).every((k) => ["region", "retainDays", "cmkArn"].includes(k)),
        problem,
    );
    const fastRestoreAvailabilityZones = list<string>(
        "fastRestoreAvailabilityZones",
        raw.fastRestoreAvailabilityZones,
        "a list of Availability Zone names",
        (v) => typeof v === "string",
        problem,
    );
    if (scheduler === "dlm") {
        if (!schedule.startsWith("cron("))
            problem("schedule", schedule, "a cron(...) expression with scheduler dlm (Data Lifecycle Manager takes no rate(...) or at(...))");
        if (scheduleTimezone !== "UTC") problem("scheduleTimezone", scheduleTimezone, "UTC with scheduler dlm (Data Lifecycle Manager schedules in UTC)");
        if (extraTargets.length > 0)
            problem("extraTargets", `${extraTargets.length} targets`, "none with scheduler dlm (DLM passes no parameters: one policy, one document)");
        if (logGroupKmsKey !== "")
            problem("logGroupKmsKey", logGroupKmsKey, "empty with scheduler dlm (DLM's scripts write no log group: their output is in SSM's command history)");
        const retain = (name: string) => Number(snapshotParameters[name] ?? "0");
        if (retain("retainCount") > 0 && retain("retainDays") > 0) {
            problem(
                "snapshotParameters.retainDays",
                snapshotParameters.retainDays,
                "unset when retainCount is set, with scheduler dlm (DLM keeps by count or by age)",
            );
        }
        // The policy's check, on what the stack gives it (its document's defaults are the snapshot parameters).
        for (const error of lifecyclePolicyArgsErrors({
            document: { parameterDefaults: snapshotParameters },
            tagValue,
            copyToRegions,
            fastRestoreAvailabilityZones,
            freshnessHours: givenFreshness,
            cronExpression: schedule.startsWith("cron(") ? schedule : undefined,
        }))
            problems.push(`${PROJECT}:${error.replaceAll("document.parameterDefaults.", "snapshotParameters.")}`);
    } else {
        if (copyToRegions.length > 0)
            problem("copyToRegions", raw.copyToRegions, "nothing with scheduler maintenanceWindow (cross-Region copies are DLM's; set scheduler: dlm)");
        if (fastRestoreAvailabilityZones.length > 0)
            problem("fastRestoreAvailabilityZones", raw.fastRestoreAvailabilityZones, "nothing with scheduler maintenanceWindow (set scheduler: dlm)");
    }

    const restoreDrill = restoreDrillConfig(raw.restoreDrill, problem, (error) => problems.push(`${PROJECT}:${error}`), {
        networkMode,
        createDemoHost: str("createDemoHost") === "true",
    });

    const result: StackConfig = {
        scheduler: scheduler as StackConfig["scheduler"],
        schedule,
        scheduleTimezone,
        duration,
        cutoff,
        enabled: bool("enabled"),
        tagKey,
        tagValue,
        maxConcurrency,
        maxErrors,
        networkMode: networkMode as StackConfig["networkMode"],
        createDemoHost: bool("createDemoHost"),
        instanceType,
        dataVolumeSizeGiB: int("dataVolumeSizeGiB", 1, 16384, "a size in GiB from 1 to 16384 (gp3)"),
        protectDataVolume: bool("protectDataVolume"),
        retainDataVolumeOnDelete: bool("retainDataVolumeOnDelete"),
        binlogExpireDays: int("binlogExpireDays", 1, 99, "a whole number of days from 1 to 99 (MariaDB's expire_logs_days)"),
        logRetentionDays,
        logGroupKmsKey,
        commandTimeoutSeconds,
        snapshotParameters,
        extraTargets,
        alertEmail,
        alertTopicArn,
        copyToRegions,
        fastRestoreAvailabilityZones,
        executeOperationOnScriptFailure: bool("executeOperationOnScriptFailure"),
        freshnessHours,
        restoreDrill,
    };
    if (problems.length > 0) throw new ConfigError(problems);
    return result;
}

/**
 * The `restoreDrill` key: absent or empty for none, else an object of RESTORE_DRILL_FIELDS (numbers and booleans
 * may be strings, as the CLI stores them), judged by the drill's own check. `subnetId: auto` needs the demo
 * network in private mode (its subnet has the endpoints the drill instance needs).
 */
function restoreDrillConfig(
    value: unknown,
    problem: (key: string, value: unknown, expected: string) => void,
    drillProblem: (error: string) => void,
    stack: { networkMode: string; createDemoHost: boolean },
): RestoreDrillConfig | Record<string, never> {
    if (value === undefined || value === null || value === "" || (typeof value === "object" && Object.keys(value).length === 0)) return {};
    const form = `an object of ${RESTORE_DRILL_FIELDS.join(", ")} (subnetId required: auto or subnet-...)`;
    if (typeof value !== "object" || Array.isArray(value)) {
        problem("restoreDrill", value, form);
        return {};
    }
    const v = value as Raw;
    const unknownKey = Object.keys(v).find((k) => !RESTORE_DRILL_FIELDS.includes(k));
    if (unknownKey) problem(`restoreDrill.${unknownKey}`, v[unknownKey], `no such field; ${form}`);
    const text = (k: string) => (v[k] === undefined ? undefined : String(v[k]));
    const timeout = text("timeoutMinutes");
    const enabled = text("enabled");
    if (enabled !== undefined && enabled !== "true" && enabled !== "false") problem("restoreDrill.enabled", v.enabled, "true or false");
    const drill: RestoreDrillConfig = {
        subnetId: text("subnetId") ?? "",
        schedule: text("schedule"),
        scheduleTimezone: text("scheduleTimezone"),
        enabled: enabled === undefined ? undefined : enabled === "true",
        instanceType: text("instanceType"),
        imageId: text("imageId"),
        timeoutMinutes: timeout === undefined ? undefined : /^[0-9]+$/.test(timeout) ? Number(timeout) : (v.timeoutMinutes as number),
        serverPackage: text("serverPackage"),
    };
    if (drill.subnetId === "auto" && !(stack.createDemoHost && stack.networkMode === "private")) {
        problem(
            "restoreDrill.subnetId",
            "auto",
            "a subnet id (subnet-...): auto is the demo network's private subnet, which needs createDemoHost true and networkMode private",
        );
    }
    const subnetId = drill.subnetId === "auto" ? "subnet-00000000" : drill.subnetId;
    // Judged as the window or the policy judges it (its targets are theirs, judged with them).
    for (const error of restoreDrillRunArgsErrors({ ...drill, subnetId })) drillProblem(error);
    return drill;
}

function list<T>(
    key: string,
    value: unknown,
    form: string,
    isItem: (v: unknown) => boolean,
    problem: (key: string, value: unknown, expected: string) => void,
): T[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
        problem(key, value, form);
        return [];
    }
    const bad = value.findIndex((v) => !isItem(v));
    if (bad >= 0) {
        problem(`${key}[${bad}]`, value[bad], form);
        return [];
    }
    return value as T[];
}

function parameters(
    key: string,
    value: unknown,
    script: SnapshotScriptName,
    problem: (key: string, value: unknown, expected: string) => void,
): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
        problem(key, value, `an object of ${script} document parameters, e.g. {"maxFreezeSeconds": "30"}`);
        return {};
    }
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value as Raw)) {
        const text = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
        const error = DLM_SCRIPT_PARAMETERS.includes(name)
            ? "nothing: Data Lifecycle Manager sets this parameter, a schedule must not"
            : name === "target"
              ? "nothing: each target's runs get the target's name (main, extra-1, ...), which the run metrics count by"
              : text === undefined
                ? "a string"
                : documentParameterError(script, name, text);
        if (error) problem(`${key}.${name}`, v, error);
        else out[name] = text!;
    }
    return out;
}

/** The extra targets, each with its index in the configured list (a malformed item is reported and left out). */
function targets(
    value: unknown,
    mainTagValue: string,
    problem: (key: string, value: unknown, expected: string) => void,
): { index: number; target: ExtraTargetConfig }[] {
    if (value === undefined || value === null) return [];
    const form = `a list of {tagValue, script, maxConcurrency?, maxErrors?, parameters?} with script one of ${Object.keys(SNAPSHOT_SCRIPTS).join(", ")}`;
    if (!Array.isArray(value)) {
        problem("extraTargets", value, form);
        return [];
    }
    if (value.length > MAX_EXTRA_TARGETS) {
        problem("extraTargets", `${value.length} targets`, `at most ${MAX_EXTRA_TARGETS} (SSM allows 20 tasks per maintenance window; the main target is one)`);
    }
    const seen = new Set([mainTagValue]);
    return value.flatMap((item: unknown, index: number) => {
        const key = `extraTargets[${index}]`;
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            problem(key, item, form);
            return [];
        }
        const t = item as Raw;
        const unknownKeys = Object.keys(t).filter((k) => !["tagValue", "script", "maxConcurrency", "maxErrors", "parameters"].includes(k));
        if (unknownKeys.length > 0) problem(`${key}.${unknownKeys[0]}`, t[unknownKeys[0]], `no such field; ${form}`);
        if (typeof t.tagValue !== "string") problem(`${key}.tagValue`, t.tagValue, "a tag value string");
        else if (seen.has(t.tagValue)) problem(`${key}.tagValue`, t.tagValue, "a tag value not already targeted (each value is one target)");
        const tagValue = typeof t.tagValue === "string" ? t.tagValue : "";
        seen.add(tagValue);
        const script = String(t.script);
        if (!(script in SNAPSHOT_SCRIPTS)) problem(`${key}.script`, t.script, `one of ${Object.keys(SNAPSHOT_SCRIPTS).join(", ")}`);
        const scriptName = (script in SNAPSHOT_SCRIPTS ? script : "consistent-snapshot") as SnapshotScriptName;
        const target: ExtraTargetConfig = {
            tagValue,
            script: scriptName,
            maxConcurrency: t.maxConcurrency === undefined ? CONFIG_DEFAULTS.maxConcurrency : String(t.maxConcurrency),
            maxErrors: t.maxErrors === undefined ? CONFIG_DEFAULTS.maxErrors : String(t.maxErrors),
            parameters: parameters(`${key}.parameters`, t.parameters, scriptName, problem),
        };
        return [{ index, target }];
    });
}

/** The name of the main target and its task. */
export const MAIN_TARGET_NAME = "main";

/** A window target as the stack declares it, with the script whose document it runs. */
export type WindowTargetConfig = Omit<SnapshotTargetArgs, "document"> & { script: SnapshotScriptName };

/**
 * The maintenance window's targets: the main one (`tagValue`, priority 1), then each of `extraTargets` in order
 * (`extra-1`, `extra-2`, ..., priority 2, 3, ...). The stack declares these; the config check judges these.
 */
export function windowTargets(
    config: Pick<StackConfig, "tagValue" | "maxConcurrency" | "maxErrors" | "snapshotParameters" | "extraTargets">,
): WindowTargetConfig[] {
    return [
        {
            name: MAIN_TARGET_NAME,
            tagValue: config.tagValue,
            script: "consistent-snapshot",
            maxConcurrency: config.maxConcurrency,
            maxErrors: config.maxErrors,
            parameters: config.snapshotParameters,
        },
        ...config.extraTargets.map((t, i) => ({
            name: `extra-${i + 1}`,
            tagValue: t.tagValue,
            script: t.script,
            priority: 2 + i,
            maxConcurrency: t.maxConcurrency,
            maxErrors: t.maxErrors,
            parameters: t.parameters,
        })),
    ];
}

/**
 * A maintenance-window check's message with the argument renamed to its config key: the main target's fields are
 * the top-level keys, target n > 0 is the extra target at `extraIndices[n - 1]` in the configured list.
 */
function renameWindowArgument(error: string, extraIndices: number[]): string {
    return error
        .replace(/^targets\[0\]\.(tagValue|maxConcurrency|maxErrors)/, "$1")
        .replace(/^targets\[(\d+)\]/, (_, n: string) => `extraTargets[${extraIndices[Number(n) - 1]}]`);
}
