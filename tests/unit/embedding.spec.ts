// The components as a library: what another project (in TypeScript, or in another Pulumi language through
// PulumiPlugin.yaml) gets.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";
import { REPO_ROOT } from "./mocks";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const COMPONENTS = ["Network", "MysqlHost", "SnapshotDocument", "SnapshotMaintenanceWindow", "SnapshotLifecyclePolicy"];

function requireBuilt(): Record<string, unknown> {
    const entry = path.join(REPO_ROOT, pkg.exports["."].default);
    assert.ok(fs.existsSync(entry), `${entry} is missing: run npm run build (npm test does)`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(entry);
}

describe("the package as a library", function () {
    this.timeout(60000);

    it("exports the built components and their types, not the stack program", () => {
        assert.equal(pkg.exports["."].default, "./bin/components/index.js");
        assert.equal(pkg.exports["."].types, "./bin/components/index.d.ts");
        assert.equal(pkg.types, "bin/components/index.d.ts");
        const library = requireBuilt();
        for (const name of COMPONENTS) assert.equal(typeof library[name], "function", name);
        const declarations = fs.readFileSync(path.join(REPO_ROOT, "bin", "components", "index.d.ts"), "utf8");
        assert.match(declarations, /export \* from "\.\/snapshotMaintenanceWindow"/);
        for (const name of COMPONENTS) {
            const file = fs
                .readdirSync(path.join(REPO_ROOT, "bin", "components"))
                .find(
                    (f) =>
                        f.endsWith(".d.ts") && fs.readFileSync(path.join(REPO_ROOT, "bin", "components", f), "utf8").includes(`export interface ${name}Args`),
                );
            assert.ok(file, `${name}Args is not in the built declarations`);
        }
    });

    it("resolves consistent-snapshots to the library from code inside the package (self-reference)", () => {
        assert.equal(require.resolve("consistent-snapshots"), path.join(REPO_ROOT, "bin", "components", "index.js"));
    });

    it("finds scripts/ relative to the package, whatever the caller's working directory", () => {
        const paths = path.join(REPO_ROOT, "bin", "components", "paths.js");
        const script = execFileSync(process.execPath, ["-e", `process.stdout.write(require(${JSON.stringify(paths)}).readScript("consistent-snapshot.sh"))`], {
            cwd: os.tmpdir(),
            encoding: "utf8",
        });
        assert.equal(script, fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8"));
    });

    it("ships the built JS, the scripts and PulumiPlugin.yaml in the npm package", () => {
        const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO_ROOT, encoding: "utf8" }));
        const files = packed.files.map((f: { path: string }) => f.path);
        for (const f of [
            "bin/components/index.js",
            "bin/components/index.d.ts",
            "scripts/consistent-snapshot.sh",
            "scripts/restore-verify.sh",
            "scripts/mysql-host-user-data.sh",
            "PulumiPlugin.yaml",
            "package.json",
        ]) {
            assert.ok(files.includes(f), `${f} not in the package`);
        }
        assert.ok(!files.some((f: string) => f.startsWith("tests/")), "tests are shipped");
    });

    it("points main and types at the library, and does not ship the stack program, tests or tools", () => {
        assert.equal(pkg.main, "bin/components/index.js");
        const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO_ROOT, encoding: "utf8" }));
        const files: string[] = packed.files.map((f: { path: string }) => f.path);
        for (const f of ["index.ts", "stack.ts", "config.ts", "Pulumi.yaml", "bin/index.js", "bin/stack.js", "bin/config.js"]) {
            assert.ok(!files.includes(f), `${f} is shipped`);
        }
        // The stack's configuration is the stack's, not the library's.
        const library = requireBuilt();
        for (const name of ["loadStackConfig", "validateStackConfig", "CONFIG_DEFAULTS"]) assert.equal(library[name], undefined, `${name} is exported`);
        assert.equal(typeof library.tagError, "function", "the shared AWS rules are");
        assert.deepEqual(
            files.filter((f) => f.startsWith("tools/")),
            ["tools/prepare.js"],
            "only the prepare step of tools/ is shipped",
        );
    });

    it("takes the Pulumi SDKs as peer dependencies with ranges from the tested versions, pinned exactly here", () => {
        assert.deepEqual(
            Object.keys(pkg.dependencies).filter((d) => d.startsWith("@pulumi/")),
            [],
            "a second copy of the SDK for consumers",
        );
        for (const sdk of ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/awsx"]) {
            const pinned = pkg.devDependencies[sdk];
            assert.match(pinned, /^\d+\.\d+\.\d+$/, `${sdk} is pinned exactly for this repository`);
            assert.equal(pkg.peerDependencies[sdk], `^${pinned}`, `${sdk}'s range starts at the tested version`);
        }
        assert.deepEqual(pkg.peerDependenciesMeta, { "@pulumi/awsx": { optional: true } }, "only Network needs awsx");
    });

    it("runs index.ts as this repository's stack program (Pulumi.yaml main), never package.json's library entry", () => {
        // Pulumi's Node.js host, given no program by the CLI (no `main` in Pulumi.yaml), runs package.json's
        // exports["."] (else `main`): here, the library, which declares nothing — an update would delete the stack.
        const run = fs.readFileSync(require.resolve("@pulumi/pulumi/cmd/run/run.js"), "utf8");
        assert.match(
            run,
            /if \(!hasEntrypoint\) \{[\s\S]*packageObject\.exports\["\."\][\s\S]*packageObject\["main"\]/,
            "the SDK's entry-point rule changed: re-check Pulumi.yaml's main",
        );
        assert.match(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"), /^main: index\.ts$/m);
    });

    it("declares itself a nodejs component package whose entry point is the library", () => {
        const manifest = fs.readFileSync(path.join(REPO_ROOT, "PulumiPlugin.yaml"), "utf8");
        assert.match(manifest, /^runtime: nodejs$/m);
        assert.match(manifest, /^main: components\/index\.ts$/m);
    });
});

