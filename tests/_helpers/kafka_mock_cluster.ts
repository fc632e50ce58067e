/**
 * A Kafka cluster for tests, in its own process: librdkafka's mock cluster
 * (the real Kafka protocol on loopback). A test can `kill -9` a job and not
 * the brokers. Run as
 *
 *   deno run --allow-ffi --allow-env tests/_helpers/kafka_mock_cluster.ts [BROKERS]
 *
 * It prints `bootstrap HOST:PORT,...` and then answers one command per stdin
 * line with `ok` or `error MESSAGE`:
 *
 * - `topic NAME PARTITIONS` creates a topic (or adds nothing if it exists);
 * - `down BROKER` / `up BROKER` takes a broker down (connections closed) and back;
 * - `leader TOPIC PARTITION BROKER` moves a partition's leader;
 * - `errors APIKEY CODE...` makes the next requests of that API key fail with these codes.
 *
 * It exits when stdin closes.
 *
 * @module
 */
import { cstr, errBuf, errorText, rdkafka, readCString } from "../../core/connectors/kafka/_ffi.ts";

function startCluster(brokers: number): { mc: Deno.PointerObject; bootstraps: string } {
  const k = rdkafka();
  const conf = k.rd_kafka_conf_new();
  const err = errBuf();
  // The handle only hosts the cluster: it has no brokers of its own to warn about.
  k.rd_kafka_conf_set(conf, cstr("log_level"), cstr("3"), err, BigInt(err.length));
  const rk = k.rd_kafka_new(0, conf, err, BigInt(err.length));
  if (rk === null) throw new Error("rd_kafka_new failed");
  const mc = k.rd_kafka_mock_cluster_new(rk, brokers);
  if (mc === null) throw new Error("rd_kafka_mock_cluster_new failed");
  return { mc, bootstraps: readCString(k.rd_kafka_mock_cluster_bootstraps(mc)) };
}

function run(mc: Deno.PointerObject, line: string): string {
  const k = rdkafka();
  const [cmd, ...args] = line.trim().split(/\s+/);
  const int = (i: number) => {
    const n = Number(args[i]);
    if (!Number.isInteger(n)) throw new Error(`argument ${i + 1} of "${cmd}" must be an integer`);
    return n;
  };
  let code = 0;
  switch (cmd) {
    case "topic":
      code = k.rd_kafka_mock_topic_create(mc, cstr(args[0] ?? ""), int(1), 1);
      break;
    case "down":
      code = k.rd_kafka_mock_broker_set_down(mc, int(0));
      break;
    case "up":
      code = k.rd_kafka_mock_broker_set_up(mc, int(0));
      break;
    case "leader":
      code = k.rd_kafka_mock_partition_set_leader(mc, cstr(args[0] ?? ""), int(1), int(2));
      break;
    case "errors": {
      const codes = new Int32Array(args.slice(1).map(Number));
      k.rd_kafka_mock_push_request_errors_array(mc, int(0), BigInt(codes.length), codes);
      break;
    }
    default:
      throw new Error(`unknown command "${cmd}" (topic, down, up, leader, errors)`);
  }
  if (code !== 0) throw new Error(errorText(code));
  return "ok";
}

if (import.meta.main) {
  const { mc, bootstraps } = startCluster(Number(Deno.args[0] ?? 3));
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  out(`bootstrap ${bootstraps}`);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() === "") continue;
      try {
        out(run(mc, line));
      } catch (e) {
        out(`error ${(e as Error).message}`);
      }
    }
  }
  Deno.exit(0);
}
