/** A printable id of a key of any type: JSON, with bigints spelled `10n`. */
export const keyId = (k: unknown): string =>
  JSON.stringify(k, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