/**
 * Pulumi's component packages are introspected from their Args types: interfaces whose fields are primitives,
 * Input<T>, arrays, string maps, other such interfaces, or unions of literals — no functions, no other unions,
 * no keyof/typeof, no anonymous object types.
 */
describe("component Args types (PulumiPlugin rules)", () => {
    const dir = path.join(REPO_ROOT, "components");
    const sources = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".ts"))
        .map((f) => ts.createSourceFile(f, fs.readFileSync(path.join(dir, f), "utf8"), ts.ScriptTarget.ES2022, true));
    const interfaces = new Map<string, ts.InterfaceDeclaration>();
    for (const source of sources) {
        ts.forEachChild(source, (node) => {
            if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
        });
    }

    function problems(type: ts.TypeNode, where: string, seen: Set<string>): string[] {
        if ([ts.SyntaxKind.StringKeyword, ts.SyntaxKind.NumberKeyword, ts.SyntaxKind.BooleanKeyword].includes(type.kind)) return [];
        if (ts.isLiteralTypeNode(type)) return [];
        if (ts.isArrayTypeNode(type)) return problems(type.elementType, where, seen);
        if (ts.isUnionTypeNode(type)) {
            const members = type.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword);
            if (members.length === 1) return problems(members[0], where, seen);
            return members.every((t) => ts.isLiteralTypeNode(t)) ? [] : [`${where}: union of non-literal types ${type.getText()}`];
        }
        if (ts.isTypeReferenceNode(type)) {
            const name = type.typeName.getText();
            const args = type.typeArguments ?? [];
            if (name === "pulumi.Input" || name === "Array") return problems(args[0], where, seen);
            if (name === "Record") {
                return args[0].kind === ts.SyntaxKind.StringKeyword ? problems(args[1], where, seen) : [`${where}: map key must be string`];
            }
            const target = interfaces.get(name);
            if (!target) return [`${where}: ${name} is not an interface of this package`];
            return checkInterface(target, seen);
        }
        if (ts.isTypeLiteralNode(type)) {
            const [member] = type.members;
            if (type.members.length === 1 && ts.isIndexSignatureDeclaration(member) && member.type) return problems(member.type, where, seen);
            return [`${where}: anonymous object type ${type.getText()}`];
        }
        return [`${where}: unsupported type ${type.getText()} (${ts.SyntaxKind[type.kind]})`];
    }

    function checkInterface(node: ts.InterfaceDeclaration, seen: Set<string>): string[] {
        if (seen.has(node.name.text)) return [];
        seen.add(node.name.text);
        return node.members.flatMap((member) => {
            if (!ts.isPropertySignature(member) || !member.type) return [`${node.name.text}: ${member.getText()} is not a typed property`];
            return problems(member.type, `${node.name.text}.${member.name.getText()}`, seen);
        });
    }

    for (const component of COMPONENTS) {
        it(`${component}Args follows them, and ${component}'s constructor is (name, args, opts)`, () => {
            const args = interfaces.get(`${component}Args`);
            assert.ok(args, `${component}Args is not exported`);
            assert.deepEqual(checkInterface(args, new Set()), []);
            const source = sources.find((f) => f.text.includes(`export class ${component} `))!;
            let constructorText = "";
            ts.forEachChild(source, (node) => {
                if (ts.isClassDeclaration(node) && node.name?.text === component) {
                    const ctor = node.members.find(ts.isConstructorDeclaration)!;
                    constructorText = ctor.parameters.map((p) => p.type!.getText()).join(", ");
                }
            });
            assert.match(constructorText, new RegExp(`^string, ${component}Args, pulumi\\.ComponentResourceOptions$`));
        });
    }

    it("rejects what the rules forbid (the checker can fail)", () => {
        const probe = ts.createSourceFile(
            "probe.ts",
            "interface ProbeArgs { a: () => void; b: string | number; c: { x: string }; d: keyof Foo }",
            ts.ScriptTarget.ES2022,
            true,
        );
        let found: string[] = [];
        ts.forEachChild(probe, (node) => {
            if (ts.isInterfaceDeclaration(node)) found = checkInterface(node, new Set());
        });
        assert.equal(found.length, 4, found.join("\n"));
    });
});
