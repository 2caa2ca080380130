// Pulumi's mocked runtime for the unit specs: records every resource registered, answers the invokes the
// components use, and returns the outputs awsx's remote Vpc component would. Unknown invokes fail loudly.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as yaml from "js-yaml";
import * as path from "node:path";
import { drainPulumiRuntime } from "../pulumiRuntime";

export const ACCOUNT_ID = "111122223333";
export const REGION = "us-east-1";
export const PROJECT = "consistent-snapshots";
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    id: string;
    /** The resource's URN, as the mocked engine made it. */
    urn: string;
    /** URNs of the resources it depends on, as the SDK sent them to the engine (explicit and through inputs). */
    dependencies: string[];
    /** Resource options as the SDK sent them to the engine. */
    options: RegistrationOptions;
    /** The provider reference (`<urn>::<id>`) the SDK sent; empty for the default provider and for components. */
    provider: string;
    /** Providers by package sent with a component's registration (remote components get only these). */
    providers: Record<string, string>;
    /** The Region and account the resource's provider works in (see `providerContext`). */
    context: ProviderContext;
}

/** Where a provider works: its `region`, and the account its credentials end up in. */
export interface ProviderContext {
    region: string;
    accountId: string;
}

/** One invoke (data source call) and the provider reference it was made with. */
export interface RecordedInvoke {
    token: string;
    provider: string;
    context: ProviderContext;
}

export interface RegistrationOptions {
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
}

export const resources: RecordedResource[] = [];
export const invokes: string[] = [];
export const invokeCalls: RecordedInvoke[] = [];

/** Explicit aws providers registered so far, by reference (`<urn>::<id>`). */
const awsProviders = new Map<string, ProviderContext>();

/**
 * What AWS would make of a provider: its `region` (else the stack's `aws:region`), and the account of the role
 * it assumes (`assumeRoles[0].roleArn`) — the caller identity after AssumeRole is the role's account — else the
 * account of the ambient credentials (ACCOUNT_ID). The default provider and no provider: the stack's.
 */
export function providerContext(reference: string | undefined): ProviderContext {
    return (reference && awsProviders.get(reference)) || { region: stackRegion, accountId: ACCOUNT_ID };
}

/** The stack's `aws:region`: what the default provider works in. */
let stackRegion = REGION;

function providerInputContext(inputs: Record<string, unknown>): ProviderContext {
    // Provider inputs that are objects or lists reach the engine JSON-encoded.
    const decode = (v: unknown) => (typeof v === "string" && /^[[{]/.test(v) ? JSON.parse(v) : v);
    const assumeRoles = decode(inputs.assumeRoles) as { roleArn?: string }[] | undefined;
    const roleAccount = assumeRoles?.[0]?.roleArn?.split(":")[4];
    return { region: (inputs.region as string | undefined) ?? stackRegion, accountId: roleAccount || ACCOUNT_ID };
}

/** The URN and dependencies of the registration being answered (set by the monitor wrapper in useMocks). */
let pending: Pick<RecordedResource, "urn" | "dependencies" | "options" | "provider" | "providers"> = {
    urn: "",
    dependencies: [],
    provider: "",
    providers: {},
    options: { protect: false, retainOnDelete: false, deleteBeforeReplace: false, ignoreChanges: [], replaceOnChanges: [] },
};

class Mocks implements pulumi.runtime.Mocks {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        // Volumes get an id of the real form (vol- + 17 hex digits, from the name): the user data checks it.
        const id = args.type === "aws:ebs/volume:Volume" ? `vol-${Buffer.from(args.name).toString("hex").slice(0, 17).padEnd(17, "0")}` : `${args.name}-id`;
        const context = providerContext(pending.provider);
        const { region, accountId } = context;
        resources.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs,
            id,
            ...pending,
            context,
        });
        if (args.type === "pulumi:providers:aws") awsProviders.set(`${pending.urn}::${id}`, providerInputContext(args.inputs));
        const state: Record<string, unknown> = { ...args.inputs };
        switch (args.type) {
            case "awsx:ec2:Vpc":
                Object.assign(state, {
                    vpcId: "vpc-0123",
                    publicSubnetIds: ["subnet-public-a"],
                    privateSubnetIds: [],
                    isolatedSubnetIds: ["subnet-isolated-a"],
                });
                break;
            case "aws:ebs/volume:Volume":
                state.arn = `arn:aws:ec2:${region}:${accountId}:volume/${id}`;
                break;
            case "aws:ec2/instance:Instance":
                state.arn = `arn:aws:ec2:${region}:${accountId}:instance/i-0${args.name}`;
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                state.name = args.inputs.name ?? `${args.name}-a1b2c3`;
                state.arn = `arn:aws:logs:${region}:${accountId}:log-group:${state.name}`;
                break;
            case "aws:iam/role:Role":
                state.name = args.inputs.name ?? `${args.name}-a1b2c3`;
                state.arn = `arn:aws:iam::${accountId}:role/${state.name}`;
                break;
            case "aws:ssm/document:Document":
                state.name = args.inputs.name ?? `${args.name}-a1b2c3`;
                state.arn = `arn:aws:ssm:${region}:${accountId}:document/${state.name}`;
                break;
            default:
                state.name = args.inputs.name ?? `${args.name}-a1b2c3`;
                state.arn = args.inputs.arn ?? `arn:aws:mock:${region}:${accountId}:${args.type}/${args.name}`;
        }
        return { id, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        invokes.push(args.token);
        const context = providerContext(args.provider);
        const { region, accountId } = context;
        invokeCalls.push({ token: args.token, provider: args.provider ?? "", context });
        switch (args.token) {
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            case "aws:index/getRegion:getRegion":
                return { region, name: region, id: region };
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId, arn: `arn:aws:iam::${accountId}:user/test`, userId: "AIDTEST", id: accountId };
            case "aws:ec2/getAmi:getAmi":
                return { id: "ami-0fedcba9876543210", imageId: "ami-0fedcba9876543210", name: "al2023-ami-2023.6-x86_64" };
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                return {
                    names: ["a", "b", "c"].map((z) => `${region}${z}`),
                    zoneIds: ["az1", "az2", "az3"].map((z) => `${region.slice(0, 2)}1-${z}`),
                    id: region,
                };
            case "aws:ec2/getRouteTables:getRouteTables":
                // The VPC's main route table and awsx's one per subnet.
                return { ids: ["rtb-main", "rtb-isolated-a"], vpcId: args.inputs.vpcId, id: args.inputs.vpcId };
            case "aws:ec2/getSubnet:getSubnet":
                return {
                    id: args.inputs.id,
                    arn: `arn:aws:ec2:${region}:${accountId}:subnet/${args.inputs.id}`,
                    availabilityZone: `${region}a`,
                    availabilityZoneId: "use1-az1",
                    vpcId: "vpc-0123",
                };
            case "aws:ssm/getParameter:getParameter":
                return { name: args.inputs.name, value: "ami-0abcdef1234567890", type: "String", id: args.inputs.name };
            default: {
                const error = new Error(`unmocked invoke ${args.token}`);
                (error as Error & { details: string }).details = error.message;
                throw error;
            }
        }
    }
}

