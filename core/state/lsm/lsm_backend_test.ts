import { runStateSuite } from "../testing/state_suite.ts";
import { LsmStateBackend } from "./lsm_backend.ts";

runStateSuite(
  "lsm",
  () => new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 }),
);
runStateSuite(
  "lsm tiny cache",
  () =>
    new LsmStateBackend({ memtableBytes: 64 << 10, blockCacheBytes: 64 << 10, cacheEntries: 3 }),
);
runStateSuite(
  "lsm no cache",
  () =>
    new LsmStateBackend({ memtableBytes: 64 << 10, blockCacheBytes: 64 << 10, cacheEntries: 0 }),
);
