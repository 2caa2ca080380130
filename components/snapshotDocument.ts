import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { gunzipSync, gzipSync } from "fflate";
import { createHash } from "node:crypto";
import { readScript } from "./paths";

/** One declared parameter of a snapshot document; it reaches the script as the variable SSM_<name>. */
export interface DocumentParameter {
    /** Value used when neither the task nor the caller gives one. */
    default: string;
    description: string;
    /** Anchored regular expression SSM enforces before the command is sent (and the script again). */
    allowedPattern?: string;
    /** The only values SSM accepts, where the parameter is a choice (Data Lifecycle Manager requires them for `command`). */
    allowedValues?: readonly string[];
    /** Longest value SSM accepts, where the pattern cannot say it. */
    maxChars?: number;
}

/**
 * The parameters of scripts/consistent-snapshot.sh. Patterns mirror the script's own validation and admit
 * no shell metacharacter, so no value can change the meaning of the script.
 */
export const CONSISTENT_SNAPSHOT_PARAMETERS: Readonly<Record<string, DocumentParameter>> = Object.freeze({
    command: {
        // allowedValues, not a pattern: Data Lifecycle Manager treats a document whose command parameter does not
        // list pre-script, post-script and dry-run in allowedValues as a failed run.
        default: "snapshot",
        allowedValues: ["snapshot", "pre-script", "post-script", "dry-run"],
        description:
            "snapshot: lock, freeze, CreateSnapshots, release. DLM passes pre-script (lock, freeze, held until the post-script or maxFreezeSeconds), post-script (release, tag DLM's snapshots) or dry-run.",
    },
    executionId: {
        default: "None",
        allowedPattern: "^(None|[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})$",
        description: "Set by DLM: pairs a post-script with its pre-script.",
    },
    database: {
        default: "mysql",
        allowedPattern: "^(mysql|none)$",
        description: "mysql: hold MySQL/MariaDB as quiesce says; none: freeze only.",
    },
    quiesce: {
        default: "auto",
        allowedPattern: "^(auto|ftwrl|backup-lock|crash-recovery)$",
        description:
            "auto (the lightest that holds, checked every run), ftwrl, backup-lock (BACKUP STAGE, LOCK INSTANCE FOR BACKUP) or crash-recovery (no lock or freeze; only where recovery is exact).",
    },
    apiClient: {
        default: "auto",
        allowedPattern: "^(auto|curl|aws-cli)$",
        description: "What sends CreateSnapshots: auto (curl 7.75+ signing it, checked by a DryRun call before the lock; else the AWS CLI), curl or aws-cli.",
    },
    freezeMounts: {
        default: "auto",
        allowedPattern: "^(auto|/[A-Za-z0-9._/-]*( +/[A-Za-z0-9._/-]*)*)$",
        description:
            "auto (every filesystem on a snapshotted volume, and the database's) or mount points separated by spaces; never / or /boot. Unfrozen ones are tagged UnfrozenMounts.",
    },
    maxFreezeSeconds: {
        default: "30",
        allowedPattern: "^([2-9]|[1-9][0-9]|[1-5][0-9]{2}|600)$",
        description: "Longest the lock and freeze may be held (2-600 s); a watchdog releases both then.",
    },
    lockTimeoutSeconds: {
        default: "5",
        allowedPattern: "^([1-9]|[1-5][0-9]|60)$",
        description: "Server-side wait for the lock per attempt (1-60 s, below maxFreezeSeconds).",
    },
    lockRetries: {
        default: "3",
        allowedPattern: "^([0-9]|10)$",
        description: "Further lock attempts after the first (0-10).",
    },
    preScriptSeconds: {
        default: "120",
        allowedPattern: "^([1-9][0-9]|1[01][0-9]|120)$",
        description: "pre-script: DLM's executionTimeout (10-120 s); no lock attempt starts that could not finish, freeze and hand over within it.",
    },
    longQuerySeconds: {
        default: "1",
        allowedPattern: "^([0-9]|[1-9][0-9]|[1-9][0-9]{2}|[1-2][0-9]{3}|3[0-5][0-9]{2}|3600)$",
        description: "Send no FLUSH while a write (MySQL: any statement) has run this long (0-3600 s; 0 disables).",
    },
    excludeBootVolume: {
        default: "true",
        allowedPattern: "^(true|false)$",
        description: "Leave the boot volume out.",
    },
    dryRun: {
        default: "false",
        allowedPattern: "^(true|false)$",
        description: "Report what would be done; touch nothing.",
    },
    snapshotDescription: {
        // No "//": the AWS CLI reads a value starting with file:// (v1 also http(s)://) from there, so a description
        // could carry root's files into the snapshot's description, which anyone allowed DescribeSnapshots reads.
        default: "Consistent snapshot by consistent-snapshots",
        allowedPattern: "^/?([A-Za-z0-9 _.:=+@-]+/)*[A-Za-z0-9 _.:=+@-]*$",
        maxChars: 255,
        description: "The snapshots' description (0-255 of [A-Za-z0-9 _.:/=+@-], without '//').",
    },
    retainCount: {
        default: "0",
        allowedPattern: "^([0-9]|[1-9][0-9]{1,2}|1000)$",
        description:
            "After a successful run, keep this many runs of this instance (this one included), delete older ones (0-1000; 0 keeps all); only CreatedBy=consistent-snapshots.",
    },
    retainDays: {
        default: "0",
        allowedPattern: "^([0-9]|[1-9][0-9]{1,2}|[1-2][0-9]{3}|3[0-5][0-9]{2}|36[0-4][0-9]|3650)$",
        description: "After a successful run, delete this instance's snapshots older than this (0-3650 days; 0 keeps all).",
    },
    target: {
        default: "",
        allowedPattern: "^[A-Za-z0-9_.-]{0,128}$",
        description: "The target this run serves (0-128 of [A-Za-z0-9_.-]): the summary's target, the run metrics' Target.",
    },
    mysqlDefaultsFile: {
        default: "",
        allowedPattern: "^(|/[A-Za-z0-9._/-]+)$",
        description:
            "MySQL option file read besides the standard ones and root's ~/.my.cnf (from passwd: the agent sets no HOME); groups [client], [client_consistent_snapshot].",
    },
});

