// duckdb.mjs opens a warehouse's seatlake.duckdb as an analyst's duckdb CLI does (`cd warehouse && duckdb
// seatlake.duckdb`), with DuckDB's Node.js client (@duckdb/node-api): the DuckDB engine in another build and another
// process than seatlake's (duckdb-go), reading the file and the Parquet files its views name.
//
//   cd <warehouse> && node duckdb.mjs <duckdb-node-prefix> seatlake.duckdb
//
// duckdb-node-prefix is the folder npm installed @duckdb/node-api into (`make duckdb-node`: .cache/duckdb-node).
// The file is opened read-only (the test must not change it) from the warehouse directory, so the views' relative
// paths resolve as they do for the CLI started there. Prints one JSON object: {"version": "vX.Y.Z", "counts":
// {"<view>": N, …}} with the row count of every view.
import { createRequire } from 'node:module'
import { join } from 'node:path'

const [prefix, file] = process.argv.slice(2)
if (!prefix || !file) {
  console.error('usage: node duckdb.mjs <duckdb-node-prefix> <seatlake.duckdb>')
  process.exit(2)
}
// @duckdb/node-api is a CommonJS package installed outside this folder: require it from there.
const { DuckDBInstance } = createRequire(join(prefix, 'package.json'))('@duckdb/node-api')

const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' })
const conn = await instance.connect()
const one = async sql => (await conn.runAndReadAll(sql)).getRows()
const version = (await one('SELECT version()'))[0][0]
const views = (await one(`SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' ORDER BY 1`)).map(r => r[0])
const counts = {}
for (const view of views) {
  try {
    counts[view] = Number((await one(`SELECT count(*) FROM "${view.replaceAll('"', '""')}"`))[0][0])
  } catch (err) {
    console.error(`DuckDB ${version} cannot read the view ${view} of ${file}: ${err?.message ?? err}`)
    process.exit(1)
  }
}
conn.closeSync()
instance.closeSync()
console.log(JSON.stringify({ version, counts }))
