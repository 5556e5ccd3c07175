#!/usr/bin/env node
// crosscheck.js - sign the same random requests with runtime/sigv4.c (through
// build/tests/sigv4-tool) and with the AWS JS SDK's signer, and compare.
//
//   node tests/sigv4/crosscheck.js TOOL [--seed N] [--count N] [--start N]
//
// Deterministic for a seed.  Three kinds of case, each one TAP line:
//   sign     Authorization header vs @smithy/signature-v4 signRequest()
//   presign  query string vs @smithy/signature-v4 presign() (as a set: the SDK
//            sorts X-Amz-Signature in, we append it last; values must agree)
//   rds      RDS IAM token vs @aws-sdk/rds-signer Signer.getAuthToken()
//            (same comparison), with the clock pinned
"use strict";
const { spawnSync } = require("child_process");
const { SignatureV4 } = require("@smithy/signature-v4");
const { Sha256 } = require("@aws-crypto/sha256-js");

const args = process.argv.slice(2);
const tool = args[0];
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i > 0 ? Number(args[i + 1]) : def;
};
const seed = opt("--seed", 20150830);
const count = opt("--count", 200);
let tapNo = opt("--start", 1) - 1;

// mulberry32: small, deterministic, good enough to pick test inputs.
let state = seed >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rand() < p;
function randStr(pool, min, max) {
  let s = "";
  for (let n = min + int(max - min + 1); n > 0; n--) s += pick(pool);
  return s;
}
const ALNUM = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"];
const ODD = [..."-._~ %+=&?#!$'()*,;:@[]/\\\"<>^`{|}"].concat(["é", "ሴ", "€", "😀", "ü"]);
const SEGMENT = ALNUM.concat(ODD.filter((c) => c !== "/"), ALNUM);
const QCHAR = ALNUM.concat(ODD, ALNUM);
const HCHAR = ALNUM.concat([..." ,;\"=/:()<>?@[]{}'!#$%&*+-.^_`|~"], ["  ", "\t", "é", "€"]);

// SigV4's URI encoding: RFC 3986 unreserved characters stay, the rest is %XX.
const escapeUri = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

// A name or value as it might appear on the wire: some characters raw, some
// percent-encoded (either hex case); those that would change the parse always encoded.
function wire(s, isKey) {
  let out = "";
  for (const ch of s) {
    const must = ch === "&" || ch === "%" || ch === "#" || (isKey && ch === "=");
    if (must || chance(0.4)) {
      for (const b of Buffer.from(ch, "utf8")) {
        const h = b.toString(16).padStart(2, "0");
        out += "%" + (chance(0.5) ? h.toUpperCase() : h);
      }
    } else {
      out += ch;
    }
  }
  return out;
}

function randCase(s) {
  return [...s].map((c) => (chance(0.3) ? (chance(0.5) ? c.toUpperCase() : c.toLowerCase()) : c)).join("");
}

function randPath() {
  const segs = [];
  for (let n = int(5); n > 0; n--) {
    const r = rand();
    segs.push(r < 0.1 ? "" : r < 0.18 ? "." : r < 0.26 ? ".." : randStr(SEGMENT, 1, 8));
  }
  return "/" + segs.join("/") + (chance(0.3) ? "/" : "");
}

// Query pairs (decoded), the JS SDK's query object, and a wire string for C.
function randQuery(reservedOk) {
  const pairs = [];
  const keys = [];
  for (let n = int(6); n > 0; n--) {
    const k = keys.length && chance(0.25) ? pick(keys) : randStr(QCHAR, 1, 6);
    if (!reservedOk && /^x-amz-/i.test(k)) continue;
    keys.push(k);
    pairs.push([k, chance(0.15) ? "" : randStr(QCHAR, 0, 8)]);
  }
  const obj = {};
  for (const [k, v] of pairs) {
    if (!(k in obj)) obj[k] = v;
    else obj[k] = [].concat(obj[k], v);
  }
  const parts = pairs.map(([k, v]) => (v === "" && chance(0.5) ? wire(k, true) : wire(k, true) + "=" + wire(v, false)));
  if (parts.length && chance(0.15)) parts.splice(int(parts.length), 0, ""); // "a=1&&b=2"
  return { obj, wire: parts.join("&") };
}

const SIGNED_NAMES = ["Content-Type", "X-Amz-Target", "My-Header1", "x-custom", "X-Amz-Meta-Name",
  "Accept", "Content-Encoding", "If-Match", "X-Foo_Bar", "x-amz-user-agent", "Content-MD5"];
