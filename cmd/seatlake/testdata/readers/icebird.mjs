// icebird.mjs reads the current snapshot of Iceberg tables with icebird (hyparam's JavaScript Apache Iceberg reader,
// built on hyparquet): an implementation that shares no code with seatlake's writer (apache/iceberg-go, arrow-go).
//
//   node icebird.mjs <icebird-prefix> <storage> <base-url> <table>=<metadata-location> ...
//
// icebird-prefix is the folder npm installed icebird into (`make icebird`: .cache/icebird). The metadata locations
// are the catalog's (metadata_location of the SQL catalog's iceberg_tables), and every path inside the metadata
// (manifest lists, manifests, data files) is a URL under storage (file:///…/warehouse): each is fetched from
// base-url instead, an HTTP server over the warehouse folder. A URL outside storage is an error, so every byte
// icebird reads comes from the files the catalog names.
//
// Prints one JSON object: {"<table>": {"rows": N, "data_files": F}, …}: rows are the rows icebird
// decodes from the data files (deletes applied), not the manifests' record counts. Exits 1 naming the table
// icebird cannot read.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { inflateRawSync } from 'node:zlib'

const [prefix, storage, base, ...pairs] = process.argv.slice(2)
if (!prefix || !storage || !base || pairs.length === 0) {
  console.error('usage: node icebird.mjs <icebird-prefix> <storage> <base-url> <table>=<metadata-location> ...')
  process.exit(2)
}

// icebird is an ES module package installed outside this folder: import it by its package.json's entry point.
const pkgDir = join(prefix, 'node_modules', 'icebird')
const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8'))
const { icebergMetadata, icebergManifests, icebergRead } = await import(pathToFileURL(join(pkgDir, pkg.exports['.'].import)).href)

const storagePrefix = storage.replace(/\/+$/, '') + '/'
const baseUrl = base.replace(/\/+$/, '') + '/'
const toHttp = url => {
  if (!url.startsWith(storagePrefix)) throw new Error(`${url} is not under the storage ${storagePrefix}`)
  return baseUrl + url.slice(storagePrefix.length)
}

// icebird fetches every file with the global fetch (file:// is not fetchable in Node): map the storage's URLs onto
// the HTTP server, and make a failed answer an error (icebird decodes a manifest's body without checking it).
// Avro files (manifest lists, manifests) are handed over with their deflate blocks inflated (inflateAvro).
const nodeFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input.url
  const target = url.startsWith(baseUrl) ? url : toHttp(url)
  const res = await nodeFetch(target, init)
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  if (!url.endsWith('.avro')) return res
  return new Response(inflateAvro(new Uint8Array(await res.arrayBuffer()), url))
}

// inflateAvro rewrites an Avro object container file whose codec is deflate into the same file with codec null:
// the same header, schema, sync marker and records, each block inflated by Node's zlib. It works around one defect
// of icebird 0.3.1: its Avro reader inflates blocks with hyparquet-compressors 1.1.1's gunzip, which, called
// without the output length, takes the unused end of its growing buffer for "another gzip member", decodes the
// block again from its first byte until the buffer overflows, and throws "RangeError: offset is out of bounds" when
// the stream ends with an empty stored block. Go's compress/flate ends every stream that way (Close writes an empty
// final stored block), so every manifest and manifest list apache/iceberg-go writes (twmb/avro's DeflateCodec,
// fixed in iceberg-go v0.7.0) fails in icebird, though each is valid raw DEFLATE (RFC 1951) as the Avro
// specification's deflate codec requires. Everything else (the Avro schema and records, the Iceberg metadata,
// the manifests' meaning, the Parquet data) is still read by icebird and hyparquet.
function inflateAvro(bytes, url) {
  let pos = 0
  const fail = what => { throw new Error(`${url}: ${what} at byte ${pos}`) }
  const readLong = () => {
    let n = 0n, shift = 0n, b
    do {
      if (pos >= bytes.length) fail('truncated Avro long')
      b = bytes[pos++]
      n |= BigInt(b & 0x7f) << shift
      shift += 7n
    } while (b & 0x80)
    return Number((n >> 1n) ^ -(n & 1n))
  }
  const readBytes = () => {
    const len = readLong()
    if (len < 0 || pos + len > bytes.length) fail('truncated Avro bytes')
    return bytes.subarray(pos, (pos += len))
  }
  const out = []
  const writeLong = v => {
    let n = (BigInt(v) << 1n) ^ (BigInt(v) >> 63n)
    const buf = []
    do {
      let b = Number(n & 0x7fn)
      n >>= 7n
      if (n) b |= 0x80
      buf.push(b)
    } while (n)
    out.push(Uint8Array.from(buf))
  }
  const writeBytes = b => { writeLong(b.length); out.push(b) }

  if (bytes[0] !== 0x4f || bytes[1] !== 0x62 || bytes[2] !== 0x6a || bytes[3] !== 0x01) fail('not an Avro file')
  pos = 4
  const meta = []
  for (let count = readLong(); count !== 0; count = readLong()) {
    if (count < 0) { count = -count; readLong() }
    for (let i = 0; i < count; i++) meta.push([new TextDecoder().decode(readBytes()), readBytes()])
  }
  const codec = new TextDecoder().decode(meta.find(([k]) => k === 'avro.codec')?.[1] ?? new Uint8Array())
  if (codec !== 'deflate') return bytes
  const sync = bytes.subarray(pos, (pos += 16))

  out.push(bytes.subarray(0, 4))
  writeLong(meta.length)
  for (const [key, value] of meta) {
    writeBytes(new TextEncoder().encode(key))
    writeBytes(key === 'avro.codec' ? new TextEncoder().encode('null') : value)
  }
  writeLong(0)
  out.push(sync)
  while (pos < bytes.length) {
    const records = readLong()
    writeLong(records)
    writeBytes(inflateRawSync(readBytes()))
    out.push(bytes.subarray(pos, (pos += 16)))
  }
  return Buffer.concat(out)
}

const counts = {}
for (const pair of pairs) {
  const eq = pair.indexOf('=')
  const [table, location] = [pair.slice(0, eq), pair.slice(eq + 1)]
  try {
    const cut = location.lastIndexOf('/metadata/')
    if (eq < 1 || cut < 0) throw new Error(`${pair} is not <table>=<…/metadata/….metadata.json>`)
    const tableUrl = toHttp(location.slice(0, cut))
    const metadataFileName = location.slice(cut + '/metadata/'.length)
    const metadata = await icebergMetadata({ tableUrl, metadataFileName })
    // A table created but never committed has no current snapshot: no rows (icebird's reads would throw).
    const snapshot = metadata['current-snapshot-id']
    if (snapshot === undefined || snapshot === null || snapshot < 0) {
      counts[table] = { rows: 0, data_files: 0 }
      continue
    }
    let dataFiles = 0
    for (const { entries } of await icebergManifests(metadata)) {
      dataFiles += entries.filter(e => e.status !== 2 && !e.data_file.content).length
    }
    // icebergRead throws on a snapshot without data files (every file replaced by none): that is no rows.
    const rows = dataFiles === 0 ? [] : await icebergRead({ tableUrl, metadata })
    counts[table] = { rows: rows.length, data_files: dataFiles }
  } catch (err) {
    console.error(`icebird cannot read ${table} (${location}): ${err?.stack ?? err}`)
    process.exit(1)
  }
}
console.log(JSON.stringify(counts))
