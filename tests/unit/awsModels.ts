// AWS's published API models (botocore service-2.json, fetched by tests/aws-models/fetch.sh) and a validator
// of request objects against an operation's input shape: required members, unknown members, string
// length/pattern/enum, number range, list and map sizes. This checks what AWS checks before it acts, not
// what we assume; a mapping from Pulumi resources to requests is in aws-api-models.spec.ts.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "./mocks";

interface Shape {
    type: string;
    min?: number;
    max?: number;
    pattern?: string;
    enum?: string[];
    required?: string[];
    members?: Record<string, { shape: string }>;
    member?: { shape: string };
    key?: { shape: string };
    value?: { shape: string };
}
interface Model {
    metadata: { serviceId: string; apiVersion: string };
    operations: Record<string, { input?: { shape: string } }>;
    shapes: Record<string, Shape>;
}

/** One broken constraint: where in the request, and what the model says. */
export interface Violation {
    operation: string;
    path: string;
    problem: string;
}

let modelsDir: string | undefined;

/** The directory of the models, fetched once per machine (cached; needs Debian's archive the first time). */
export function awsModelsDir(): string {
    if (modelsDir) return modelsDir;
    const fetch = spawnSync("bash", [path.join(REPO_ROOT, "tests", "aws-models", "fetch.sh")], { encoding: "utf8", timeout: 300_000 });
    if (fetch.status !== 0) throw new Error(`tests/aws-models/fetch.sh failed: ${fetch.stderr}`);
    modelsDir = fetch.stdout.trim();
    return modelsDir;
}

const models = new Map<string, Model>();

/** The newest API version's model of a service (botocore directory name, e.g. "ssm", "ec2"). */
export function model(service: string): Model {
    let found = models.get(service);
    if (!found) {
        const serviceDir = path.join(awsModelsDir(), service);
        const version = fs
            .readdirSync(serviceDir)
            .filter((v) => fs.existsSync(path.join(serviceDir, v, "service-2.json")))
            .sort()
            .at(-1);
        if (!version) throw new Error(`no service-2.json for ${service} in ${serviceDir}`);
        found = JSON.parse(fs.readFileSync(path.join(serviceDir, version, "service-2.json"), "utf8")) as Model;
        models.set(service, found);
    }
    return found;
}

/** The package the models came from (for the closing note and failure messages). */
export function modelsPackage(): string {
    return fs.readFileSync(path.join(path.dirname(awsModelsDir()), "package"), "utf8").trim();
}

const patterns = new Map<string, RegExp>();

/**
 * A model pattern (Java regex syntax) as a JavaScript RegExp with Java's `matches()` semantics: the services
 * validate the whole value. Escapes of characters that are not special (e.g. `\:`) are dropped, since the
 * `u` flag (needed for `\p{L}`) rejects them.
 */
export function modelPattern(pattern: string): RegExp {
    let re = patterns.get(pattern);
    if (!re) {
        // Java's \p{all} (any character) has no JavaScript name.
        const js = pattern
            .replace(/\\p\{all\}/g, "\\u{0}-\\u{10FFFF}")
            .replace(/\\(.)/g, (all, c: string) => (/[A-Za-z0-9\\^$.*+?()[\]{}|/-]/.test(c) ? all : c));
        re = new RegExp(`^(?:${js})$`, "u");
        patterns.set(pattern, re);
    }
    return re;
}

/** Every constraint of `service`'s `operation` input that `request` breaks (empty: AWS accepts its form). */
export function validateRequest(service: string, operation: string, request: Record<string, unknown>): Violation[] {
    const m = model(service);
    const op = m.operations[operation];
    if (!op?.input) throw new Error(`${service} has no operation ${operation} with input`);
    const violations: Violation[] = [];
    const report = (where: string, problem: string) => violations.push({ operation: `${service}:${operation}`, path: where, problem });
    const visit = (value: unknown, shapeName: string, where: string): void => {
        const shape = m.shapes[shapeName];
        switch (shape.type) {
            case "structure": {
                if (typeof value !== "object" || value === null || Array.isArray(value)) {
                    report(where, `expected a structure (${shapeName})`);
                    return;
                }
                const v = value as Record<string, unknown>;
                for (const name of shape.required ?? []) if (v[name] === undefined) report(`${where}.${name}`, "required member missing");
                for (const [name, member] of Object.entries(v)) {
                    if (member === undefined) continue;
                    const spec = shape.members?.[name];
                    if (!spec) report(`${where}.${name}`, `no such member of ${shapeName}`);
                    else visit(member, spec.shape, `${where}.${name}`);
                }
                return;
            }
            case "list": {
                if (!Array.isArray(value)) {
                    report(where, `expected a list (${shapeName})`);
                    return;
                }
                if (shape.min !== undefined && value.length < shape.min) report(where, `${value.length} items, fewer than min ${shape.min}`);
                if (shape.max !== undefined && value.length > shape.max) report(where, `${value.length} items, more than max ${shape.max}`);
                value.forEach((item, i) => visit(item, shape.member!.shape, `${where}[${i}]`));
                return;
            }
            case "map": {
                if (typeof value !== "object" || value === null) {
                    report(where, `expected a map (${shapeName})`);
                    return;
                }
                const entries = Object.entries(value as Record<string, unknown>);
                if (shape.min !== undefined && entries.length < shape.min) report(where, `${entries.length} entries, fewer than min ${shape.min}`);
                if (shape.max !== undefined && entries.length > shape.max) report(where, `${entries.length} entries, more than max ${shape.max}`);
                for (const [k, v] of entries) {
                    visit(k, shape.key!.shape, `${where}{key ${JSON.stringify(k)}}`);
                    visit(v, shape.value!.shape, `${where}[${JSON.stringify(k)}]`);
                }
                return;
            }
            case "string": {
                if (typeof value !== "string") {
                    report(where, `expected a string (${shapeName}), got ${typeof value}`);
                    return;
                }
                const length = [...value].length;
                if (shape.min !== undefined && length < shape.min) report(where, `${length} characters, fewer than min ${shape.min} (${shapeName})`);
                if (shape.max !== undefined && length > shape.max) report(where, `${length} characters, more than max ${shape.max} (${shapeName})`);
                if (shape.pattern !== undefined && !modelPattern(shape.pattern).test(value)) {
                    report(where, `${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)} does not match ${shape.pattern} (${shapeName})`);
                }
                if (shape.enum !== undefined && !shape.enum.includes(value)) report(where, `${JSON.stringify(value)} is not one of ${shape.enum.join(", ")}`);
                return;
            }
            case "integer":
            case "long": {
                if (typeof value !== "number" || !Number.isInteger(value)) {
                    report(where, `expected an integer (${shapeName}), got ${JSON.stringify(value)}`);
                    return;
                }
                if (shape.min !== undefined && value < shape.min) report(where, `${value} below min ${shape.min} (${shapeName})`);
                if (shape.max !== undefined && value > shape.max) report(where, `${value} above max ${shape.max} (${shapeName})`);
                return;
            }
            case "boolean":
                if (typeof value !== "boolean") report(where, `expected a boolean (${shapeName}), got ${JSON.stringify(value)}`);
                return;
            default:
                return; // blob, timestamp, double: nothing this program sends
        }
    };
    visit(request, op.input.shape, operation);
    return violations;
}
