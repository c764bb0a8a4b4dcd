/**
 * Reading a pg_dump custom-format archive (-Fc) without restoring it.
 *
 * `pg_restore --list` parses only the header and the table of contents at the start of the file, so a file
 * cut off in its data section still lists fine. Decompressing everything (`pg_restore -f /dev/null`) catches
 * that but costs ~18% of the dump's own time, more than the backup step may add. scanArchive() instead walks
 * the archive's block structure in the same single read that computes the sha256: every data entry of the TOC
 * must have its block, at the offset the TOC recorded, each block must end with its end marker, and the file
 * must end right after the last block. It reads lengths, not compressed bytes, so it costs one sequential read.
 *
 * Layout (src/bin/pg_dump/pg_backup_archiver.c ReadHead/ReadToc and pg_backup_custom.c in PostgreSQL):
 * an int is a sign byte and `intSize` little-endian bytes; a string is an int length (-1 = null) and bytes;
 * an offset is a flag byte and `offSize` little-endian bytes. A data block is a type byte (1 data, 3 large
 * objects), the dump id, then chunks (int length + bytes) ended by a zero length; large-object blocks repeat
 * (oid, chunks) until an oid of 0. Archive versions 1.12 (PostgreSQL 11) to 1.16 (PostgreSQL 17) are known;
 * a newer one makes scanArchive throw UnknownArchiveVersion and the caller falls back to a full pg_restore read.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** The file is not a complete, well-formed custom-format archive. The message says where it breaks. */
export class ArchiveDefect extends Error {
  override readonly name = 'ArchiveDefect';
}

export class UnknownArchiveVersion extends Error {
  override readonly name = 'UnknownArchiveVersion';
  constructor(readonly version: string) {
    super(`archive version ${version} is newer than tidemark knows`);
  }
}

export interface ArchiveEntry {
  readonly dumpId: number;
  readonly desc: string;
  readonly namespace: string | null;
  readonly tag: string | null;
  readonly owner: string | null;
  /** The table oid for TABLE DATA entries (pg_dump stores the table's oid there). */
  readonly oid: string | null;
  /** The entry has a data block (TABLE DATA, SEQUENCE SET is not one: its data is SQL in the TOC). */
  readonly hasData: boolean;
}

export interface ArchiveScan {
  /** Archive format version, e.g. "1.14". */
  readonly version: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly pgDumpVersion: string | null;
  readonly entries: readonly ArchiveEntry[];
  /** Data blocks found and walked to their end marker. */
  readonly dataBlocks: number;
}

const CHUNK = 1 << 20;
const MAX_STRING = 256 * 1024 * 1024;
const OFFSET_POS_SET = 2;
const OFFSET_NO_DATA = 3;
const BLK_DATA = 1;
const BLK_BLOBS = 3;

/** Sequential reader that hashes every byte it reads, so the walk and the sha256 share one pass. */
class HashingReader {
  readonly #fd: FileHandle;
  readonly #hash = createHash('sha256');
  #buf: Buffer = Buffer.alloc(0);
  #off = 0;
  #base = 0; // file position of #buf[0]
  #eof = false;
  #where = 'the header';

  constructor(fd: FileHandle) {
    this.#fd = fd;
  }

  get position(): number {
    return this.#base + this.#off;
  }

  /** What is being read, for the truncation message. */
  set where(text: string) {
    this.#where = text;
  }