/** Names of the scripts under scripts/ that SSM runs, as used in config (`extraTargets[].script`). */
export type SnapshotScriptName = "consistent-snapshot";
/** Scripts under scripts/ that SSM runs, by name. */
export const SNAPSHOT_SCRIPTS: Readonly<Record<SnapshotScriptName, { file: string; parameters: Readonly<Record<string, DocumentParameter>> }>> = Object.freeze({
    "consistent-snapshot": { file: "consistent-snapshot.sh", parameters: CONSISTENT_SNAPSHOT_PARAMETERS },
});

/** Undefined when `value` is accepted for the script's parameter `name`, else the accepted form. */
export function documentParameterError(script: SnapshotScriptName, name: string, value: string): string | undefined {
    const spec = SNAPSHOT_SCRIPTS[script].parameters[name];
    if (!spec) return `one of the ${script} parameters: ${Object.keys(SNAPSHOT_SCRIPTS[script].parameters).join(", ")}`;
    if (spec.allowedValues) return spec.allowedValues.includes(value) ? undefined : `one of ${spec.allowedValues.join(", ")} (${spec.description})`;
    const tooLong = spec.maxChars !== undefined && value.length > spec.maxChars;
    return !tooLong && new RegExp(spec.allowedPattern!).test(value)
        ? undefined
        : `a value matching ${spec.allowedPattern}${spec.maxChars !== undefined ? ` of at most ${spec.maxChars} characters` : ""} (${spec.description})`;
}

/** The parameters Data Lifecycle Manager passes to its pre and post scripts: never a default, never set by a schedule. */
export const DLM_SCRIPT_PARAMETERS: readonly string[] = Object.freeze(["command", "executionId"]);

/** An SSM document as a maintenance-window task or a DLM policy references it (a SnapshotDocument is one). */
export interface DocumentReference {
    /** The document's name. */
    documentName: pulumi.Input<string>;
    /** The document's ARN (the window's role may send only these documents). */
    documentArn: pulumi.Input<string>;
    /** The document's parameter defaults, where known (a SnapshotDocument's): what DLM runs it with. */
    parameterDefaults?: Record<string, string>;
}

/** The document's defaults (what the Args' TSDoc says). */
export const SNAPSHOT_DOCUMENT_DEFAULTS = Object.freeze({ script: "consistent-snapshot", executionTimeoutSeconds: 600 } as const);

