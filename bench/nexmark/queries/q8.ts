/**
 * Nexmark q8, monitor new users: the people who opened an auction in the
 * same 10 s tumbling window in which they registered (a window coGroup of
 * people and auctions on person id = seller).
 *
 * ```sql
 * SELECT P.id, P.name, P.starttime
 * FROM (
 *   SELECT id, name, window_start AS starttime, window_end AS endtime
 *   FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *   GROUP BY id, name, window_start, window_end
 * ) P
 * JOIN (
 *   SELECT seller, window_start AS starttime, window_end AS endtime
 *   FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *   GROUP BY seller, window_start, window_end
 * ) A
 * ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
 * ```
 *
 * @module
 */
import { Serializers, TumblingEventTimeWindows } from "../../../mod.ts";
import type { Person } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";

const SIZE = 10_000;

type NewPerson = Pick<Person, "id" | "name" | "dateTime">;
const NEW_PERSON = Serializers.record<NewPerson>({
  id: Serializers.f64,
  name: Serializers.string,
  dateTime: Serializers.f64,
});

/** q8. */
export const q8: NexmarkQuery = {
  name: "q8",
  build: (s) =>
    s.persons().map((p): NewPerson => ({ id: p.id, name: p.name, dateTime: p.dateTime }), {
      uid: "q8-persons",
      name: "q8: Project persons",
    }).returns(NEW_PERSON)
      .coGroup(
        s.auctions().map((a) => a.seller, { uid: "q8-sellers", name: "q8: Project auctions" })
          .returns(Serializers.f64),
      )
      .where((p) => p.id, Serializers.f64)
      .equalTo((seller) => seller)
      .window(TumblingEventTimeWindows.of(SIZE))
      .apply<Row>({
        coGroup(persons, auctions, out) {
          if (auctions.length === 0) return;
          // GROUP BY id, name: each person once per window.
          const seen = new Set<string>();
          for (const p of persons) {
            const id = `${p.id}\u0000${p.name}`;
            if (seen.has(id)) continue;
            seen.add(id);
            const starttime = p.dateTime - (p.dateTime % SIZE);
            out.collect({ id: p.id, name: p.name, starttime });
          }
        },
      }, { uid: "q8", name: "q8: Join" }),
};
