// Spectator load for bench/fanout.py: N WebSocket clients on loopback, one Node process.
//
//   node bench/fanout_client.mjs <url> <count> <origin> <out.json>
//
// Opens <count> sockets to <url> (a few at a time), prints "ready <n>" when all are open,
// then records, for every event frame, its version and when it arrived (CLOCK_MONOTONIC
// nanoseconds, comparable with Python's time.monotonic_ns() in the driver). It does not
// JSON-parse frames: it reads the version from the frame's head, so the client costs as
// little CPU as possible next to the server. On "count" (stdin) it prints "count <n>", the
// event frames received so far (the driver waits for a phase's frames with it). On "stop" it
// writes per-version
// arrival times to <out.json> and exits. Frames without "version" (snapshots have one too:
// they are counted apart) and close codes are counted.
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [url, countArg, origin, outPath] = process.argv.slice(2);
const count = Number(countArg);
const arrivals = new Map(); // version -> number[] (ns since base, as doubles)
const base = process.hrtime.bigint();
const closes = {};
let snapshots = 0;
let open = 0;
let errors = 0;
let received = 0;
// Per socket, each event's version must be one more than the last one it got: frames that
// break the order (a version repeated, older, or skipped) are counted.
let outOfOrder = 0;
const sockets = [];
const KEY = Buffer.from('"version":');
const TYPE_EVENT = Buffer.from('{"type":"event"');

function onMessage(socket, data) {
  const now = Number(process.hrtime.bigint() - base);
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const at = buf.indexOf(KEY);
  if (at < 0) return;
  if (buf.compare(TYPE_EVENT, 0, TYPE_EVENT.length, 0, TYPE_EVENT.length) !== 0) {
    snapshots += 1;
    return;
  }
  let v = 0;
  for (let i = at + KEY.length; i < buf.length; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  received += 1;
  if (socket.last !== undefined && v !== socket.last + 1) outOfOrder += 1;
  socket.last = v;
  let list = arrivals.get(v);
  if (!list) arrivals.set(v, (list = []));
  list.push(now);
}

function connectOne() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin, perMessageDeflate: false });
    ws.on("open", () => { open += 1; resolve(); });
    ws.on("message", (data) => onMessage(ws, data));
    ws.on("error", () => { errors += 1; resolve(); });
    ws.on("close", (code) => { closes[code] = (closes[code] || 0) + 1; resolve(); });
    sockets.push(ws);
  });
}

for (let i = 0; i < count; i += 50) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 50); j++) batch.push(connectOne());
  await Promise.all(batch);
}
process.stdout.write(`ready ${open} ${Number(base)}\n`);

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "count") {
    process.stdout.write(`count ${received}\n`);
    return;
  }
  if (line.trim() !== "stop") return;
  const out = { base: Number(base), open, errors, snapshots, closes, outOfOrder, arrivals: {} };
  for (const [v, list] of arrivals) out.arrivals[v] = list;
  writeFileSync(outPath, JSON.stringify(out));
  for (const ws of sockets) ws.terminate();
  process.stdout.write("done\n");
  process.exit(0);
});