export interface SnapshotDocumentArgs {
    /**
     * Which script under scripts/ the document runs (the file byte for byte, gzip-compressed and base64-encoded
     * behind a short sh bootstrap to fit SSM's 64 KB document limit). Default: `consistent-snapshot`.
     */
    script?: "consistent-snapshot";
    /**
     * Document name. Default: a unique name derived from the resource name (Pulumi auto-naming).
     * AWS constraint: 3-128 characters of letters, digits, `_`, `-` and `.`; must not start with `AWS`, `Amazon` or `amzn`.
     */
    documentName?: pulumi.Input<string>;
    /**
     * Seconds the script may run on an instance before SSM stops it (the step's `timeoutSeconds`).
     * Default: 600. AWS constraint: 1-172800.
     */
    executionTimeoutSeconds?: number;
    /**
     * Defaults for the script's parameters, by name (e.g. `{ maxFreezeSeconds: "60" }`), each checked against the
     * parameter's pattern. Data Lifecycle Manager passes only `command` and `executionId`: every other value it
     * runs with is the document's default. Default: the script's own defaults. `command`/`executionId` excluded.
     */
    parameterDefaults?: Record<string, string>;
    /** Tags for the document. Default: none. Data Lifecycle Manager runs only documents tagged `DLMScriptsAccess=true`. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * An SSM Command document (schema 2.2) with one `aws:runShellScript` step that runs a file under scripts/ byte
 * for byte: the step's command is a short POSIX sh bootstrap carrying the file gzip-compressed and base64-encoded
 * (SSM's 64 KB document limit; see `documentCommand`). Parameters are declared with `interpolationType: ENV_VAR`,
 * so their values reach the script as `SSM_<name>` environment variables. SSM Agents older than 3.3.2746 ignore
 * ENV_VAR and substitute `{{name}}` into the command text instead: the bootstrap's AWS-documented fallback
 * (`if [ -z "${SSM_name+x}" ]; then export SSM_name="{{name}}"; fi`) turns that text into the same variables,
 * which is safe because every value has passed a pattern that admits no quote, `$`, backquote or backslash.
 */
export class SnapshotDocument extends pulumi.ComponentResource {
    /** The document's name, as maintenance-window tasks and `aws ssm send-command` reference it. */
    public readonly documentName: pulumi.Output<string>;
    /** The document's ARN. */
    public readonly documentArn: pulumi.Output<string>;
    /** The script file the document runs. */
    public readonly scriptFile: string;
    /** The document's content (JSON), as registered with SSM. */
    public readonly content: string;
    /** The default of every parameter the document declares (the given `parameterDefaults` over the script's own). */
    public readonly parameterDefaults: Readonly<Record<string, string>>;

