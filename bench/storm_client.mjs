// Connect storm of bench/fanout.py: N spectators opening one tournament's socket at once,
// one Node process.
//
//   node bench/storm_client.mjs <url> <count> <origin> <out.json>
//
// On "go" (stdin) it opens <count> sockets to <url> all at once (no batching: a storm is
// many people opening the page at the same moment) and, per socket, records when it was
// opened, when its first frame (the snapshot) arrived and at which version, and the
// versions of every event frame after it, in the order they came. Like fanout_client.mjs it
// reads versions from the frame's head without parsing the JSON. On "count" it prints
// "count <snapshots> <events> <failed>"; on "stop" it writes the per-socket records to
// <out.json> and exits. Times are CLOCK_MONOTONIC nanoseconds (process.hrtime), comparable
// with Python's time.monotonic_ns() in the driver.
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [url, countArg, origin, outPath] = process.argv.slice(2);
const count = Number(countArg);
const KEY = Buffer.from('"version":');
const TYPE_SNAPSHOT = Buffer.from('{"type":"snapshot"');
const sockets = [];
const records = [];
let snapshots = 0;
let events = 0;
let failed = 0;

function versionOf(buf) {
  const at = buf.indexOf(KEY);
  if (at < 0) return null;
  let v = 0;
  for (let i = at + KEY.length; i < buf.length; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

function openOne() {
  const record = {
    started: Number(process.hrtime.bigint()),
    opened: null,
    snapshot_at: null,
    snapshot_version: null,
    snapshot_bytes: 0,
    events: [], // versions, in arrival order
    close: null,
    error: null,
  };
  records.push(record);
  const ws = new WebSocket(url, { origin, perMessageDeflate: false });
  ws.on("open", () => { record.opened = Number(process.hrtime.bigint()); });
  ws.on("message", (data) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const version = versionOf(buf);
    if (version === null) return; // an error frame: none is expected
    if (buf.compare(TYPE_SNAPSHOT, 0, TYPE_SNAPSHOT.length, 0, TYPE_SNAPSHOT.length) === 0) {
      record.snapshot_at = Number(process.hrtime.bigint());
      record.snapshot_version = version;
      record.snapshot_bytes = buf.length;
      snapshots += 1;
      return;
    }
    record.events.push(version);
    events += 1;
  });
  ws.on("error", (error) => {
    if (record.error === null) failed += 1;
    record.error = String(error.code || error.message);
  });
  ws.on("close", (code) => { record.close = code; });
  sockets.push(ws);
}

process.stdout.write("ready\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line.trim();
  if (command === "go") {
    for (let i = 0; i < count; i++) openOne();
    process.stdout.write("going\n");
  } else if (command === "count") {
    process.stdout.write(`count ${snapshots} ${events} ${failed}\n`);
  } else if (command === "stop") {
    writeFileSync(outPath, JSON.stringify({ records }));
    for (const ws of sockets) ws.terminate();
    process.stdout.write("done\n");
    process.exit(0);
  }
});