const UNSIGNED_NAMES = ["User-Agent", "X-Amzn-Trace-Id", "Connection", "Expect", "Proxy-Authorization",
  "Sec-Fetch-Mode", "Authorization", "Transfer-Encoding", "Cache-Control"];
const canonValue = (v) => v.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "");

function randHeaders(host, forPresign) {
  const list = [["Host", host]];
  for (let n = int(6); n > 0; n--) {
    let name = chance(0.2) ? pick(UNSIGNED_NAMES) : pick(SIGNED_NAMES);
    if (forPresign && /^x-amz-/i.test(name)) continue; // the SDK moves those into the query
    if (list.length > 1 && chance(0.25)) name = pick(list)[0]; // a second value
    const v = (chance(0.3) ? " \t " : "") + randStr(HCHAR, 0, 12) + (chance(0.3) ? "  " : "");
    list.push([randCase(name), v]);
  }
  // The SDK takes one value per name: trimmed values joined with ',', as botocore does.
  const obj = {};
  const first = {};
  for (const [n, v] of list) {
    const l = n.toLowerCase();
    if (!(l in first)) {
      first[l] = n;
      obj[n] = canonValue(v);
    } else {
      obj[first[l]] += "," + canonValue(v);
    }
  }
  return { list, obj };
}

const REGIONS = ["us-east-1", "eu-west-2", "ap-southeast-2", "us-gov-west-1", "cn-north-1"];
const SERVICES = ["service", "secretsmanager", "sts", "execute-api", "rds-db", "s3"];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
const TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+/=";

function randCreds() {
  return {
    accessKeyId: "AKIA" + randStr([..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"], 16, 16),
    secretAccessKey: randStr(ALNUM.concat(["/", "+"]), 40, 40),
    sessionToken: chance(0.4) ? TOKEN + randStr(ALNUM, 0, 20) : undefined,
  };
}
const randTime = () => 946684800 + int(1200000000); // 2000 .. 2038
const randHost = () =>
  randCase(randStr([..."abcdefghijklmnopqrstuvwxyz0123456789-"], 1, 12)) + "." + pick(REGIONS) + ".amazonaws.com";

// --- generate ---------------------------------------------------------------

const cases = [];
for (let i = 0; i < count; i++) {
  const service = pick(SERVICES);
  const s3 = service === "s3";
  const q = randQuery(true);
  const h = randHeaders(randHost() + (chance(0.2) ? ":" + (1 + int(65535)) : ""), false);
  let body;
  const r = rand();
  if (r < 0.3) body = Buffer.from(randStr(QCHAR, 0, 40), "utf8");
  else if (r < 0.5) body = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
  let payloadHash = null;
  if (chance(0.15)) {
    payloadHash = "UNSIGNED-PAYLOAD";
    h.list.push(["X-Amz-Content-Sha256", payloadHash]);
    h.obj["X-Amz-Content-Sha256"] = payloadHash;
  }
  cases.push({
    kind: "sign", method: pick(METHODS), service, s3, region: pick(REGIONS),
    path: s3 ? "/" + randStr(SEGMENT.concat(["/"]), 0, 12) : randPath(), q, h, body, payloadHash,
    creds: randCreds(), time: randTime(),
  });
}
for (let i = 0; i < Math.ceil(count / 4); i++) {
  cases.push({
    kind: "presign", method: chance(0.8) ? "GET" : pick(METHODS), service: pick(SERVICES.filter((s) => s !== "s3")),
    region: pick(REGIONS), path: randPath(), q: randQuery(false), h: randHeaders(randHost(), true),
    creds: randCreds(), time: randTime(), expires: 1 + int(604800),
  });
}
for (let i = 0; i < Math.ceil(count / 10); i++) {
  cases.push({
    kind: "rds", host: i === 0 ? "prod-instance.us-east-1.rds.amazonaws.com" : randHost(),
    port: pick([5432, 3306, 443, 1 + int(65535)]), region: pick(REGIONS),
    user: i === 0 ? "someusername" : randStr(QCHAR, 1, 12), creds: randCreds(), time: randTime(),
  });
}

// --- the C side, all cases in one run -----------------------------------------

const input = cases.map((c, id) => {
  const base = { id, akid: c.creds.accessKeyId, secret: c.creds.secretAccessKey,
    token: c.creds.sessionToken ?? null, time: c.time, region: c.region };
  if (c.kind === "rds") return JSON.stringify({ ...base, mode: "rds", host: c.host, port: c.port, user: c.user });
  return JSON.stringify({
    ...base, mode: c.kind, method: c.method, path: c.path, query: c.q.wire, headers: c.h.list,
    body_hex: c.body ? c.body.toString("hex") : null, payload_hash: c.payloadHash ?? null,
    service: c.service, path_as_is: !!c.s3, expires: c.expires ?? 0,
  });
}).join("\n") + "\n";
const run = spawnSync(tool, [], { input, maxBuffer: 1 << 28 });
if (run.status !== 0) {
  console.log(`not ok ${++tapNo} - ${tool} failed: ${run.stderr}`);
  process.exit(1);
}
const results = run.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));

