/**
 * Two of Apache Flink's training exercises (github.com/apache/flink-training), ported as a Flink
 * user learning weir would port them, with the cases of the training's own unit and integration
 * tests and the results Flink gives for them:
 *
 * - long-ride-alerts: `LongRidesSolution.AlertFunction`, a `KeyedProcessFunction` with an
 *   event-time timer per ride (START and END may come in either order; state and timers are
 *   cleared once both are seen, or when the timer fires);
 * - rides-and-fares: `RidesAndFaresSolution.EnrichmentFunction`, a `RichCoFlatMapFunction` over
 *   two streams keyed by ride id, with a `ValueState` per side.
 *
 * The integration cases run at parallelism 2 with a source read in parallel, as the training's
 * `ParallelTestSource` (subtask `i` of `p` emits elements `i, i + p, …`).
 */
import assert from "node:assert/strict";
import {
  type CoFlatMapFunction,
  type Collector,
  type CoProcessFunction,
  HeapStateBackend,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type Serializer,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
  WatermarkStrategy,
} from "../mod.ts";
import { CoProcessFunctionHarness, KeyedProcessFunctionHarness } from "../core/testing/mod.ts";

interface TaxiRide {
  rideId: number;
  isStart: boolean;
  /** Epoch milliseconds (Flink's `Instant eventTime`). */
  eventTime: number;
  startLon: number;
  startLat: number;
  endLon: number;
  endLat: number;
  passengerCnt: number;
  taxiId: number;
  driverId: number;
}

interface TaxiFare {
  rideId: number;
  taxiId: number;
  driverId: number;
  startTime: number;
  paymentType: string;
  tip: number;
  tolls: number;
  totalFare: number;
}

interface RideAndFare {
  ride: TaxiRide;
  fare: TaxiFare;
}

// ---- long-ride-alerts ----

const HOUR = 60 * 60 * 1000;
const BEGINNING = Date.parse("2020-01-01T12:00:00.00Z");
const ONE_MINUTE_LATER = BEGINNING + 60 * 1000;
const ONE_HOUR_LATER = BEGINNING + HOUR;
const TWO_HOURS_LATER = BEGINNING + 2 * HOUR;
const THREE_HOURS_LATER = BEGINNING + 3 * HOUR;

/** LongRidesTestBase.testRide: at Penn Station, one passenger. */
function testRide(rideId: number, isStart: boolean, eventTime: number): TaxiRide {
  const [lon, lat] = [Math.fround(-73.9947), Math.fround(40.750626)];
  return {
    rideId,
    isStart,
    eventTime,
    startLon: lon,
    startLat: lat,
    endLon: lon,
    endLat: lat,
    passengerCnt: 1,
    taxiId: 0,
    driverId: 0,
  };
}
const startRide = (rideId: number, t: number) => testRide(rideId, true, t);
const endRide = (started: TaxiRide, t: number) => testRide(started.rideId, false, t);

const rideEvent = new ValueStateDescriptor("ride event", Serializers.plain as Serializer<TaxiRide>);

/** LongRidesSolution.AlertFunction, line for line. */
class AlertFunction implements KeyedProcessFunction<number, TaxiRide, number> {
  rideState!: ValueState<TaxiRide>;

  open(ctx: RuntimeContext): void {
    this.rideState = ctx.getState(rideEvent);
  }

  processElement(ride: TaxiRide, ctx: KeyedProcessContext<number>, out: Collector<number>): void {
    const firstRideEvent = this.rideState.value();
    if (firstRideEvent === undefined) {
      // whatever event comes first, remember it
      this.rideState.update(ride);
      if (ride.isStart) ctx.timerService().registerEventTimeTimer(timerTime(ride));
    } else {
      if (ride.isStart) {
        if (rideTooLong(ride, firstRideEvent)) out.collect(ride.rideId);
      } else {
        // the first event was a START, so there is a timer unless it has fired
        ctx.timerService().deleteEventTimeTimer(timerTime(firstRideEvent));
        if (rideTooLong(firstRideEvent, ride)) out.collect(ride.rideId);
      }
      this.rideState.clear();
    }
  }

  onTimer(_timestamp: number, _ctx: OnTimerContext<number>, out: Collector<number>): void {
    out.collect(this.rideState.value()!.rideId);
    this.rideState.clear();
  }
}

function rideTooLong(start: TaxiRide, end: TaxiRide): boolean {
  return end.eventTime - start.eventTime > 2 * HOUR;
}

function timerTime(ride: TaxiRide): number {
  if (!ride.isStart) throw new Error("Can not get start time from END event.");
  return ride.eventTime + 120 * 60 * 1000;
}

/** LongRidesUnitTest's harness: the function keyed by ride id; records carry their event time. */
async function alertHarness() {
  const h = await KeyedProcessFunctionHarness.create(
    new AlertFunction(),
    (r: TaxiRide) => r.rideId,
  );
  const feed = (r: TaxiRide) => h.processElement(r, r.eventTime);
  const stateEntries = () => h.keys(rideEvent).length;
  const timers = () => h.pendingTimers("event-time").length;
  return { h, feed, stateEntries, timers };
}

