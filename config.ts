// The stack's configuration: every key, its default and its rule, in one place. `loadStackConfig` runs
// before any resource is declared; a bad value fails `pulumi preview` with a message that names the key,
// the value and the accepted form. Pulumi.yaml declares the same keys and defaults for the CLI.
import * as pulumi from "@pulumi/pulumi";
import { LOG_RETENTION_DAYS, MAX_CONCURRENCY_PATTERN, MAX_ERRORS_PATTERN, isIanaTimeZone, tagError } from "./components/rules";

import { scheduleError } from "./components/schedule";
import { SNAPSHOT_SCRIPTS, SnapshotScriptName, documentParameterError } from "./components/snapshotDocument";
import { DEFAULT_SCRIPT_EXECUTION_TIMEOUT_SECONDS, SnapshotCopyRegion, lifecyclePolicyArgsErrors, preScriptBudgetErrors } from "./components/snapshotLifecyclePolicy";

export const PROJECT = "consistent-snapshots";

/** An additional maintenance-window target: instances tagged `<tagKey>=<tagValue>` run `script`. */
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
}

/** Defaults, applied here because the mocked runtime (and `new pulumi.Config` in code) never sees Pulumi.yaml's. */
export const CONFIG_DEFAULTS: Readonly<StackConfig> = Object.freeze({
    scheduler: "maintenanceWindow",
    schedule: "cron(0 0 * * ? *)",
    scheduleTimezone: "UTC",
    duration: 2,
    cutoff: 0,
    enabled: true,
    tagKey: "ConsistentSnapshot",
    tagValue: "AmazonLinuxMySQL",
    maxConcurrency: "1",
    maxErrors: "1",
    networkMode: "public",
    createDemoHost: true,
    instanceType: "t3.micro",
    dataVolumeSizeGiB: 20,
    protectDataVolume: false,
    retainDataVolumeOnDelete: false,
    binlogExpireDays: 7,
    logRetentionDays: 30,
    logGroupKmsKey: "",
    commandTimeoutSeconds: 600,
    snapshotParameters: {},
    extraTargets: [],
    alertEmail: "",
    alertTopicArn: "",
    copyToRegions: [],
    fastRestoreAvailabilityZones: [],
    executeOperationOnScriptFailure: false,
});

/** Keys whose values are structured (JSON objects or lists in the stack file). */
const STRUCTURED_KEYS = ["snapshotParameters", "extraTargets", "copyToRegions", "fastRestoreAvailabilityZones"];

/**
 * The instance policy names every targeted tag value and IAM limits a managed policy to 6,144 characters
 * (whitespace not counted); the rest of the policy takes about 1,500. Each value costs its length plus 3.
 */
