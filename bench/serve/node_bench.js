// Invoke latency of `scfrt serve` through tencentcloud-sdk-nodejs-scf, run by bench.py.
// Usage: node node_bench.js ENDPOINT FUNCTION_NAME CLIENTS CALLS MODE
// MODE `invoke`: a warm Invoke (LogType None) per call; `floor`: an action the server refuses
// (InvalidAction) before any function runs, i.e. the SDK and HTTP alone.
// CLIENTS concurrent loops, each with its own client, share CALLS; one untimed warm-up call each.
// Prints one JSON object: {calls, rps, p50, p99, mean} (milliseconds).
"use strict";
const tencentcloud = require("tencentcloud-sdk-nodejs-scf");

const [endpoint, name, clients, calls, mode] = process.argv.slice(2);
const event = JSON.stringify({ key1: "test value 1", key2: "test value 2" });

function client() {
  return new tencentcloud.scf.v20180416.Client({
    credential: {
      secretId: process.env.TENCENTCLOUD_SECRET_ID,
      secretKey: process.env.TENCENTCLOUD_SECRET_KEY,
    },
    region: "ap-guangzhou",
    profile: { httpProfile: { endpoint, protocol: "http://", reqTimeout: 60 } },
  });
}

async function once(c) {
  if (mode === "floor") {
    try {
      await c.request("NoSuchAction", {});
    } catch (e) {
      if (e.code !== "InvalidAction") throw e;
      return;
    }
    throw new Error("NoSuchAction was answered");
  }
  const r = await c.Invoke({ FunctionName: name, ClientContext: event, LogType: "None" });
  if (r.Result.InvokeResult !== 0) throw new Error(r.Result.ErrMsg);
}

async function worker(c, n, lat) {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once(c);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}

async function main() {
  const n = Math.floor(Number(calls) / Number(clients));
  const lat = [];
  const cs = Array.from({ length: Number(clients) }, client);
  await Promise.all(cs.map(once));
  const t0 = process.hrtime.bigint();
  await Promise.all(cs.map((c) => worker(c, n, lat)));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  console.log(JSON.stringify({ calls: lat.length, rps: lat.length / wall, p50: q(0.5), p99: q(0.99), mean }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
