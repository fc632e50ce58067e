import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "./descriptors.ts";
import { Serializers } from "./serializer.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";

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

Deno.test("state descriptors, keyBy and returns: a serializer or function of the wrong kind is a ConfigError naming it where it is given", () => {
  // Unchecked code passes these; they used to fail at the first record with a TypeError
  // ("reading 'id'", "write is not a function") or, on the heap backend, run until a checkpoint.
  const SERIALIZER =
    "must be a Serializer (Serializers.f64, Serializers.string, Serializers.plain, …)";
  const f64 = Serializers.f64;
  const cases: [() => unknown, string][] = [
    [
      () => new ValueStateDescriptor("n", undefined as never),
      `State "n": the value serializer ${SERIALIZER}, got undefined`,
    ],
    [
      () => new ValueStateDescriptor("n", "f64" as never),
      `State "n": the value serializer ${SERIALIZER}, got the string "f64"`,
    ],
    [
      () => new ListStateDescriptor("l", {} as never),
      `State "l": the element serializer ${SERIALIZER}, got an object without id, write() and read()`,
    ],
    [
      () => new MapStateDescriptor("m", Serializers.string, null as never),
      `State "m": the value serializer ${SERIALIZER}, got null`,
    ],
    [
      () => new ReducingStateDescriptor("r", "sum" as never, f64),
      'State "r": the reduce function must be a function, got string',
    ],
    [
      () => new AggregatingStateDescriptor("a", { add: () => 0 } as never, f64),
      'State "a": the aggregate function needs createAccumulator(), getResult()',
    ],
    [
      () =>
        StreamEnvironment.create({ parallelism: 1 }).fromElements(1).keyBy(
          (n) => n,
          "f64" as never,
        ),
      `keyBy's key serializer ${SERIALIZER}, got the string "f64"`,
    ],
    [
      () =>
        StreamEnvironment.create({ parallelism: 1 }).fromElements(1).map((n: number) => n).returns(
          Serializers.f64.id as never,
        ),
      `Operator "Map": the serializer given to returns() ${SERIALIZER}, got the string "f64"`,
    ],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (e) => e instanceof ConfigError && e.message === message, message);
  }
});