export const TAG_VALUES_POLICY_BUDGET = 4000;
/** Document parameters Data Lifecycle Manager passes to its pre/post scripts; never set from config. */
const DLM_PARAMETERS = ["command", "executionId"];
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
                try { raw[key] = JSON.parse(text); } catch { raw[key] = text; }
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
    const bool = (key: keyof StackConfig): boolean => {
        const value = str(key);
        if (value !== "true" && value !== "false") {
            problem(key, raw[key], "true or false");
            return CONFIG_DEFAULTS[key] as boolean;
        }
        return value === "true";
    };

    const schedule = str("schedule");
    const scheduleProblem = scheduleError(schedule);
    if (scheduleProblem) problem("schedule", schedule, `a maintenance-window schedule (${scheduleProblem})`);

    const scheduleTimezone = str("scheduleTimezone");
    if (!isIanaTimeZone(scheduleTimezone)) problem("scheduleTimezone", scheduleTimezone, "an IANA time zone such as UTC, Europe/Paris or America/New_York");

    const duration = int("duration", 1, 24, "a whole number of hours from 1 to 24");
    const cutoff = int("cutoff", 0, 23, "a whole number of hours from 0 to 23");
    if (cutoff >= duration && given("cutoff")) problem("cutoff", raw.cutoff, `a number of hours smaller than duration (${duration})`);
    else if (cutoff >= duration) problem("duration", raw.duration, `a number of hours larger than cutoff (${cutoff})`);

    const tagKey = str("tagKey");
    const tagKeyProblem = tagError(tagKey, true);
    if (tagKeyProblem) problem("tagKey", tagKey, tagKeyProblem);
    const tagValue = str("tagValue");
    const tagValueProblem = tagError(tagValue, false);
    if (tagValueProblem) problem("tagValue", tagValue, tagValueProblem);

    const maxConcurrency = str("maxConcurrency");
    if (!MAX_CONCURRENCY_PATTERN.test(maxConcurrency)) problem("maxConcurrency", maxConcurrency, "a count from 1 to 9999999 (e.g. 1) or a percentage from 1% to 100% (e.g. 10%)");
    const maxErrors = str("maxErrors");
    if (!MAX_ERRORS_PATTERN.test(maxErrors)) problem("maxErrors", maxErrors, "a count from 0 to 9999999 (e.g. 1) or a percentage from 0% to 100% (e.g. 10%)");

    const networkMode = str("networkMode");
    if (networkMode !== "public" && networkMode !== "private") problem("networkMode", networkMode, "public or private");

    const instanceType = str("instanceType");
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) problem("instanceType", instanceType, "an EC2 instance type such as t3.micro");

    const logRetentionDays = int("logRetentionDays", 1, 3653);
    if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) problem("logRetentionDays", raw.logRetentionDays, `one of CloudWatch Logs' periods: ${LOG_RETENTION_DAYS.join(", ")}`);

    const logGroupKmsKey = str("logGroupKmsKey");
    const keyRegion = KMS_KEY_ARN.exec(logGroupKmsKey)?.[1];
    if (logGroupKmsKey !== "" && logGroupKmsKey !== "create" && (!keyRegion || (region !== undefined && keyRegion !== region))) {
        problem("logGroupKmsKey", logGroupKmsKey, `empty (CloudWatch Logs' own encryption), create (a key of this stack), or the ARN of a KMS key in the stack's Region${region ? ` (arn:aws:kms:${region}:<account>:key/<id>)` : ""}: CloudWatch Logs uses keys of its own Region`);
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
    const extraTargets = targets(raw.extraTargets, tagValue, problem);
    const tagValuesCost = [tagValue, ...extraTargets.map((t) => t.tagValue)].reduce((sum, v) => sum + [...v].length + 3, 0);
    if (tagValuesCost > TAG_VALUES_POLICY_BUDGET) {
        problem("extraTargets", `${extraTargets.length} targets`, `tag values (tagValue and every extraTargets[].tagValue) of at most ${TAG_VALUES_POLICY_BUDGET} characters in all, counting 3 more per value (now ${tagValuesCost}): the instance policy names every targeted value and IAM limits a managed policy to 6,144 characters`);
    }

    const copyToRegions = list<SnapshotCopyRegion>("copyToRegions", raw.copyToRegions, "a list of {region, retainDays?, cmkArn?}",
        (v) => typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as Raw).region === "string" &&
            Object.keys(v as Raw).every((k) => ["region", "retainDays", "cmkArn"].includes(k)), problem);
    const fastRestoreAvailabilityZones = list<string>("fastRestoreAvailabilityZones", raw.fastRestoreAvailabilityZones,
        "a list of Availability Zone names", (v) => typeof v === "string", problem);
    if (scheduler === "dlm") {
        if (!schedule.startsWith("cron(")) problem("schedule", schedule, "a cron(...) expression with scheduler dlm (Data Lifecycle Manager takes no rate(...) or at(...))");
        if (scheduleTimezone !== "UTC") problem("scheduleTimezone", scheduleTimezone, "UTC with scheduler dlm (Data Lifecycle Manager schedules in UTC)");
        if (extraTargets.length > 0) problem("extraTargets", `${extraTargets.length} targets`, "none with scheduler dlm (DLM passes no parameters: one policy, one document)");
        if (logGroupKmsKey !== "") problem("logGroupKmsKey", logGroupKmsKey, "empty with scheduler dlm (DLM's scripts write no log group: their output is in SSM's command history)");
        const retain = (name: string) => Number(snapshotParameters[name] ?? "0");
        if (retain("retainCount") > 0 && retain("retainDays") > 0) {
            problem("snapshotParameters.retainDays", snapshotParameters.retainDays, "unset when retainCount is set, with scheduler dlm (DLM keeps by count or by age)");
        }
        for (const error of lifecyclePolicyArgsErrors({
            document: { documentName: "", documentArn: "" }, tagValue, copyToRegions, fastRestoreAvailabilityZones,
            cronExpression: schedule.startsWith("cron(") ? schedule : undefined,
        })) problems.push(`${PROJECT}:${error}`);
        for (const error of preScriptBudgetErrors(snapshotParameters, DEFAULT_SCRIPT_EXECUTION_TIMEOUT_SECONDS, (name) => `snapshotParameters.${name}`)) {
            problems.push(`${PROJECT}:${error}`);
        }
    } else {
        if (copyToRegions.length > 0) problem("copyToRegions", raw.copyToRegions, "nothing with scheduler maintenanceWindow (cross-Region copies are DLM's; set scheduler: dlm)");
        if (fastRestoreAvailabilityZones.length > 0) problem("fastRestoreAvailabilityZones", raw.fastRestoreAvailabilityZones, "nothing with scheduler maintenanceWindow (set scheduler: dlm)");
    }

    const result: StackConfig = {
        scheduler: scheduler as StackConfig["scheduler"],
        schedule, scheduleTimezone, duration, cutoff,
        enabled: bool("enabled"),
        tagKey, tagValue, maxConcurrency, maxErrors,
        networkMode: networkMode as StackConfig["networkMode"],
        createDemoHost: bool("createDemoHost"),
        instanceType,
        dataVolumeSizeGiB: int("dataVolumeSizeGiB", 1, 16384, "a size in GiB from 1 to 16384 (gp3)"),
        protectDataVolume: bool("protectDataVolume"),
        retainDataVolumeOnDelete: bool("retainDataVolumeOnDelete"),
        binlogExpireDays: int("binlogExpireDays", 1, 99, "a whole number of days from 1 to 99 (MariaDB's expire_logs_days)"),
        logRetentionDays, logGroupKmsKey,
        commandTimeoutSeconds: int("commandTimeoutSeconds", 30, 2592000, "seconds from 30 to 2592000 (SendCommand's TimeoutSeconds)"),
        snapshotParameters, extraTargets, alertEmail, alertTopicArn, copyToRegions, fastRestoreAvailabilityZones,
        executeOperationOnScriptFailure: bool("executeOperationOnScriptFailure"),
    };
    if (problems.length > 0) throw new ConfigError(problems);
    return result;
}

