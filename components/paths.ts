// Files shipped with the package (scripts/) are found from the package root, never from the caller's
// working directory or this module's compiled location.
import * as fs from "node:fs";
import * as path from "node:path";

/** The directory holding this package's package.json (works from components/ and from compiled bin/components/). */
export function packageRoot(): string {
    let dir = __dirname;
    for (;;) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "consistent-snapshots") return dir;
        const parent = path.dirname(dir);
        if (parent === dir) throw new Error(`consistent-snapshots: package root not found above ${__dirname}`);
        dir = parent;
    }
}

/** Absolute path of a file under the package's scripts/ directory. */
export function scriptPath(fileName: string): string {
    return path.join(packageRoot(), "scripts", fileName);
}

/** The exact bytes of a script, as SSM will run them. */
export function readScript(fileName: string): string {
    return fs.readFileSync(scriptPath(fileName), "utf8");
}
