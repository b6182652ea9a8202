import pg from 'pg';

/**
 * node-postgres's text parsers, one per type OID it parses (everything else stays text), for a driver that
 * parses on its own (PGlite) to give the same values as the pg driver: int8 and numeric as strings, a date
 * as a local-midnight Date, an interval as an object, numeric[] as numbers. Code above the driver (the sql
 * tag, Kysely) then sees the same values on every driver. Read from pg's registry (custom parsers set with
 * `pg.types.setTypeParser` before the driver opens are included).
 */
export function nodePostgresParsers(): Record<number, (value: string) => unknown> {
  const unparsed = pg.types.getTypeParser(0x7fffffff, 'text');
  const parsers: Record<number, (value: string) => unknown> = {};
  // Built-in type OIDs (and their array types) are all below 10,000.
  for (let oid = 1; oid < 10_000; oid++) {
    const parse = pg.types.getTypeParser(oid, 'text');
    if (parse !== unparsed) parsers[oid] = parse;
  }
  return parsers;
}
