// AWS's rules for values the components and the stack configuration both take (tags, time zones, SSM's
// concurrency patterns, CloudWatch Logs' retention periods): one definition each, checked before anything is
// declared.

/** The tag key that selects the hosts, the default of every component that takes one. */
export const DEFAULT_TAG_KEY = "ConsistentSnapshot";
/** The tag value of the demo host and the stack's main target. */
export const DEFAULT_TAG_VALUE = "AmazonLinuxMySQL";
/** The default schedule of both schedulers: daily at midnight (a cron expression both SSM and DLM take). */
export const DEFAULT_SCHEDULE = "cron(0 0 * * ? *)";

/** `text` cut to at most `max` characters for a field AWS bounds, marked with "..." where it was cut. */
export function cutText(text: string, max: number): string {
    return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** CloudWatch Logs' accepted retention periods, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
/** SSM's patterns for MaxConcurrency and MaxErrors (a count or a percentage), both 1-7 characters. */
export const MAX_CONCURRENCY_PATTERN = /^(?=.{1,7}$)([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
export const MAX_ERRORS_PATTERN = /^(?=.{1,7}$)([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;
/**
 * Tag characters as SSM's API model has them (`TagKey`/`TagValue`: letters, space separators, digits and
 * _ . : / = + - @); EC2's rule is the same set. A tab or newline is not among them.
 */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** A maintenance-window target key `tag:<key>` (SSM `TargetKey`) admits no `+`. */
const TARGET_KEY_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=\-@]*$/u;
/**
 * IAM policy documents hold only U+0009, U+000A, U+000D and U+0020-U+00FF (IAM API model, policyDocumentType);
 * the target tag key and values appear in the window role's and the instance policy's conditions.
 */
const IAM_POLICY_CHARACTERS = /^[\u0020-\u00FF]*$/u;

/** EC2 tag rules for a key (1-128 characters, no aws: prefix) or a value (0-256 characters). */
export function tagError(text: string, isKey: boolean): string | undefined {
    const max = isKey ? 128 : 256;
    const what = isKey ? "a tag key" : "a tag value";
    if (isKey && text.length === 0) return `${what} of 1 to ${max} characters`;
    if ([...text].length > max) return `${what} of at most ${max} characters`;
    if (isKey && /^aws:/i.test(text)) return `${what} not starting with aws: (reserved by AWS)`;
    if (!TAG_CHARACTERS.test(text)) return `${what} of letters, digits, spaces and + - = . _ : / @`;
    if (!IAM_POLICY_CHARACTERS.test(text))
        return `${what} of Latin-1 characters only (U+0020-U+00FF): it appears in IAM policy conditions, which hold no other characters`;
    if (isKey && !TARGET_KEY_CHARACTERS.test(text))
        return `${what} without + (a maintenance-window target key tag:<key> admits letters, digits, spaces and - = . _ : / @)`;
    return undefined;
}

/** True for a time zone name in the IANA database as the JavaScript runtime knows it (not an offset). */
export function isIanaTimeZone(zone: string): boolean {
    if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return false;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
    } catch {
        return false;
    }
}
