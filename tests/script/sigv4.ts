// AWS Signature Version 4 as AWS checks it on an EC2 Query API request (AWS's SigV4 documentation: "Create a
// canonical request", "Create a string to sign", "Calculate the signature"; common errors from the EC2 API
// reference). The double verifies every EC2 request with it, so a client that signs wrongly — the AWS CLI's
// botocore or curl's --aws-sigv4 — fails against the double as it would against EC2.
import { createHash, createHmac } from "node:crypto";

export interface Credentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
}

/** Why EC2 would refuse the request, as its error code, HTTP status and message; undefined when the signature holds. */
export interface SignatureError {
    status: number;
    code: string;
    message: string;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
    return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

/** RFC 3986 encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - _ . ~ percent-encoded, upper-case hex. */
function uriEncode(s: string): string {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
    if (!query) return "";
    return query
        .split("&")
        .map((pair) => {
            const [k, v = ""] = pair.split("=");
            return [uriEncode(decodeURIComponent(k.replace(/\+/g, "%20"))), uriEncode(decodeURIComponent(v.replace(/\+/g, "%20")))];
        })
        .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
}

/** Header values trimmed and inner runs of spaces collapsed; repeated headers joined with commas. */
function canonicalHeaders(rawHeaders: string[], names: string[]): string | undefined {
    const byName = new Map<string, string[]>();
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i].toLowerCase();
        byName.set(name, [...(byName.get(name) ?? []), rawHeaders[i + 1].trim().replace(/\s+/g, " ")]);
    }
    const lines: string[] = [];
    for (const name of names) {
        const values = byName.get(name);
        if (!values) return undefined;
        lines.push(`${name}:${values.join(",")}\n`);
    }
    return lines.join("");
}

/**
 * Checks a request's `Authorization: AWS4-HMAC-SHA256 ...` header against the keys EC2 knows.
 * - The credential scope must be `<date>/<region>/ec2/aws4_request` with the double's Region and X-Amz-Date's day.
 * - SignedHeaders must include `host` and `x-amz-date`, and every signed header must be in the request.
 * - X-Amz-Date may differ from the clock by at most 15 minutes (RequestExpired).
 * - A temporary key (the role's, from IMDS) needs its session token in X-Amz-Security-Token.
 * - The payload hash is the SHA-256 of the body as received.
 */
export function verifySignature(
    req: { method: string; url: string; rawHeaders: string[] },
    body: Buffer,
    keys: Credentials[],
    region: string,
    now = new Date(),
): SignatureError | undefined {
    const header = (name: string) => {
        for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === name) return req.rawHeaders[i + 1];
        return undefined;
    };
    const authorization = header("authorization");
    if (!authorization) return { status: 401, code: "AuthFailure", message: "AWS was not able to validate the provided access credentials" };
    const parsed =
        /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
            authorization,
        );
    if (!parsed)
        return {
            status: 400,
            code: "IncompleteSignature",
            message: `Authorization header malformed: ${authorization.replace(/Signature=\w+/, "Signature=…")}`,
        };
    const [, accessKeyId, date, scopeRegion, service, signedHeaderList, signature] = parsed;
    const amzDate = header("x-amz-date");
    const signedHeaders = signedHeaderList.split(";");
    for (const required of ["host", "x-amz-date"]) {
        if (!signedHeaders.includes(required)) return { status: 400, code: "IncompleteSignature", message: `'${required}' must be a signed header` };
    }
    if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
        return { status: 400, code: "IncompleteSignature", message: `X-Amz-Date '${amzDate}' does not match the credential scope's date ${date}` };
    }
    const signedAt = Date.UTC(
        +amzDate.slice(0, 4),
        +amzDate.slice(4, 6) - 1,
        +amzDate.slice(6, 8),
        +amzDate.slice(9, 11),
        +amzDate.slice(11, 13),
        +amzDate.slice(13, 15),
    );
    if (Math.abs(now.getTime() - signedAt) > 15 * 60 * 1000) {
        return { status: 400, code: "RequestExpired", message: `Request has expired: signed at ${amzDate}` };
    }
    if (scopeRegion !== region || service !== "ec2") {
        return {
            status: 401,
            code: "AuthFailure",
            message: `Credential should be scoped to a valid region and service 'ec2' (${scopeRegion}/${service}); this is ${region}`,
        };
    }
    const key = keys.find((k) => k.accessKeyId === accessKeyId);
    if (!key) return { status: 401, code: "AuthFailure", message: "AWS was not able to validate the provided access credentials" };
    if (key.sessionToken !== undefined && header("x-amz-security-token") !== key.sessionToken) {
        return { status: 401, code: "AuthFailure", message: "The security token included in the request is invalid" };
    }
    const headers = canonicalHeaders(req.rawHeaders, signedHeaders);
    if (headers === undefined) return { status: 400, code: "IncompleteSignature", message: `a signed header is not in the request (${signedHeaderList})` };
    const [path, query = ""] = req.url.split("?");
    const canonicalRequest = [req.method, path || "/", canonicalQuery(query), headers, signedHeaderList, sha256(body)].join("\n");
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${scopeRegion}/${service}/aws4_request`, sha256(canonicalRequest)].join("\n");
    const expected = hmac(signingKey(key.secretAccessKey, date, scopeRegion, service), stringToSign).toString("hex");
    if (expected !== signature) {
        return { status: 401, code: "AuthFailure", message: "AWS was not able to validate the provided access credentials" };
    }
    return undefined;
}

/** Signs a POST of `body` to `url` for EC2 in `region` (what Data Lifecycle Manager's own calls look like). */
export function signedHeaders(url: string, body: string, key: Credentials, region: string, now = new Date()): Record<string, string> {
    const { host, pathname } = new URL(url);
    const amzDate = now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
    const date = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        host,
        "x-amz-date": amzDate,
        ...(key.sessionToken ? { "x-amz-security-token": key.sessionToken } : {}),
    };
    const names = Object.keys(headers).sort();
    const canonicalRequest = ["POST", pathname || "/", "", names.map((n) => `${n}:${headers[n]}\n`).join(""), names.join(";"), sha256(body)].join("\n");
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${region}/ec2/aws4_request`, sha256(canonicalRequest)].join("\n");
    const signature = hmac(signingKey(key.secretAccessKey, date, region, "ec2"), stringToSign).toString("hex");
    const sent: Record<string, string> = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== "host"));
    return {
        ...sent,
        authorization: `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${date}/${region}/ec2/aws4_request, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    };
}