    constructor(name: string, args: SnapshotDocumentArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("consistent-snapshots:index:SnapshotDocument", name, args, opts);
        const scriptName = args.script ?? SNAPSHOT_DOCUMENT_DEFAULTS.script;
        const script = SNAPSHOT_SCRIPTS[scriptName];
        const executionTimeoutSeconds = args.executionTimeoutSeconds ?? SNAPSHOT_DOCUMENT_DEFAULTS.executionTimeoutSeconds;
        if (!Number.isInteger(executionTimeoutSeconds) || executionTimeoutSeconds < 1 || executionTimeoutSeconds > 172800) {
            throw new Error(`SnapshotDocument ${name}: executionTimeoutSeconds ${executionTimeoutSeconds} is not an integer from 1 to 172800`);
        }
        for (const [parameter, value] of Object.entries(args.parameterDefaults ?? {})) {
            const error = DLM_SCRIPT_PARAMETERS.includes(parameter)
                ? "not a default: Data Lifecycle Manager sets it"
                : documentParameterError(scriptName, parameter, value);
            if (error) throw new Error(`SnapshotDocument ${name}: parameterDefaults.${parameter} '${value}': expected ${error}`);
        }
        this.scriptFile = script.file;
        // Compact JSON: SSM's 64 KB document limit counts every byte.
        this.content = JSON.stringify(snapshotDocumentContent(scriptName, executionTimeoutSeconds, args.parameterDefaults));
        this.parameterDefaults = Object.freeze(
            Object.fromEntries(
                Object.entries(JSON.parse(this.content).parameters as Record<string, { default: string }>).map(([parameter, declared]) => [
                    parameter,
                    declared.default,
                ]),
            ),
        );

        const document = new aws.ssm.Document(
            name,
            {
                name: args.documentName,
                documentType: "Command",
                documentFormat: "JSON",
                targetType: "/AWS::EC2::Instance",
                content: this.content,
                tags: args.tags,
            },
            { parent: this },
        );

        this.documentName = document.name;
        this.documentArn = document.arn;
        this.registerOutputs({ documentName: this.documentName, documentArn: this.documentArn });
    }
}

/** What the document's step unpacks and runs: the file's name, its text and that text's SHA-256 (hex). */
export interface CarriedScript {
    fileName: string;
    text: string;
    sha256: string;
}

/**
 * The step's command for a script under scripts/: a POSIX sh bootstrap (the agent starts it with `sh`, which is
 * dash on Debian) that writes the script, carried gzip-compressed and base64-encoded, beside itself in the
 * agent's root-only orchestration folder (umask 077) and replaces itself with `bash` running it. The file runs
 * byte for byte, comments included, so its line numbers and `$0` are its own; an operator finds it there and can
 * check it against the SHA-256 in the bootstrap's first comment. Needs `base64` (coreutils) and `gzip`, present
 * on every distribution the script supports; without them the step fails with 202 (a required tool is missing)
 * before anything is read, locked or frozen.
 *
 * Compressed with fflate, pinned to one version in package.json, at a fixed level and header time: the same
 * script gives the same document on every machine and Node.js version, so no stack sees a change nobody made.
 */
export function documentCommand(fileName: string, parameterNames: readonly string[] = []): string {
    const text = readScript(fileName);
    const sha256 = createHash("sha256").update(text).digest("hex");
    const payload = Buffer.from(gzipSync(Buffer.from(text), { level: 9, mem: 12, mtime: 0 })).toString("base64");
    return [
        "#!/bin/sh",
        `# consistent-snapshots: scripts/${fileName} (sha256 ${sha256}), gzip+base64 for SSM's 64 KB limit.`,
        "# Unpacked beside this file and run with bash; 202 if that cannot be done.",
        "# SSM Agents before 3.3.2746 ignore ENV_VAR and substitute each parameter into the lines below instead:",
        ...parameterNames.map((name) => `if [ -z "\${SSM_${name}+x}" ]; then export SSM_${name}="{{${name}}}"; fi`),
        `script="$(dirname -- "$0")/${fileName}"`,
        "umask 077",
        `if ! printf '%s' '${payload}' | base64 -d | gzip -dc >"$script"; then`,
        `  echo "consistent-snapshot: cannot unpack the script into $script (needs base64, gzip and a writable folder)" >&2`,
        "  exit 202",
        "fi",
        `exec bash "$script"`,
        "",
    ].join("\n");
}

/** The script a document step's command carries, unpacked the way the bootstrap does it (for specs and operators). */
export function carriedScript(command: string): CarriedScript {
    const fileName = /^script="\$\(dirname -- "\$0"\)\/([A-Za-z0-9._-]+)"$/m.exec(command)?.[1];
    const payload = /printf '%s' '([A-Za-z0-9+/=]+)'/.exec(command)?.[1];
    const sha256 = /\(sha256 ([0-9a-f]{64})\)/.exec(command)?.[1];
    if (!fileName || !payload || !sha256) throw new Error("not a consistent-snapshots document command");
    const text = Buffer.from(gunzipSync(Buffer.from(payload, "base64"))).toString("utf8");
    if (createHash("sha256").update(text).digest("hex") !== sha256) throw new Error(`the carried ${fileName} does not match its sha256`);
    return { fileName, text, sha256 };
}

/** The SSM Command document (schema 2.2) that runs `script` with its declared parameters. */
export function snapshotDocumentContent(scriptName: SnapshotScriptName, timeoutSeconds: number, defaults: Record<string, string> = {}) {
    const { file, parameters } = SNAPSHOT_SCRIPTS[scriptName];
    const command = documentCommand(file, Object.keys(parameters));
    return {
        schemaVersion: "2.2",
        description:
            "Application-consistent EBS snapshots of this instance: database lock and filesystem freeze held " +
            "through one CreateSnapshots call, always released. See the consistent-snapshots README.",
        parameters: Object.fromEntries(
            Object.entries(parameters).map(([name, p]) => [
                name,
                {
                    type: "String",
                    default: defaults[name] ?? p.default,
                    description: p.description,
                    ...(p.allowedValues ? { allowedValues: [...p.allowedValues] } : { allowedPattern: p.allowedPattern }),
                    ...(p.maxChars !== undefined ? { maxChars: p.maxChars } : {}),
                    interpolationType: "ENV_VAR",
                },
            ]),
        ),
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: "consistentSnapshot",
                precondition: { StringEquals: ["platformType", "Linux"] },
                inputs: { timeoutSeconds: String(timeoutSeconds), runCommand: [command] },
            },
        ],
    };
}
