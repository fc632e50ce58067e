/** The committed dashboard bundle is what esbuild makes from `page.ts` now. */
import assert from "node:assert/strict";
import { buildDashboardModule } from "../core/admin/dashboard/build.ts";

Deno.test("dashboard bundle is up to date (deno run -A core/admin/dashboard/build.ts)", async () => {
  const fresh = await buildDashboardModule();
  const committed = Deno.readTextFileSync(
    new URL("../core/admin/dashboard/bundle.ts", import.meta.url),
  );
  assert.ok(
    fresh === committed,
    "core/admin/dashboard/bundle.ts is stale: run deno run -A core/admin/dashboard/build.ts",
  );
});
