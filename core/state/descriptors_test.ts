import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from "./descriptors.ts";
import { Serializers } from "./serializer.ts";

Deno.test("state descriptors: a name that is not a non-empty string is a ConfigError (it keys the state in snapshots)", () => {
  for (const name of [undefined, 42, ""] as unknown as string[]) {
    for (
      const make of [
        () => new ValueStateDescriptor(name, Serializers.f64),
        () => new ListStateDescriptor(name, Serializers.f64),
        () => new MapStateDescriptor(name, Serializers.string, Serializers.f64),
      ]
    ) {
      assert.throws(
        make,
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.startsWith("A state descriptor's name must be a non-empty string, got "),
      );
    }
  }
  assert.equal(new ValueStateDescriptor("count", Serializers.f64).name, "count");
});
