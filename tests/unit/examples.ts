// Runs a program under examples/ in the mocked runtime as `pulumi up` in its directory would: its own project
// name and stack file, and "consistent-snapshots" resolved to the built library, as `npm install` links it.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import * as ts from "typescript";
import { REPO_ROOT, settle, useMocks } from "./mocks";

export const EXAMPLES_DIR = path.join(REPO_ROOT, "examples");

/** The example's stack file (Pulumi.<stack>.yaml) as flat config, objects JSON-encoded as the CLI passes them. */
export function exampleStackConfig(example: string, stack: string): Record<string, string> {
    const file = path.join(EXAMPLES_DIR, example, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return {};
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

export function exampleProject(example: string): string {
    const project = yaml.load(fs.readFileSync(path.join(EXAMPLES_DIR, example, "Pulumi.yaml"), "utf8")) as { name: string };
    return project.name;
}

/**
 * Links examples/<example>/node_modules/consistent-snapshots to this checkout, as `npm install` of "file:../.."
 * resolves it (the package's main and types: the built library).
 */
export function linkLibrary(example: string): void {
    const built = path.join(REPO_ROOT, "bin", "components", "index.js");
    assert.ok(fs.existsSync(built), `${built} is missing: run npm run build (npm test does)`);
    const link = path.join(EXAMPLES_DIR, example, "node_modules", "consistent-snapshots");
    const target = path.relative(path.dirname(link), REPO_ROOT);
    // Anything else there (the packed copy `npm install` in the example leaves) would test an older library.
    const current = fs.lstatSync(link, { throwIfNoEntry: false });
    if (current && !(current.isSymbolicLink() && fs.readlinkSync(link) === target)) fs.rmSync(link, { recursive: true, force: true });
    if (!fs.lstatSync(link, { throwIfNoEntry: false })) {
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.symlinkSync(target, link, "dir");
    }
}

/** The README's embedding sample (the block after `<!-- embed-example -->`), as a user copies it. */
export function readmeEmbedSample(): string {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const match = /<!-- embed-example -->\n```ts\n([\s\S]*?)```/.exec(readme);
    assert.ok(match, "README has no embed-example block");
    return match[1];
}

/**
 * The type errors of `files` compiled together under the options of the tsconfig file `tsconfig`, in any file the
 * program reads (a library's declarations included, as the consumer's `tsc` reports them), one message each.
 */
export function typeErrors(tsconfig: string, files: string[]): string[] {
    const config = ts.getParsedCommandLineOfConfigFile(
        tsconfig,
        {},
        {
            ...ts.sys,
            onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
        },
    );
    assert.ok(config, `${tsconfig} does not parse`);
    const program = ts.createProgram(files, { ...config.options, noEmit: true });
    return ts
        .getPreEmitDiagnostics(program)
        .map((d) => `${d.file ? path.relative(REPO_ROOT, d.file.fileName) : "(options)"}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
}

/** Runs examples/<example>/index.ts for a stack (its stack file, then `config` on top). */
export async function runExample(example: string, stack: string, config: Record<string, string> = {}): Promise<void> {
    linkLibrary(example);
    const project = exampleProject(example);
    const flat = { ...exampleStackConfig(example, stack), ...config };
    // Keys without a namespace in a stack file belong to the project.
    await useMocks(
        stack,
        Object.fromEntries(Object.entries(flat).map(([k, v]) => [k.startsWith(`${project}:`) ? k.slice(project.length + 1) : k, v])),
        project,
    );
    const entry = path.join(EXAMPLES_DIR, example, "index.ts");
    delete require.cache[entry];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(entry);
    await settle();
}
