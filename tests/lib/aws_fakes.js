// tests/lib/aws_fakes.js - what the local AWS fakes share
// (tests/credentials/aws_fake.js, tests/rdsdata/data_api.js):
//
// the SigV4 check: a request's Authorization header recomputed with an
// independent signer, @smithy/signature-v4 from tests/sigv4/node_modules (the
// AWS JS SDK's own, installed by that directory's npm ci), and the checks AWS
// makes, in its order, answered with AWS's error codes and messages;
//
//   const { sigv4Verifier, nextFault } = require("../lib/aws_fakes");
//   const check = sigv4Verifier({ accessKeyId, secretAccessKey, sessionToken }, region);
//   const bad = await check(req, body, "rds-data", ["host", "x-amz-date"]);
//   if (bad) ... answer 400/403 { __type: bad[0], message: bad[1] } ...
//
// check resolves to null for a properly signed request, else [code, message];
//
// the scripted faults: nextFault(file) takes the file's first line (and the file
// loses it), null for "ok", no file or no line left; noAnswer(fault, ...) carries
// out "drop" and "stall".
"use strict";
const fs = require("fs");
const path = require("path");
const nm = path.join(__dirname, "..", "sigv4", "node_modules");
const { SignatureV4 } = require(path.join(nm, "@smithy/signature-v4"));
const { Sha256 } = require(path.join(nm, "@aws-crypto/sha256-js"));

// "20150830T123600Z" -> Date
function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || "");
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

const SIG_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret " +
  "Access Key and signing method. Consult the service documentation for details.";

// creds: { accessKeyId, secretAccessKey, sessionToken? }; region: the one every request must be scoped to.
function sigv4Verifier(creds, region) {
  return async function check(req, body, want_service, must_sign) {
    const auth = req.headers["authorization"] || "";
    const m = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/,]+)\/([^/,]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return ["IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters."];
    const [, akid, day, scope_region, service, signedHeaders] = m;
    if (akid !== creds.accessKeyId) return ["UnrecognizedClientException", "The security token included in the request is invalid."];
    if ((req.headers["x-amz-security-token"] || undefined) !== creds.sessionToken)
      return ["UnrecognizedClientException", "The security token included in the request is invalid."];
    const date = amzDate(req.headers["x-amz-date"]);
    if (!date) return ["IncompleteSignatureException", "Date must be in ISO-8601 'basic format'. Got '" + req.headers["x-amz-date"] + "'."];
    if (Math.abs(Date.now() - date.getTime()) > 5 * 60 * 1000)
      return ["InvalidSignatureException", "Signature expired: " + req.headers["x-amz-date"] + " is now earlier or later than the allowed 5 minute window."];
    if (day !== req.headers["x-amz-date"].slice(0, 8) || scope_region !== region || service !== want_service)
      return ["InvalidSignatureException", "Credential should be scoped to a valid region, and the service '" + want_service + "'."];
    const names = signedHeaders.split(";");
    for (const need of must_sign)
      if (!names.includes(need)) return ["InvalidSignatureException", "'" + need + "' must be a signed header."];
    const headers = {};
    for (const n of names) {
      if (req.headers[n] === undefined) return ["InvalidSignatureException", SIG_MISMATCH];
      headers[n] = req.headers[n];
    }
    const url = new URL(req.url, "https://" + req.headers.host);
    const query = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signer = new SignatureV4({ service, region, credentials: creds, sha256: Sha256, applyChecksum: false });
    const signed = await signer.sign(
      { method: req.method, protocol: "https:", hostname: url.hostname, path: url.pathname, query, headers, body },
      { signingDate: date });
    if (signed.headers.authorization !== auth.replace(/, ?/g, ", ")) return ["InvalidSignatureException", SIG_MISMATCH];
    return null;
  };
}

function nextFault(file) {
  if (!file || !fs.existsSync(file)) return null;
  const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  if (!lines.length) return null;
  fs.writeFileSync(file, lines.slice(1).join("\n") + (lines.length > 1 ? "\n" : ""));
  return lines[0].trim() === "ok" ? null : lines[0].trim();
}

// A fault that sends no answer: "drop" closes the connection, "stall" keeps it open.  True
// when fault was one (its entry logged with status 0).
function noAnswer(fault, req, entry, log) {
  if (fault !== "drop" && fault !== "stall") return false;
  entry.status = 0;
  log(entry);
  if (fault === "drop") req.socket.destroy();
  return true;
}

module.exports = { sigv4Verifier, nextFault, noAnswer, amzDate, SignatureV4, Sha256 };
