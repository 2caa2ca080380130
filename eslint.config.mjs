// Lint: typescript-eslint's recommended rules with type information, and Pulumi's rules against an
// Output inside a template literal (it renders as a warning string, not the value).
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config({ ignores: ["node_modules/**", "bin/**", "**/*.js", "**/*.mjs"] }, ...tseslint.configs.recommended, {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { pulumi },
    rules: {
        "pulumi/no-output-in-template-literal": "error",
        "pulumi/no-output-instance-in-template-literal": "error",
        "@typescript-eslint/no-floating-promises": "error",
    },
});