Deno.test("long-ride-alerts unit: shouldUseTimersAndState", async () => {
  const { h, feed, stateEntries, timers } = await alertHarness();
  const rideStarted = startRide(1, BEGINNING);
  feed(rideStarted);
  assert.ok(timers() > 0);
  assert.ok(stateEntries() > 0);
  feed(endRide(rideStarted, ONE_MINUTE_LATER));
  assert.equal(timers(), 0);
  assert.equal(stateEntries(), 0);
  await h.close();
});

for (
  const [name, endTime, endFirst, expected] of [
    ["shouldNotAlertWithStartFirst", ONE_MINUTE_LATER, false, []],
    ["shouldNotAlertWithEndFirst", ONE_MINUTE_LATER, true, []],
    ["shouldAlertWithStartFirst", THREE_HOURS_LATER, false, [1]],
    ["shouldAlertWithEndFirst", THREE_HOURS_LATER, true, [1]],
  ] as const
) {
  Deno.test(`long-ride-alerts unit: ${name}`, async () => {
    const { h, feed, stateEntries, timers } = await alertHarness();
    const rideStarted = startRide(1, BEGINNING);
    const ended = endRide(rideStarted, endTime);
    for (const r of endFirst ? [ended, rideStarted] : [rideStarted, ended]) feed(r);
    assert.deepEqual(h.output(), expected);
    // Both events seen: nothing is left behind.
    assert.equal(stateEntries(), 0);
    assert.equal(timers(), 0);
    await h.close();
  });
}

Deno.test("long-ride-alerts unit: shouldNotAlertWithoutWatermarkOrEndEvent", async () => {
  const { h, feed } = await alertHarness();
  feed(startRide(1, BEGINNING));
  feed(startRide(2, THREE_HOURS_LATER));
  assert.deepEqual(h.output(), []);
  const mark2HoursLater = BEGINNING + 2 * HOUR;
  h.processWatermark(mark2HoursLater);
  // The alert carries the timer's time, and the watermark follows it.
  assert.deepEqual(h.outputWithTimestamps(), [{ value: 1, timestamp: mark2HoursLater }]);
  assert.deepEqual(h.watermarks(), [mark2HoursLater]);
  await h.close();
});

Deno.test("long-ride-alerts unit: shouldAlertOnWatermark", async () => {
  const { h, feed, stateEntries } = await alertHarness();
  feed(startRide(1, BEGINNING));
  assert.ok(stateEntries() > 0);
  assert.deepEqual(h.output(), []);
  const mark2HoursLater = BEGINNING + 2 * HOUR;
  h.processWatermark(mark2HoursLater);
  assert.deepEqual(h.outputWithTimestamps(), [{ value: 1, timestamp: mark2HoursLater }]);
  assert.deepEqual(h.watermarks(), [mark2HoursLater]);
  assert.equal(stateEntries(), 0); // cleared in onTimer
  await h.close();
});

/** LongRidesSolution's pipeline over `rides`, read by two subtasks as ParallelTestSource does. */
async function longRides(rides: TaxiRide[]): Promise<number[]> {
  const env = StreamEnvironment.create({ parallelism: 2, stateBackend: new HeapStateBackend() });
  return await env.fromCollection(rides).setParallelism(2)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forBoundedOutOfOrderness<TaxiRide>(60 * 1000)
        .withTimestampAssigner((ride) => ride.eventTime),
    )
    .keyBy((ride) => ride.rideId, Serializers.f64)
    .process(new AlertFunction())
    .executeAndCollect({ jobName: "Long Taxi Rides" });
}

Deno.test("long-ride-alerts integration, parallelism 2: shortRide", async () => {
  const rideStarted = startRide(1, BEGINNING);
  assert.deepEqual(await longRides([rideStarted, endRide(rideStarted, ONE_MINUTE_LATER)]), []);
});

Deno.test("long-ride-alerts integration, parallelism 2: shortRideOutOfOrder", async () => {
  const rideStarted = startRide(1, BEGINNING);
  assert.deepEqual(await longRides([endRide(rideStarted, ONE_MINUTE_LATER), rideStarted]), []);
});

Deno.test("long-ride-alerts integration, parallelism 2: multipleRides", async () => {
  const longRideWithoutEnd = startRide(1, BEGINNING);
  const twoHourRide = startRide(2, BEGINNING);
  const otherLongRide = startRide(3, ONE_MINUTE_LATER);
  const shortRide = startRide(4, ONE_HOUR_LATER);
  const got = await longRides([
    longRideWithoutEnd,
    twoHourRide,
    otherLongRide,
    shortRide,
    endRide(shortRide, TWO_HOURS_LATER),
    endRide(twoHourRide, BEGINNING),
    endRide(otherLongRide, THREE_HOURS_LATER),
  ]);
  // containsExactlyInAnyOrder: the END-less ride's timer fires at the end of input.
  assert.deepEqual(got.sort(), [longRideWithoutEnd.rideId, otherLongRide.rideId]);
});

