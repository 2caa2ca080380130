// What every command gets: the AWS clients, where to write, and how to wait. Tests replace the clients (SDK-level
// mocks) and the clock; the commands never reach for globals.
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";

/** Exit codes of the CLI (README "Operator CLI"; a spec holds the two equal). */
export const EXIT = Object.freeze({
    /** Done: every host's run succeeded, the listing printed, the volumes attached. */
    ok: 0,
    /** A run failed on at least one host, or no instance matched the target. */
    runFailed: 1,
    /** Bad input: an unknown option or value, an unknown RunId or instance, a device in use, an AZ mismatch. Nothing was created. */
    badInput: 2,
    /** AWS refused or failed a call (permissions, throttling past the retries, a failed snapshot or volume). */
    awsError: 3,
    /** Waited longer than allowed (a snapshot still pending, a volume not available, a run not finished). */
    timedOut: 4,
});

/** A failure the CLI reports as one message and an exit code (never a stack trace). */
export class CliError extends Error {
    constructor(
        message: string,
        readonly exitCode: number,
    ) {
        super(message);
        this.name = "CliError";
    }
}

export interface Clients {
    ec2: EC2Client;
    ssm: SSMClient;
}

export interface Context {
    clients: Clients;
    /** Results (tables or JSON). */
    out: (text: string) => void;
    /** Progress and notes, on standard error so that `--json` output stays parseable. */
    err: (text: string) => void;
    /** How long to wait between two polls of a resource's state. */
    pollMs: number;
    sleep: (ms: number) => Promise<void>;
    now: () => number;
}

/** AWS's retry mode for every client: adaptive (client-side rate limiting on throttling), up to 8 attempts per call. */
export const RETRY = Object.freeze({ retryMode: "adaptive", maxAttempts: 8 });

/**
 * The SDK clients, with Region and credentials found the SDK's usual way (environment, shared config and
 * credentials files, SSO, instance or container role) unless --region/--profile say otherwise.
 */
export function createClients(options: { region?: string; profile?: string; endpoint?: string }): Clients {
    const config = {
        ...RETRY,
        ...(options.region ? { region: options.region } : {}),
        ...(options.profile ? { profile: options.profile } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    };
    return { ec2: new EC2Client(config), ssm: new SSMClient(config) };
}

/** An AWS SDK error in a sentence: the API's own code and message, and what usually causes it. */
export function awsErrorMessage(action: string, error: unknown): CliError {
    const e = error as { name?: string; message?: string; Code?: string };
    const code = e.Code ?? e.name ?? "Error";
    if (/Region is missing/i.test(e.message ?? "")) {
        return new CliError(`${action}: no AWS Region: pass --region or set AWS_REGION (or a region in the profile)`, EXIT.badInput);
    }
    if (code === "CredentialsProviderError" || /Could not load credentials/i.test(e.message ?? "")) {
        return new CliError(`${action}: no AWS credentials found (${e.message}); pass --profile or set the usual AWS_* variables`, EXIT.awsError);
    }
    const hint = /AccessDenied|UnauthorizedOperation|UnrecognizedClient|ExpiredToken/.test(code)
        ? " (the caller's IAM permissions or credentials)"
        : /Throttl|RequestLimitExceeded|TooManyRequests/.test(code)
          ? " (throttled after the SDK's retries; try again later)"
          : "";
    return new CliError(`${action}: ${code}: ${e.message ?? String(error)}${hint}`, EXIT.awsError);
}

/** Runs an AWS call, turning its error into a CliError that names what was being done. */
export async function aws<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
        return await call();
    } catch (error) {
        if (error instanceof CliError) throw error;
        throw awsErrorMessage(action, error);
    }
}

/** True for an SDK error with one of these codes. */
export function isAwsError(error: unknown, ...codes: string[]): boolean {
    const e = error as { name?: string; Code?: string };
    return codes.includes(e?.Code ?? "") || codes.includes(e?.name ?? "");
}