  async #more(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.#fd.read(chunk, 0, CHUNK, null);
    if (bytesRead === 0) {
      this.#eof = true;
      return false;
    }
    const data = chunk.subarray(0, bytesRead);
    this.#hash.update(data);
    const rest = this.#buf.subarray(this.#off);
    this.#base += this.#off;
    this.#buf = rest.length === 0 ? data : Buffer.concat([rest, data]);
    this.#off = 0;
    return true;
  }

  #truncated(): never {
    throw new ArchiveDefect(`the file ends at byte ${this.position} inside ${this.#where}: it is truncated`);
  }

  async bytes(n: number): Promise<Buffer> {
    while (this.#buf.length - this.#off < n) if (!(await this.#more())) this.#truncated();
    const out = this.#buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }

  async byte(): Promise<number> {
    return (await this.bytes(1))[0]!;
  }

  async skip(n: number): Promise<void> {
    let left = n;
    for (;;) {
      const avail = this.#buf.length - this.#off;
      if (avail >= left) {
        this.#off += left;
        return;
      }
      left -= avail;
      this.#base += this.#buf.length;
      this.#buf = Buffer.alloc(0);
      this.#off = 0;
      if (!(await this.#more())) this.#truncated();
    }
  }

  async atEnd(): Promise<boolean> {
    if (this.#buf.length - this.#off > 0) return false;
    return !(await this.#more());
  }

  /** Reads whatever is left (hashing it) and returns how many bytes that was. */
  async drain(): Promise<number> {
    let extra = this.#buf.length - this.#off;
    this.#off = this.#buf.length;
    while (await this.#more()) {
      extra += this.#buf.length - this.#off;
      this.#off = this.#buf.length;
    }
    return extra;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

class Fields {
  constructor(
    readonly r: HashingReader,
    readonly intSize: number,
    readonly offSize: number,
  ) {}

  async int(): Promise<number> {
    const sign = await this.r.byte();
    const raw = await this.r.bytes(this.intSize);
    let value = 0;
    for (let i = 0; i < raw.length; i++) value += raw[i]! * 2 ** (8 * i);
    if (sign > 1)
      throw new ArchiveDefect(`bad integer sign byte ${sign} at byte ${this.r.position - this.intSize - 1}`);
    return sign === 1 ? -value : value;
  }

  async str(): Promise<string | null> {
    const at = this.r.position;
    const length = await this.int();
    if (length < 0) return null;
    if (length > MAX_STRING) throw new ArchiveDefect(`implausible string length ${length} at byte ${at}`);
    return (await this.r.bytes(length)).toString('utf8');
  }

  async offset(): Promise<{ flag: number; value: number }> {
    const flag = await this.r.byte();
    const raw = await this.r.bytes(this.offSize);
    let value = 0;
    for (let i = 0; i < raw.length; i++) value += raw[i]! * 2 ** (8 * i);
    return { flag, value };
  }
}

interface TocRecord extends ArchiveEntry {
  readonly dataState: number;
  readonly dataOffset: number;
}

function label(e: ArchiveEntry): string {
  return `${e.desc} ${e.namespace ? `${e.namespace}.` : ''}${e.tag ?? ''} (dump id ${e.dumpId})`.replace(/\s+/g, ' ');
}

async function readToc(f: Fields, minor: number): Promise<TocRecord[]> {
  const r = f.r;
  r.where = 'the table of contents';
  const count = await f.int();
  if (count < 0 || count > 50_000_000) throw new ArchiveDefect(`implausible TOC entry count ${count}`);
  const entries: TocRecord[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = await f.int();
    const hadDumper = (await f.int()) !== 0;
    await f.str(); // tableoid
    const oid = await f.str();
    const tag = await f.str();
    const desc = (await f.str()) ?? '';
    await f.int(); // section
    await f.str(); // defn
    await f.str(); // dropStmt
    await f.str(); // copyStmt
    const namespace = await f.str();
    await f.str(); // tablespace
    if (minor >= 14) await f.str(); // tableam
    if (minor >= 16) await f.int(); // relkind
    const owner = await f.str();
    await f.str(); // withOids
    for (let deps = 0; (await f.str()) !== null; deps++) {
      if (deps > 10_000_000) throw new ArchiveDefect(`implausible dependency list in TOC entry ${dumpId}`);
    }
    const { flag, value } = await f.offset();
    entries.push({ dumpId, desc, namespace, tag, owner, oid, hasData: hadDumper, dataState: flag, dataOffset: value });
  }
  return entries;
}

/**
 * Walks the archive at `path`, computing its sha256 in the same read. Throws ArchiveDefect with the place
 * where it breaks, or UnknownArchiveVersion (the sha256 is then not computed; fall back to pg_restore).
 */
export async function scanArchive(path: string): Promise<ArchiveScan> {
  const fd = await fsp.open(path, 'r');
  try {
    const r = new HashingReader(fd);
    const magic = await r.bytes(5).catch(() => {
      throw new ArchiveDefect('the file is shorter than an archive header');
    });
    if (magic.toString('latin1') !== 'PGDMP') {
      throw new ArchiveDefect('the file does not start with PGDMP: it is not a pg_dump custom-format archive');
    }
    const major = await r.byte();
    const minor = await r.byte();
    await r.byte(); // revision
    const version = `${major}.${minor}`;
    if (major !== 1) throw new ArchiveDefect(`unsupported archive version ${version}`);
    // Older than PostgreSQL 9.0's format or newer than 17's: leave the verdict to pg_restore.
    if (minor < 12 || minor > 16) throw new UnknownArchiveVersion(version);
    const intSize = await r.byte();
    const offSize = await r.byte();
    if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8) {
      throw new ArchiveDefect(`implausible integer/offset sizes ${intSize}/${offSize} in the header`);
    }
    const format = await r.byte();
    if (format !== 1) throw new ArchiveDefect(`archive format ${format} is not custom (-Fc)`);
    const f = new Fields(r, intSize, offSize);
    if (minor >= 15)
      await r.byte(); // compression algorithm
    else await f.int(); // compression level
    for (let i = 0; i < 7; i++) await f.int(); // creation time
    await f.str(); // database name
    await f.str(); // server version
    const pgDumpVersion = await f.str();

    const toc = await readToc(f, minor);
    const byId = new Map(toc.map((e) => [e.dumpId, e]));
    const seen = new Set<number>();
    let blocks = 0;

    while (!(await r.atEnd())) {
      const start = r.position;
      r.where = `the data block header at byte ${start}`;
      const type = await r.byte();
      const dumpId = await f.int();
      const entry = byId.get(dumpId);
      if ((type !== BLK_DATA && type !== BLK_BLOBS) || entry === undefined || !entry.hasData) {
        throw new ArchiveDefect(
          `unexpected bytes at ${start} (block type ${type}, dump id ${dumpId}): the data section is damaged`,
        );
      }
      if (seen.has(dumpId)) throw new ArchiveDefect(`two data blocks for ${label(entry)}`);
      if (entry.dataState === OFFSET_POS_SET && entry.dataOffset !== start) {
        throw new ArchiveDefect(`the data of ${label(entry)} is at byte ${start}, the TOC says ${entry.dataOffset}`);
      }
      r.where = `the data of ${label(entry)}`;
      const chunks = async () => {
        for (;;) {
          const length = await f.int();
          if (length === 0) return;
          if (length < 0) throw new ArchiveDefect(`negative chunk length in the data of ${label(entry)}`);
          await r.skip(length);
        }
      };
      if (type === BLK_DATA) await chunks();
      else for (let oid = await f.int(); oid !== 0; oid = await f.int()) await chunks();
      seen.add(dumpId);
      blocks++;
    }

    const missing = toc.filter((e) => e.hasData && e.dataState !== OFFSET_NO_DATA && !seen.has(e.dumpId));
    if (missing.length > 0) {
      throw new ArchiveDefect(
        `no data block for ${missing.slice(0, 5).map(label).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}: the file is incomplete`,
      );
    }
    return {
      version,
      sizeBytes: r.position,
      sha256: r.digest(),
      pgDumpVersion,
      entries: toc.map(({ dataState: _s, dataOffset: _o, ...entry }) => entry),
      dataBlocks: blocks,
    };
  } finally {
    await fd.close();
  }
}

/** Computes the sha256 of a file (used when scanArchive cannot walk a newer archive version). */
export async function sha256File(path: string): Promise<{ sha256: string; sizeBytes: number }> {
  const fd = await fsp.open(path, 'r');
  try {
    const r = new HashingReader(fd);
    const size = await r.drain();
    return { sha256: r.digest(), sizeBytes: size };
  } finally {
    await fd.close();
  }
}

export interface ListedTableData {
  readonly dumpId: number;
  /** The table's oid at dump time. */
  readonly oid: string;
  /** "schema table owner" exactly as pg_restore prints it. */
  readonly label: string;
}

/**
 * The TABLE DATA lines of `pg_restore --list` output: "3377; 0 16414 TABLE DATA public users owner".
 * Schema and table names may contain spaces, so the line is not split further; callers compare the whole
 * "schema table owner" text with what they expect (see expectedLabel).
 */
export function parseTableDataLines(listing: string): ListedTableData[] {
  const out: ListedTableData[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(\d+); \d+ (\d+) TABLE DATA (.*)$/.exec(line);
    if (match) out.push({ dumpId: Number(match[1]), oid: match[2]!, label: match[3]! });
  }
  return out;
}

/** How pg_restore --list prints a name: line breaks become spaces, an empty or null name becomes "-". */
export function listName(name: string | null | undefined): string {
  if (name === null || name === undefined || name === '') return '-';
  return name.replace(/[\r\n]/g, ' ');
}

export function expectedLabel(schema: string, table: string, owner: string): string {
  return `${listName(schema)} ${listName(table)} ${listName(owner)}`;
}
