/**
 * Word count from a Kafka topic to a Kafka topic, exactly once:
 *
 *   deno run -A examples/kafka_word_count.ts --bootstrap-servers HOST:PORT \
 *     --input-topic T --output-topic U [--bounded] [common flags]
 *
 * Each input record's value is a line of UTF-8 text; for every word read the
 * job writes one record with key = the word and value = `word<TAB>count`,
 * through Kafka transactions when it checkpoints (`--checkpoint-dir`; with
 * `--mode at-least-once` or without checkpointing: without them). The
 * exactly-once sink needs the topic `U.weir-transactions` (1 partition) for its
 * commit markers. With `--bounded` the job reads up to the offsets that were
 * the latest when it first started (kept across restores), takes a final
 * checkpoint, commits and exits 0. Needs librdkafka (docs/kafka.md).
 *
 * The narrowest permissions (docs/install.md): FFI for librdkafka, whose
 * sockets need no --allow-net; read and write the checkpoint folder CKPT and
 * TMP, the temporary folder ($TMPDIR, else /tmp) of the LSM backend:
 *
 *   deno run --allow-ffi --allow-read=CKPT,TMP --allow-write=CKPT,TMP examples/kafka_word_count.ts \
 *     --bootstrap-servers HOST:PORT --input-topic T --output-topic U --checkpoint-dir CKPT
 *
 * @module
 */
import {
  ConfigError,
  KafkaDeserializers,
  KafkaSerializers,
  KafkaSink,
  KafkaSource,
  runMain,
  Serializers,
  StreamEnvironment,
} from "../mod.ts";
import { CountWords } from "./word_count.ts";

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values, flags } = StreamEnvironment.fromArgs(args, {
    "bootstrap-servers": { type: "string" },
    "input-topic": { type: "string" },
    "output-topic": { type: "string" },
    bounded: { type: "boolean" },
  });
  const bootstrapServers = values["bootstrap-servers"] as string | undefined;
  const input = values["input-topic"] as string | undefined;
  const output = values["output-topic"] as string | undefined;
  if (!bootstrapServers) throw new ConfigError("--bootstrap-servers HOST:PORT is required");
  if (!input) throw new ConfigError("--input-topic T is required");
  if (!output) throw new ConfigError("--output-topic U is required");
  // Transactions commit at checkpoints: without checkpointing an unbounded job would never
  // commit, so it writes at-least-once (as Flink's Kafka sink requires checkpointing for
  // exactly-once).
  const exactlyOnce = flags.mode !== "at-least-once" && flags.checkpointDir !== undefined;
  env.addSource(
    new KafkaSource({
      bootstrapServers,
      topics: [input],
      bounded: values.bounded === true,
      partitionDiscoveryIntervalMs: 5_000,
      deserializer: (r) => KafkaDeserializers.string(r.value) ?? "",
    }),
    { uid: "lines" },
  )
    .flatMap((line: string, out) => {
      for (const w of line.split(/\s+/)) if (w !== "") out.collect(w);
    }).uid("split")
    .keyBy((w) => w, Serializers.string)
    .process(new CountWords()).uid("count")
    .addSink(
      new KafkaSink<string>({
        bootstrapServers,
        topic: output,
        deliveryGuarantee: exactlyOnce ? "exactly-once" : "at-least-once",
        transactionalIdPrefix: `weir-word-count-${output}`,
        serializer: (line) => ({
          key: KafkaSerializers.string(line.slice(0, line.indexOf("\t"))),
          value: KafkaSerializers.string(line),
        }),
      }),
      { uid: "sink" },
    );
  await env.execute("kafka word count");
}

if (import.meta.main) await runMain("kafka_word_count", main);