function list<T>(key: string, value: unknown, form: string, isItem: (v: unknown) => boolean,
    problem: (key: string, value: unknown, expected: string) => void): T[] {
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

function parameters(key: string, value: unknown, script: SnapshotScriptName,
    problem: (key: string, value: unknown, expected: string) => void): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
        problem(key, value, `an object of ${script} document parameters, e.g. {"maxFreezeSeconds": "30"}`);
        return {};
    }
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value as Raw)) {
        const text = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
        const error = DLM_PARAMETERS.includes(name) ? "nothing: Data Lifecycle Manager sets this parameter, a schedule must not"
            : text === undefined ? "a string" : documentParameterError(script, name, text);
        if (error) problem(`${key}.${name}`, v, error);
        else out[name] = text!;
    }
    return out;
}

function targets(value: unknown, mainTagValue: string, problem: (key: string, value: unknown, expected: string) => void): ExtraTargetConfig[] {
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
    return value.flatMap((item: unknown, i: number): ExtraTargetConfig[] => {
        const key = `extraTargets[${i}]`;
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
            problem(key, item, form);
            return [];
        }
        const t = item as Raw;
        const unknownKeys = Object.keys(t).filter((k) => !["tagValue", "script", "maxConcurrency", "maxErrors", "parameters"].includes(k));
        if (unknownKeys.length > 0) problem(`${key}.${unknownKeys[0]}`, t[unknownKeys[0]], `no such field; ${form}`);
        const tagValue = typeof t.tagValue === "string" ? t.tagValue : "";
        const tagProblem = typeof t.tagValue === "string" ? tagError(tagValue, false) : "a tag value string";
        if (tagProblem) problem(`${key}.tagValue`, t.tagValue, tagProblem);
        else if (seen.has(tagValue)) problem(`${key}.tagValue`, t.tagValue, "a tag value not already targeted (each value is one target)");
        seen.add(tagValue);
        const script = String(t.script);
        if (!(script in SNAPSHOT_SCRIPTS)) problem(`${key}.script`, t.script, `one of ${Object.keys(SNAPSHOT_SCRIPTS).join(", ")}`);
        const maxConcurrency = t.maxConcurrency === undefined ? CONFIG_DEFAULTS.maxConcurrency : String(t.maxConcurrency);
        if (!MAX_CONCURRENCY_PATTERN.test(maxConcurrency)) problem(`${key}.maxConcurrency`, t.maxConcurrency, "a count from 1 to 9999999 or a percentage from 1% to 100%");
        const maxErrors = t.maxErrors === undefined ? CONFIG_DEFAULTS.maxErrors : String(t.maxErrors);
        if (!MAX_ERRORS_PATTERN.test(maxErrors)) problem(`${key}.maxErrors`, t.maxErrors, "a count from 0 to 9999999 or a percentage from 0% to 100%");
        const scriptName = (script in SNAPSHOT_SCRIPTS ? script : "consistent-snapshot") as SnapshotScriptName;
        return [{ tagValue, script: scriptName, maxConcurrency, maxErrors, parameters: parameters(`${key}.parameters`, t.parameters, scriptName, problem) }];
    });
}

