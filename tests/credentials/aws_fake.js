#!/usr/bin/env node
// aws_fake.js - the AWS side of tests/credentials.sh, checking gosling's
// requests with an independent signer (tests/lib/aws_fakes.js:
// @smithy/signature-v4, the AWS JS SDK's own).
//
//   node aws_fake.js aws --config CFG --key KEY --cert CERT --log LOG [--faults FILE]
//       An HTTPS AWS JSON 1.1 endpoint on 127.0.0.1 for two services, told
//       apart by X-Amz-Target: Secrets Manager (GetSecretValue) and CodeDeploy
//       (PutLifecycleEventHookExecutionStatus).  It verifies each request's
//       SigV4 signature (scoped to the target's service) against the
//       credentials in CFG and answers as AWS does: the result, or
//       {"__type", "message"} with HTTP 400 (IncompleteSignatureException,
//       UnrecognizedClientException, InvalidSignatureException,
//       ResourceNotFoundException, ValidationException, ...).
//       ("secretsmanager" is the old name of this mode.)
//       FILE, when given, scripts failures: each request takes its first line
//       (and the file loses it): "throttle" (400 ThrottlingException),
//       "500" (InternalServiceError), "503" (ServiceUnavailable), "drop" (the
//       connection is closed without an answer), "stall" (no answer, the
//       connection kept open), "ok" (no failure).
//   node aws_fake.js pgauth --config CFG --key KEY --cert CERT --log LOG
//       A PostgreSQL front door that asks for a cleartext password after TLS,
//       checks it as an RDS IAM token (signature recomputed with the SDK's
//       presigner for the host, port, user and region in CFG) and refuses the
//       login; it never records the token itself.
//
// Both print "port N" on stdout once listening, serve until killed, and append
// one JSON line per request to LOG.
//
// CFG: {"accessKeyId", "secretAccessKey", "sessionToken"?, "region",
//       "secrets": [{"ARN", "Name", "SecretString"? , "SecretBinary"?}],
//       "iam": {"host", "port", "user"}}
"use strict";
const fs = require("fs");
const https = require("https");
const net = require("net");
const tls = require("tls");
const path = require("path");
const aws_fakes = require(path.join(__dirname, "..", "lib", "aws_fakes"));
const { sigv4Verifier, amzDate, SignatureV4, Sha256 } = aws_fakes;

const args = process.argv.slice(2);
const mode = args[0];
const opt = (name) => {
  const i = args.indexOf(name);
  return i > 0 ? args[i + 1] : undefined;
};
const cfg = JSON.parse(fs.readFileSync(opt("--config"), "utf8"));
const key = fs.readFileSync(opt("--key"));
const cert = fs.readFileSync(opt("--cert"));
const logFile = opt("--log");
const log = (o) => fs.appendFileSync(logFile, JSON.stringify(o) + "\n");
const creds = { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, sessionToken: cfg.sessionToken };

const checkSigV4 = sigv4Verifier(creds, cfg.region);

// The next scripted failure, if any (see --faults).
const nextFault = () => aws_fakes.nextFault(opt("--faults"));

const FAULTS = {
  throttle: [400, { __type: "ThrottlingException", message: "Rate exceeded" }],
  500: [500, { __type: "InternalServiceError", message: "An internal error occurred." }],
  503: [503, { __type: "ServiceUnavailable", message: "The service is unavailable. Please try again later." }],
};

// The services, by the prefix of X-Amz-Target: their signing name and operations.
const SERVICES = {
  "secretsmanager.": { service: "secretsmanager", ops: { GetSecretValue: getSecretValue } },
  "CodeDeploy_20141006.": { service: "codedeploy", ops: { PutLifecycleEventHookExecutionStatus: putHookStatus } },
};

function getSecretValue(body) {
  const id = body && body.SecretId;
  const s = (cfg.secrets || []).find((x) => x.ARN === id || x.Name === id);
  if (!s) return [400, { __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." }];
  const out = { ARN: s.ARN, Name: s.Name, VersionId: "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1", VersionStages: ["AWSCURRENT"],
    CreatedDate: 1.523477145713e9 };
  if (s.SecretString !== undefined) out.SecretString = s.SecretString;
  if (s.SecretBinary !== undefined) out.SecretBinary = s.SecretBinary;
  return [200, out];
}

// codedeploy-2014-10-06's model: deploymentId, lifecycleEventHookExecutionId, status (an enum).
function putHookStatus(body) {
  const statuses = ["Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown"];
  if (!body || typeof body !== "object") return [400, { __type: "SerializationException", message: "" }];
  for (const k of Object.keys(body))
    if (!["deploymentId", "lifecycleEventHookExecutionId", "status"].includes(k))
      return [400, { __type: "SerializationException", message: "Unknown field " + k }];
  if (typeof body.deploymentId !== "string" || !/^d-[A-Z0-9]{9}$/.test(body.deploymentId))
    return [400, { __type: "InvalidDeploymentIdException", message: "Specified DeploymentId is not in the valid format: " + body.deploymentId }];
  if (typeof body.lifecycleEventHookExecutionId !== "string" || !body.lifecycleEventHookExecutionId)
    return [400, { __type: "InvalidLifecycleEventHookExecutionIdException", message: "" }];
  if (!statuses.includes(body.status))
    return [400, { __type: "InvalidLifecycleEventHookExecutionStatusException", message: "invalid status " + body.status }];
  return [200, { lifecycleEventHookExecutionId: body.lifecycleEventHookExecutionId }];
}

function aws() {
  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const target = req.headers["x-amz-target"];
      const token = req.headers["x-amz-security-token"];
      const entry = { method: req.method, path: req.url, target, content_type: req.headers["content-type"],
        host: req.headers.host, authorization: req.headers["authorization"] || null,
        has_token: !!token, token_len: token ? Buffer.byteLength(token) : 0,
        token_whole: token !== undefined && token === cfg.sessionToken, body: null };
      const svc = Object.keys(SERVICES).find((p) => (target || "").startsWith(p));
      const answer = (status, obj) => {
        entry.status = status;
        entry.answer = status === 200 ? (svc === "secretsmanager." ? "secret" : "ok") : obj.__type;
        log(entry);
        const text = JSON.stringify(obj);
        res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "00000000-0000-4000-8000-000000000000",
          "Content-Length": Buffer.byteLength(text) });
        res.end(text);
      };
      try {
        entry.body = JSON.parse(body);
      } catch (e) {
        entry.body = body;
      }
      if (cfg.failWith) return answer(400, { __type: cfg.failWith[0], message: cfg.failWith[1] });
      const fault = nextFault();
      if (fault) {
        entry.fault = fault;
        if (aws_fakes.noAnswer(fault, req, entry, log)) return;	// drop, stall: the client gives up
        if (FAULTS[fault]) return answer(FAULTS[fault][0], FAULTS[fault][1]);
      }
      if (req.method !== "POST" || !svc)
        return answer(400, { __type: "UnknownOperationException", message: "" });
      const bad = await checkSigV4(req, body, SERVICES[svc].service, ["host", "x-amz-date", "x-amz-target"]);
      if (bad) return answer(400, { __type: bad[0], message: bad[1] });
      const op = SERVICES[svc].ops[target.slice(svc.length)];
      if (!op) return answer(400, { __type: "UnknownOperationException", message: "" });
      if (req.headers["content-type"] !== "application/x-amz-json-1.1")
        return answer(400, { __type: "SerializationException", message: "Start of structure or map found where not expected." });
      const [status, out] = op(entry.body);
      answer(status, out);
    });
  });
  server.listen(0, "127.0.0.1", () => console.log("port " + server.address().port));
}

