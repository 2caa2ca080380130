// Shared checks of IAM policy documents: parsed, never trusted as strings.
import * as assert from "node:assert/strict";
import { PolicyDocument, PolicyStatement } from "../../components/policies";

export function parsePolicy(json: string): PolicyDocument {
    const doc = JSON.parse(json) as PolicyDocument;
    assert.equal(doc.Version, "2012-10-17");
    for (const s of doc.Statement) {
        assert.equal(s.Effect, "Allow");
        for (const action of s.Action) assert.doesNotMatch(action, /\*/, `wildcard action ${action} in ${s.Sid}`);
    }
    return doc;
}

export function statement(doc: PolicyDocument, sid: string): PolicyStatement {
    const found = doc.Statement.find((s) => s.Sid === sid);
    assert.ok(found, `no statement ${sid} in ${doc.Statement.map((s) => s.Sid).join(", ")}`);
    return found;
}

/** All actions granted, sorted. */
export function actions(doc: PolicyDocument): string[] {
    return [...new Set(doc.Statement.flatMap((s) => s.Action))].sort();
}
