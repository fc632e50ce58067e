/**
 * Nexmark q3, local item suggestion: sellers in Oregon, Idaho or California
 * and their auctions in category 10 (a regular join: either side may come
 * first, and both are kept).
 *
 * ```sql
 * SELECT P.name, P.city, P.state, A.id
 * FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
 * WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
 * ```
 *
 * @module
 */
import { Serializers } from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import type { Auction, Person } from "../model.ts";

const { f64, string } = Serializers;
type Sale = Pick<Auction, "id" | "seller">;
const SALE = Serializers.record<Sale>({ id: f64, seller: f64 });
type Seller = Pick<Person, "id" | "name" | "city" | "state">;
const SELLER = Serializers.record<Seller>({ id: f64, name: string, city: string, state: string });

const STATES = new Set(["OR", "ID", "CA"]);

/** q3. */
export const q3: NexmarkQuery = {
  name: "q3",
  build: (s) => {
    const auctions = s.auctions().filter((a) => a.category === 10, { uid: "q3-auctions" })
      .map((a): Sale => ({ id: a.id, seller: a.seller }), { uid: "q3-sales" })
      .returns(SALE);
    const persons = s.persons().filter((p) => STATES.has(p.state), { uid: "q3-persons" })
      .map((p): Seller => ({ id: p.id, name: p.name, city: p.city, state: p.state }), {
        uid: "q3-sellers",
      })
      .returns(SELLER);
    return auctions.keyBy((a) => a.seller, Serializers.f64)
      .innerJoin(persons.keyBy((p) => p.id, Serializers.f64))
      .apply<Row>(
        (a, p) => ({ name: p.name, city: p.city, state: p.state, id: a.id }),
        {
          uid: "q3",
          name: "q3: Join",
          leftSerializer: SALE,
          rightSerializer: SELLER,
        },
      );
  },
};