// --- the JS side and the comparison -------------------------------------------

// Query strings as sorted "name=value" lists, with the encoding made uniform.
const querySet = (q) => q.split("&").filter((p) => p).sort();
const sdkQuerySet = (obj) =>
  Object.entries(obj).flatMap(([k, v]) => [].concat(v).map((x) => escapeUri(k) + "=" + escapeUri(x))).sort();
const sameSet = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function main() {
  const RealDate = Date;
  let pinned = 0;
  global.Date = class extends RealDate {
    constructor(...a) {
      if (a.length === 0) super(pinned);
      else super(...a);
    }
    static now() {
      return pinned;
    }
  };
  const { Signer } = require("@aws-sdk/rds-signer");

  let failed = 0;
  const tally = { sign: 0, presign: 0, rds: 0 };
  const total = { sign: 0, presign: 0, rds: 0 };
  for (let id = 0; id < cases.length; id++) {
    const c = cases[id];
    const r = results[id];
    total[c.kind]++;
    let want, got, ok, what;
    const creds = { accessKeyId: c.creds.accessKeyId, secretAccessKey: c.creds.secretAccessKey, sessionToken: c.creds.sessionToken };
    if (c.kind === "rds") {
      pinned = c.time * 1000;
      want = await new Signer({ hostname: c.host, port: c.port, username: c.user, region: c.region, credentials: creds }).getAuthToken();
      got = r.ok ? r.token : "(sigv4_rds_iam_token failed)";
      const [wh, wq] = want.split("/?");
      const [gh, gq = ""] = got.split("/?");
      ok = r.ok && wh === gh && sameSet(querySet(wq), querySet(gq));
      what = `rds token ${c.host}:${c.port}${c.creds.sessionToken ? " +token" : ""}`;
    } else {
      const signer = new SignatureV4({ service: c.service, region: c.region, credentials: creds, sha256: Sha256,
        uriEscapePath: !c.s3, applyChecksum: false });
      const req = { method: c.method, protocol: "https:", hostname: c.h.list[0][1], path: c.path,
        query: c.q.obj, headers: c.h.obj, body: c.body };
      const date = new RealDate(c.time * 1000);
      if (c.kind === "sign") {
        const signed = await signer.sign(req, { signingDate: date });
        want = signed.headers.authorization;
        got = r.ok ? r.authorization : "(sigv4_sign failed)";
        ok = r.ok && want === got;
      } else {
        const signed = await signer.presign(req, { signingDate: date, expiresIn: c.expires });
        want = sdkQuerySet(signed.query).join("&");
        got = r.ok ? querySet(r.query).join("&") : "(sigv4_presign failed)";
        ok = r.ok && want === got && /&X-Amz-Signature=[0-9a-f]{64}$/.test(r.query);
      }
      what = `${c.kind} ${c.method} ${c.service}${c.s3 ? " (path as is)" : ""}${c.creds.sessionToken ? " +token" : ""}`;
    }
    console.log(`${ok ? "ok" : "not ok"} ${++tapNo} - js sdk agrees: ${what}`);
    if (ok) {
      tally[c.kind]++;
    } else {
      failed++;
      console.log(`#   input: ${input.split("\n")[id]}`);
      console.log(`#   js sdk: ${want}`);
      console.log(`#   sigv4.c: ${got}`);
      if (r.canonical_request) console.log(`#   canonical request:\n#     ${r.canonical_request.split("\n").join("\n#     ")}`);
    }
  }
  console.log(`# seed ${seed}: sign ${tally.sign}/${total.sign}, presign ${tally.presign}/${total.presign}, rds ${tally.rds}/${total.rds} agree`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => {
  console.log(`not ok ${++tapNo} - crosscheck crashed: ${e && e.stack}`);
  process.exit(1);
});
