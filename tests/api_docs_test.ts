/**
 * Public API hygiene: every symbol exported from a package entry point (the
 * `exports` of deno.json) has JSDoc with an `@example`. The examples themselves
 * are type-checked and run by `deno test --doc`; this test makes sure none is
 * missing. It reads `deno doc --json` so it sees re-exports the way JSR does.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

interface DocTag {
  readonly kind: string;
}
interface DocDeclaration {
  readonly kind: string;
  readonly location: { readonly filename: string };
  readonly jsDoc?: { readonly tags?: readonly DocTag[] };
}
interface DocSymbol {
  readonly name: string;
  readonly declarations: readonly DocDeclaration[];
}
interface DocJson {
  readonly nodes: Record<string, { readonly symbols?: readonly DocSymbol[] }>;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));

function entryPoints(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    exports: Record<string, string>;
  };
  return Object.values(config.exports);
}

async function docJson(entry: string): Promise<DocJson> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `deno doc --json ${entry} failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as DocJson;
}

/** "file.ts: A (no JSDoc), B (no @example)" lines, one per defining file. */
function missingExamples(doc: DocJson): string[] {
  const byFile = new Map<string, string[]>();
  for (const node of Object.values(doc.nodes)) {
    for (const symbol of node.symbols ?? []) {
      const decls = symbol.declarations;
      const hasExample = decls.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"));
      if (hasExample) continue;
      const hasDoc = decls.some((d) => d.jsDoc !== undefined);
      const file = (decls[0]?.location.filename ?? "?").replace(`file://${ROOT}`, "");
      const list = byFile.get(file) ?? [];
      list.push(`${symbol.name} (${hasDoc ? "no @example" : "no JSDoc"})`);
      byFile.set(file, list);
    }
  }
  return [...byFile].sort(([a], [b]) => a.localeCompare(b)).map(([f, names]) =>
    `${f}: ${names.join(", ")}`
  );
}

for (const entry of entryPoints()) {
  Deno.test(`every export of ${entry} has JSDoc with an @example`, async () => {
    const doc = await docJson(entry);
    const symbols = Object.values(doc.nodes).reduce((n, m) => n + (m.symbols?.length ?? 0), 0);
    assert.ok(symbols > 0, `deno doc found no exports in ${entry}`);
    const missing = missingExamples(doc);
    assert.deepEqual(
      missing,
      [],
      `${entry}: exports without an @example JSDoc tag:\n  ${missing.join("\n  ")}`,
    );
  });
}

Deno.test("missingExamples names symbols without JSDoc and without @example", () => {
  const decl = (tags?: DocTag[]): DocDeclaration => ({
    kind: "function",
    location: { filename: `file://${ROOT}core/x.ts` },
    ...(tags ? { jsDoc: { tags } } : {}),
  });
  const doc: DocJson = {
    nodes: {
      "file:///mod.ts": {
        symbols: [
          { name: "documented", declarations: [decl([{ kind: "example" }])] },
          { name: "noExample", declarations: [decl([])] },
          { name: "bare", declarations: [decl()] },
        ],
      },
    },
  };
  assert.deepEqual(missingExamples(doc), [
    "core/x.ts: noExample (no @example), bare (no JSDoc)",
  ]);
});