// --- the PostgreSQL front door ----------------------------------------------------

// The token for the user who logs in, as RDS checks it.
async function checkToken(token, user) {
  const { host, port } = cfg.iam;
  const q = token.indexOf("/?");
  if (q < 0) return "no /? in the token";
  if (token.slice(0, q) !== `${host}:${port}`) return "the token is for " + token.slice(0, q);
  const params = new URLSearchParams(token.slice(q + 2));
  if (params.get("Action") !== "connect") return "Action is not connect";
  if (params.get("DBUser") !== user) return "DBUser is not " + user;
  if (params.get("X-Amz-Expires") !== "900") return "X-Amz-Expires is not 900";
  const date = amzDate(params.get("X-Amz-Date"));
  if (!date || Math.abs(Date.now() - date.getTime()) > 5 * 60 * 1000) return "X-Amz-Date is not now";
  const signer = new SignatureV4({ service: "rds-db", region: cfg.region, credentials: creds, sha256: Sha256 });
  const want = await signer.presign(
    { method: "GET", protocol: "https:", hostname: host, port: Number(port), path: "/",
      query: { Action: "connect", DBUser: user }, headers: { host: `${host}:${port}` } },
    { signingDate: date, expiresIn: 900 });
  for (const [k, v] of Object.entries(want.query))
    if (params.get(k) !== v) return k + " differs from the SDK's";
  return null;
}

function pgauth() {
  const server = net.createServer((sock) => {
    const entry = { tls: false };
    let buf = Buffer.alloc(0);
    let stream = sock;
    let stage = "start";
    const onData = async (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === "start" || stage === "startup") {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
          const len = buf.readInt32BE(0), code = buf.readInt32BE(4), msg = buf.subarray(0, len);
          buf = buf.subarray(len);
          if (code === 80877103 && stage === "start") {		// SSLRequest
            stream.removeListener("data", onData);
            stream.write("S");
            stream = new tls.TLSSocket(sock, { isServer: true, key, cert });
            entry.tls = true;
            stage = "startup";
            stream.on("data", onData);
            stream.on("error", (e) => { entry.tls_error = e.message; log(entry); });
            return;
          }
          if (code === 80877104) { stream.write("N"); continue; }	// GSSENCRequest
          const kv = msg.subarray(8).toString("utf8").split("\0");
          for (let i = 0; i + 1 < kv.length; i += 2) if (kv[i] === "user") entry.user = kv[i + 1];
          const r = Buffer.alloc(9);
          r.write("R", 0); r.writeInt32BE(8, 1); r.writeInt32BE(3, 5);	// AuthenticationCleartextPassword
          stream.write(r);
          stage = "password";
        } else {
          if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
          const len = buf.readInt32BE(1);
          const token = buf.subarray(5, 1 + len).toString("utf8").replace(/\0$/, "");
          buf = buf.subarray(1 + len);
          const why = await checkToken(token, entry.user);
          entry.token_ok = why === null;
          if (why) entry.token_error = why;
          entry.token_shape = token.replace(/(X-Amz-(Signature|Security-Token|Credential)=)[^&]*/g, "$1...");
          log(entry);
          const fields = "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"" + entry.user + "\"\0\0";
          const e = Buffer.alloc(5 + Buffer.byteLength(fields));
          e.write("E", 0); e.writeInt32BE(4 + Buffer.byteLength(fields), 1); e.write(fields, 5);
          stream.end(e);
          return;
        }
      }
    };
    sock.on("data", onData);
    sock.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => {
    if (!cfg.iam.port) cfg.iam.port = server.address().port;
    console.log("port " + server.address().port);
  });
}

if (mode === "aws" || mode === "secretsmanager") aws();
else if (mode === "pgauth") pgauth();
else {
  console.error("usage: aws_fake.js aws|pgauth --config CFG --key KEY --cert CERT --log LOG");
  process.exit(2);
}