// ---- rides-and-fares ----

/** RidesAndFaresTestBase.testRide / testFare. */
function idRide(rideId: number): TaxiRide {
  return {
    rideId,
    isStart: true,
    eventTime: 0,
    startLon: 0,
    startLat: 0,
    endLon: 0,
    endLat: 0,
    passengerCnt: 1,
    taxiId: 0,
    driverId: rideId,
  };
}
function idFare(rideId: number): TaxiFare {
  return {
    rideId,
    taxiId: 0,
    driverId: rideId,
    startTime: 0,
    paymentType: "",
    tip: 0,
    tolls: 0,
    totalFare: 0,
  };
}

const savedRide = new ValueStateDescriptor("saved ride", Serializers.plain as Serializer<TaxiRide>);
const savedFare = new ValueStateDescriptor("saved fare", Serializers.plain as Serializer<TaxiFare>);

/** RidesAndFaresSolution.EnrichmentFunction, line for line. */
class EnrichmentFunction implements CoFlatMapFunction<TaxiRide, TaxiFare, RideAndFare> {
  rideState!: ValueState<TaxiRide>;
  fareState!: ValueState<TaxiFare>;

  open(ctx: RuntimeContext): void {
    this.rideState = ctx.getState(savedRide);
    this.fareState = ctx.getState(savedFare);
  }

  flatMap1(ride: TaxiRide, out: Collector<RideAndFare>): void {
    const fare = this.fareState.value();
    if (fare !== undefined) {
      this.fareState.clear();
      out.collect({ ride, fare });
    } else {
      this.rideState.update(ride);
    }
  }

  flatMap2(fare: TaxiFare, out: Collector<RideAndFare>): void {
    const ride = this.rideState.value();
    if (ride !== undefined) {
      this.rideState.clear();
      out.collect({ ride, fare });
    } else {
      this.fareState.update(fare);
    }
  }
}

/**
 * RidesAndFaresUnitTest's harness: the function in a keyed two-input operator (Flink's
 * `CoStreamFlatMap`, which calls flatMap1/flatMap2 and nothing else).
 */
async function enrichmentHarness() {
  const fn = new EnrichmentFunction();
  const asProcess: CoProcessFunction<TaxiRide, TaxiFare, RideAndFare> = {
    open: (ctx) => fn.open(ctx),
    processElement1: (ride, _ctx, out) => fn.flatMap1(ride, out),
    processElement2: (fare, _ctx, out) => fn.flatMap2(fare, out),
  };
  const h = await CoProcessFunctionHarness.create(asProcess, {
    keySelectors: [(r: TaxiRide) => r.rideId, (f: TaxiFare) => f.rideId],
  });
  const stateEntries = () => h.keys(savedRide).length + h.keys(savedFare).length;
  return { h, stateEntries };
}

Deno.test("rides-and-fares unit: testRideStateCreatedAndCleared", async () => {
  const { h, stateEntries } = await enrichmentHarness();
  const [ride1, fare1] = [idRide(1), idFare(1)];
  h.processElement1(ride1, ride1.eventTime);
  assert.ok(stateEntries() > 0);
  h.processElement2(fare1, fare1.startTime);
  assert.equal(stateEntries(), 0);
  assert.deepEqual(h.outputWithTimestamps(), [{
    value: { ride: ride1, fare: fare1 },
    timestamp: ride1.eventTime,
  }]);
  await h.close();
});

Deno.test("rides-and-fares unit: testFareStateCreatedAndCleared", async () => {
  const { h, stateEntries } = await enrichmentHarness();
  const [ride1, fare1] = [idRide(1), idFare(1)];
  h.processElement2(fare1, fare1.startTime);
  assert.ok(stateEntries() > 0);
  h.processElement1(ride1, ride1.eventTime);
  assert.equal(stateEntries(), 0);
  assert.deepEqual(h.outputWithTimestamps(), [{
    value: { ride: ride1, fare: fare1 },
    timestamp: ride1.eventTime,
  }]);
  await h.close();
});

Deno.test("rides-and-fares integration, parallelism 2: testSeveralRidesAndFaresMixedTogether", async () => {
  const env = StreamEnvironment.create({ parallelism: 2, stateBackend: new HeapStateBackend() });
  const rides = env.fromCollection([idRide(1), idRide(4), idRide(3), idRide(2)]).setParallelism(2)
    .filter((ride) => ride.isStart)
    .keyBy((ride) => ride.rideId, Serializers.f64);
  const fares = env.fromCollection([idFare(2), idFare(4), idFare(1), idFare(3)]).setParallelism(2)
    .keyBy((fare) => fare.rideId, Serializers.f64);
  const got = await rides.connect(fares)
    .flatMap(new EnrichmentFunction())
    .uid("enrichment")
    .name("enrichment")
    .executeAndCollect({ jobName: "Join Rides with Fares" });
  assert.deepEqual(
    got.sort((a, b) => a.ride.rideId - b.ride.rideId),
    [1, 2, 3, 4].map((id) => ({ ride: idRide(id), fare: idFare(id) })),
  );
});