/** Installs the mocks for a stack, with the given config (keys without prefix are the project's). */
export async function useMocks(stack: string, config: Record<string, string> = {}, project = PROJECT): Promise<void> {
    resources.length = 0;
    invokes.length = 0;
    invokeCalls.length = 0;
    awsProviders.clear();
    const all: Record<string, string> = { "aws:region": REGION };
    for (const [key, value] of Object.entries(config)) all[key.includes(":") ? key : `${project}:${key}`] = value;
    stackRegion = all["aws:region"];
    await pulumi.runtime.setMocks(new Mocks(), project, stack, false);
    recordDependencies();
    pulumi.runtime.setAllConfig(all);
}

/**
 * Wraps the mocked monitor's registerResource so that each recorded resource carries the URN, dependencies and
 * resource options of the request as the engine would receive them (`Mocks.newResource` is not given them). newResource runs synchronously inside the wrapped call.
 */
function recordDependencies(): void {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    monitor.registerResource = (req: any, callback: any) => {
        const propertyDependencies: string[] = [];
        req.getPropertydependenciesMap().forEach((deps: { getUrnsList(): string[] }) => propertyDependencies.push(...deps.getUrnsList()));
        const providers: Record<string, string> = {};
        req.getProvidersMap().forEach((reference: string, pkg: string) => {
            providers[pkg] = reference;
        });
        pending = {
            urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
            provider: req.getProvider(),
            providers,
            dependencies: [...new Set([...req.getDependenciesList(), ...propertyDependencies])],
            options: {
                protect: req.getProtect() === true,
                retainOnDelete: req.getRetainondelete() === true,
                deleteBeforeReplace: req.getDeletebeforereplace() === true,
                ignoreChanges: req.getIgnorechangesList(),
                replaceOnChanges: req.getReplaceonchangesList(),
            },
        };
        return register(req, callback);
    };
}

/** Reads a stack file (Pulumi.<stack>.yaml) into flat config, objects as JSON like the CLI passes them. */
export function stackFileConfig(stack: string): Record<string, string> {
    const doc = yaml.load(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Waits until every registration and invoke the program started has been answered. */
export async function settle(): Promise<void> {
    await drainPulumiRuntime();
}

/** The resolved value of an output (with a short bound: an output of a failed registration never resolves). */
export function value<T>(output: pulumi.Output<T> | pulumi.Input<T> | undefined, ms = 3000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("output did not resolve")), ms);
        pulumi.output(output as pulumi.Input<T>).apply((v) => {
            clearTimeout(timer);
            resolve(v as T);
            return v;
        });
    });
}

/** Resources of a type, sorted by name (registration order is not deterministic). */
export function ofType(type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type).sort((a, b) => a.name.localeCompare(b.name));
}

export function one(type: string): RecordedResource {
    const found = ofType(type);
    if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    return found[0];
}

/** Counts resources by type, for exact inventory assertions. */
export function inventory(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of resources) out[r.type] = (out[r.type] ?? 0) + 1;
    return out;
}
