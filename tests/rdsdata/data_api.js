#!/usr/bin/env node
// data_api.js - a local stand-in for the RDS Data API (rds-data 2018-08-01),
// for tests/rdsdata.sh and, next, the engine suites over the Data API (issue 18).
//
//   node data_api.js --config CFG --key KEY --cert CERT --log LOG [--faults FILE]
//
// Written from botocore's rds-data/2018-08-01/service-2.json and AWS's Data API
// pages: REST-JSON over HTTPS (a test CA's certificate), SigV4 checked with
// the AWS JS SDK's signer (tests/lib/aws_fakes.js, signing name rds-data),
// five operations at their requestUris: POST /Execute (ExecuteStatement),
// /BeginTransaction, /CommitTransaction, /RollbackTransaction, /BatchExecute
// (BatchExecuteStatement).  Every statement is forwarded to a real PostgreSQL
// (tests/lib/pg.sh's) so every behaviour of the SQL is PostgreSQL's own:
//
//   - one statement per call: statements go over the extended query protocol,
//     as the Data API's JDBC driver sends them, so PostgreSQL itself refuses a
//     second one ("cannot insert multiple commands into a prepared statement");
//   - named parameters ":name" become $n, cast as the Data API types them
//     (stringValue varchar, longValue int8, doubleValue float8, booleanValue
//     bool, blobValue bytea; typeHint DATE/TIME/TIMESTAMP/DECIMAL/JSON/UUID);
//   - no session outside a transaction: each call outside one gets a fresh
//     connection, closed after it; a transaction is one connection (BEGIN ...
//     COMMIT/ROLLBACK) known by an opaque id;
//   - the database down: DatabaseUnavailableException (504); a connection lost mid-call:
//     DatabaseErrorException "An I/O error occurred ...; SQLState: 08006" (the JDBC driver's);
//   - errors as AWS gives them: x-amzn-ErrorType and {"message"}; PostgreSQL's
//     as DatabaseErrorException "ERROR: <message>[\n  Detail: ...][\n  Hint: ...]
//     [\n  Position: N][\n  Where: ...]; SQLState: <code>" (the JDBC driver's
//     text and the Data API's suffix);
//   - the limits: sql at most 65,536 characters (BadRequestException), a
//     response at most 1 MiB (BadRequestException "Database returned more than
//     the allowed response size limit"), 45 s per call (StatementTimeoutException
//     "Request timed out" with dbConnectionId; the statement is cancelled unless
//     continueAfterTimeout), a transaction's calls must not overlap
//     (DatabaseErrorException "Transaction is still running a query"), a
//     transaction ends after 3 minutes without a call (rolled back; then
//     TransactionNotFoundException "Transaction <id> is not found");
//     CFG's "timeScale" multiplies the 45 s and the 3 minutes for tests;
//   - records as the model's Field union: isNull, booleanValue (bool),
//     longValue (int2/int4/int8/oid), doubleValue (float4/float8), blobValue
//     (bytea, base64), arrayValue (one-dimensional arrays of those and of text),
//     stringValue (everything else, PostgreSQL's text; numeric too, as
//     decimalReturnType STRING); columnMetadata with includeResultMetadata;
//     formattedRecords with formatRecordsAs JSON.
//
// Not modelled: the JDBC driver's own text for dates and times (PostgreSQL's is
// returned), resultSetOptions, schema, MySQL.  Where AWS documents no message
// the stand-in's is marked "(stand-in)".
//
// Why node and the `pg` package (pinned by tests/rdsdata/package-lock.json,
// installed by tests/rdsdata.sh into build/rdsdata-node): the SigV4 check must
// be the SDK's own signer, which is JavaScript (tests/sigv4's npm ci), and the
// other AWS fake is node; pg speaks the extended query protocol (queryMode
// "extended") and gives every value as PostgreSQL's text with its type oid
// when its type parsers are turned off, which is what the Field mapping needs.
// Python's psycopg2 would need a second signer or a second process.
//
// CFG: {"accessKeyId", "secretAccessKey", "sessionToken"?, "region",
//       "clusters": [{"resourceArn", "secretArn", "pg": {"host", "port", "user", "password"?}}],
//       "timeScale"?: 1, "latencyMs"?: 0}
// FILE (--faults): each call takes its first line: "resuming" (400
// DatabaseResumingException), "throttle" (400 ThrottlingException), "500"
// (InternalServerErrorException), "503" (ServiceUnavailableError), "504"
// (DatabaseUnavailableException), "drop" (connection closed, no answer),
// "stall" (no answer, the connection kept open), "drop-after" (the call runs, then the
// connection is closed without its answer), "expire" (the call runs; the next call naming
// a transaction finds it expired, rolled back: TransactionNotFoundException), "ok" (none);
// "FAULT:TEXT" (e.g. "drop-after:INSERT INTO t"): the call runs as it is, and FAULT is
// armed for the next call whose request body contains TEXT.  Prints "port N" once
// listening; one JSON line per call to LOG
// (operation, status, error code, sql length; never credentials).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const https = require("https");
const path = require("path");
const aws_fakes = require(path.join(__dirname, "..", "lib", "aws_fakes"));
const pg = require("pg");
const postgresArray = require("postgres-array");

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const cfg = JSON.parse(fs.readFileSync(opt("--config"), "utf8"));
const logFile = opt("--log");
const log = (o) => fs.appendFileSync(logFile, JSON.stringify(o) + "\n");
const scale = cfg.timeScale || 1;
const CALL_MS = 45000 * scale;
const IDLE_MS = 180000 * scale;
const SQL_MAX = 65536;
const RESPONSE_MAX = 1 << 20;
const check = aws_fakes.sigv4Verifier(
  { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, sessionToken: cfg.sessionToken }, cfg.region);

// Every value as PostgreSQL's text: the Field mapping below decides by type oid.
const TEXT = { getTypeParser: () => (v) => v };

class ApiError extends Error {
  constructor(status, code, message, extra) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}
const badRequest = (m) => new ApiError(400, "BadRequestException", m);

// --- faults ----------------------------------------------------------------------------

const nextFault = () => aws_fakes.nextFault(opt("--faults"));

const FAULTS = {
  resuming: [400, "DatabaseResumingException",
    "The Aurora DB instance db-standin-1 is resuming after being auto-paused. Please wait a few seconds and try again."],
  throttle: [400, "ThrottlingException", "Rate exceeded"],
  500: [500, "InternalServerErrorException", "An internal error occurred."],
  503: [503, "ServiceUnavailableError", "The service is unavailable. (stand-in)"],
  504: [504, "DatabaseUnavailableException", "The writer instance in the DB cluster isn't available. (stand-in)"],
};

// --- the request's members -------------------------------------------------------------

// The model's constraints: required members, string lengths (in characters), types.
function member(body, name, { required = false, type = "string", min, max } = {}) {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof v !== type) throw new ApiError(400, "SerializationException", `${name}: expected a ${type} (stand-in)`);
  if (type === "string") {
    const n = Array.from(v).length;
    if (min !== undefined && n < min)
      throw badRequest(`1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
    if (max !== undefined && n > max)
      throw badRequest(`1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  return v;
}

// Each operation's input members (the model's *Request shapes).  An unknown member is
// refused (SerializationException): stricter than AWS, to catch a client's mistake.
const MEMBERS = {
  ExecuteStatement: ["resourceArn", "secretArn", "sql", "database", "schema", "parameters", "transactionId",
    "includeResultMetadata", "continueAfterTimeout", "resultSetOptions", "formatRecordsAs"],
  BatchExecuteStatement: ["resourceArn", "secretArn", "sql", "database", "schema", "parameterSets", "transactionId"],
  BeginTransaction: ["resourceArn", "secretArn", "database", "schema"],
  CommitTransaction: ["resourceArn", "secretArn", "transactionId"],
  RollbackTransaction: ["resourceArn", "secretArn", "transactionId"],
};

function cluster(body, operation) {
  for (const k of Object.keys(body))
    if (!MEMBERS[operation].includes(k)) throw new ApiError(400, "SerializationException", `Unknown member ${k} in ${operation} (stand-in)`);
  const resourceArn = member(body, "resourceArn", { required: true, min: 11, max: 100 });
  const secretArn = member(body, "secretArn", { required: true, min: 11, max: 100 });
  const database = member(body, "database", { max: 64 });
  const c = (cfg.clusters || []).find((x) => x.resourceArn === resourceArn);
  if (!c) throw new ApiError(400, "HttpEndpointNotEnabledException", `HttpEndpoint is not enabled for resource ${resourceArn} (stand-in)`);
  if (secretArn !== c.secretArn) throw new ApiError(400, "SecretsErrorException", "The secret provided wasn't found. (stand-in)");
  // AWS falls back to the secret's database; gosling always names one, and the stand-in insists
  if (!database && MEMBERS[operation].includes("database"))
    throw badRequest("Database name is required (stand-in: gosling always sends database)");
  return { c, database };
}

async function connect(c, database) {
  const client = new pg.Client({ ...c.pg, database, types: TEXT, application_name: "rds-data-standin" });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (e) {
    // PostgreSQL's refusal (a bad database, a password) is the database's error; the server
    // down (a refused socket: e.code "ECONNREFUSED", no severity) or starting or shutting down
    // (57P03) is the model's DatabaseUnavailableException, "The writer instance in the DB
    // cluster isn't available", 504
    if (e.severity && e.code !== "57P03") throw databaseError(e);
    throw new ApiError(504, "DatabaseUnavailableException", "The writer instance in the DB cluster isn't available. (stand-in: " + e.message + ")");
  }
  return client;
}

// PostgreSQL's error as the Data API words it.  A connection lost mid-call (the server
// stopped at once: no error of PostgreSQL's, no SQLSTATE) is the JDBC driver's I/O error.
function databaseError(e) {
  if (!e.severity)
    return new ApiError(400, "DatabaseErrorException",
      `An I/O error occurred while sending to the backend. (stand-in: ${e.message}); SQLState: 08006`);
  let m = `${e.severity === "FATAL" ? "FATAL" : "ERROR"}: ${e.message}`;
  if (e.detail) m += `\n  Detail: ${e.detail}`;
  if (e.hint) m += `\n  Hint: ${e.hint}`;
  if (e.position) m += `\n  Position: ${e.position}`;
  if (e.where) m += `\n  Where: ${e.where}`;
  return new ApiError(400, "DatabaseErrorException", `${m}; SQLState: ${e.code}`);
}

// --- named parameters ----------------------------------------------------------------------

const HINT_CAST = { DATE: "date", TIME: "time", TIMESTAMP: "timestamp", DECIMAL: "numeric", JSON: "json", UUID: "uuid" };

function paramValue(p) {
  const f = p.value;
  if (!f || typeof f !== "object") throw badRequest(`parameter ${p.name}: no value (stand-in)`);
  const kinds = Object.keys(f).filter((k) => f[k] !== undefined && f[k] !== null);
  if (kinds.length !== 1) throw badRequest(`parameter ${p.name}: a Field sets exactly one member (stand-in)`);
  const k = kinds[0], v = f[k];
  if (p.typeHint && !HINT_CAST[p.typeHint]) throw badRequest(`parameter ${p.name}: unknown typeHint ${p.typeHint} (stand-in)`);
  switch (k) {
    case "isNull": return [null, ""];
    case "stringValue": return [String(v), "::" + (HINT_CAST[p.typeHint] || "varchar")];
    case "longValue": return [String(v), "::int8"];	// the body's digits, unrounded (see parseBody)
    case "doubleValue": return [String(v), "::float8"];
    case "booleanValue": return [v ? "true" : "false", "::bool"];
    case "blobValue": return ["\\x" + Buffer.from(v, "base64").toString("hex"), "::bytea"];
    case "arrayValue": throw badRequest("Array parameters are not supported.");
    default: throw badRequest(`parameter ${p.name}: unknown Field member ${k} (stand-in)`);
  }
}

// sql with ":name" replaced by "$n::type", outside quotes, comments and dollar quotes.
function bindParameters(sql, params) {
  if (!params || !params.length) return { text: sql, values: [] };
  const byName = new Map();
  const values = [];
  for (const p of params) {
    if (!p || typeof p.name !== "string") throw badRequest("A parameter has no name (stand-in)");
    const [value, cast] = paramValue(p);
    byName.set(p.name, { n: values.push(value), cast });
  }
  let out = "", i = 0;
  while (i < sql.length) {
    const c = sql[i], d = sql[i + 1];
    let j = i + 1;
    if (c === "'" || c === '"') {
      const escapes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]);
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c || (escapes && sql[j] === "\\") ? 2 : 1;
      j++;
    } else if (c === "-" && d === "-") {
      j = sql.indexOf("\n", i);
      j = j < 0 ? sql.length : j;
    } else if (c === "/" && d === "*") {
      let depth = 1;
      j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === "/" && sql[j + 1] === "*") { depth++; j += 2; } else if (sql[j] === "*" && sql[j + 1] === "/") { depth--; j += 2; } else j++;
      }
    } else if (c === "$" && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i)) && !/[A-Za-z0-9_]/.test(sql[i - 1] || "")) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))[0];
      const end = sql.indexOf(tag, i + tag.length);
      j = end < 0 ? sql.length : end + tag.length;
    } else if (c === ":" && d === ":") {
      j = i + 2;
    } else if (c === ":" && /[A-Za-z_]/.test(d || "")) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))[0];
      const b = byName.get(name);
      if (b) {
        out += "$" + b.n + b.cast;
        i += 1 + name.length;
        continue;
      }
      j = i + 1 + name.length;
    }
    out += sql.slice(i, j);
    i = j;
  }
  return { text: out, values };
}

// --- records ------------------------------------------------------------------------------------

const LONG = new Set([20, 21, 23, 26]), DOUBLE = new Set([700, 701]);
const ARRAY_OF = { 1000: 16, 1005: 21, 1007: 23, 1016: 20, 1028: 26, 1021: 700, 1022: 701, 1009: 25, 1015: 1043, 1014: 1042 };
// JDBC's java.sql.Types, as columnMetadata's "type" carries them
const JDBC = { 16: -7, 20: -5, 21: 5, 23: 4, 26: -5, 700: 7, 701: 8, 1700: 2, 25: 12, 1043: 12, 1042: 1, 17: -2,
  1082: 91, 1083: 92, 1114: 93, 1184: 93 };
const typeNames = new Map([[16, "bool"], [17, "bytea"], [20, "int8"], [21, "int2"], [23, "int4"], [25, "text"],
  [26, "oid"], [700, "float4"], [701, "float8"], [1043, "varchar"], [1700, "numeric"]]);

// A long's digits survive JSON: {"__long":"123"} is written as 123 (see respond).
const long = (s) => ({ __long: String(s) });

function field(text, oid) {
  if (text === null) return { isNull: true };
  if (oid === 16) return { booleanValue: text === "t" };
  if (LONG.has(oid)) return { longValue: long(text) };
  if (DOUBLE.has(oid) && Number.isFinite(Number(text))) return { doubleValue: Number(text) };
  if (oid === 17) return { blobValue: Buffer.from(text.slice(2), "hex").toString("base64") };
  if (ARRAY_OF[oid] !== undefined) {
    const el = ARRAY_OF[oid];
    const items = postgresArray.parse(text, (s) => s);
    if (items.some((x) => Array.isArray(x)))
      throw new ApiError(400, "UnsupportedResultException", "The result contains a multidimensional array. (stand-in)");
    if (el === 16) return { arrayValue: { booleanValues: items.map((x) => (x === null ? null : x === "t")) } };
    if (LONG.has(el)) return { arrayValue: { longValues: items.map((x) => (x === null ? null : long(x))) } };
    if (DOUBLE.has(el)) return { arrayValue: { doubleValues: items.map((x) => (x === null ? null : Number(x))) } };
    return { arrayValue: { stringValues: items } };
  }
  return { stringValue: text };
}

async function columnMetadata(client, fields) {
  const unknown = [...new Set(fields.map((f) => f.dataTypeID).filter((o) => !typeNames.has(o)))];
  if (unknown.length) {
    const r = await client.query({ text: "SELECT oid::int8, typname FROM pg_type WHERE oid = ANY($1::oid[])", values: ["{" + unknown.join(",") + "}"] });
    for (const row of r.rows) typeNames.set(Number(row.oid), row.typname);
  }
  return fields.map((f) => ({
    name: f.name, label: f.name, type: JDBC[f.dataTypeID] !== undefined ? JDBC[f.dataTypeID] : ARRAY_OF[f.dataTypeID] !== undefined ? 2003 : 1111,
    typeName: typeNames.get(f.dataTypeID) || "unknown", schemaName: "", tableName: "", isAutoIncrement: false,
    isSigned: LONG.has(f.dataTypeID) || DOUBLE.has(f.dataTypeID) || f.dataTypeID === 1700, isCurrency: false,
    isCaseSensitive: [25, 1043, 1042].includes(f.dataTypeID), nullable: 2, precision: 0, scale: 0, arrayBaseColumnType: 0,
  }));
}

// --- transactions ------------------------------------------------------------------------------

const transactions = new Map();	// id -> { client, busy, timer, resourceArn, secretArn }

function idle(id) {
  const t = transactions.get(id);
  if (!t) return;
  clearTimeout(t.timer);
  t.timer = setTimeout(() => {
    transactions.delete(id);
    log({ event: "transaction expired", idle_ms: IDLE_MS });
    t.client.query("ROLLBACK").catch(() => {}).finally(() => t.client.end().catch(() => {}));
  }, IDLE_MS);
}

// the "expire" fault: the next call naming a transaction finds it gone
let expireNext = false;
// a "FAULT:TEXT" line: FAULT for the next call whose body contains TEXT
let armed = null;

function transaction(body, c) {
  const id = member(body, "transactionId", { max: 192 });
  if (id === undefined) return null;
  if (expireNext && transactions.has(id) && !transactions.get(id).busy) {
    const x = transactions.get(id);
    expireNext = false;
    transactions.delete(id);
    clearTimeout(x.timer);
    log({ event: "transaction expired", fault: "expire" });
    x.client.query("ROLLBACK").catch(() => {}).finally(() => x.client.end().catch(() => {}));
  }
  const t = transactions.get(id);
  if (!t || t.resourceArn !== c.resourceArn) throw new ApiError(404, "TransactionNotFoundException", `Transaction ${id} is not found`);
  if (t.busy) throw new ApiError(400, "DatabaseErrorException", "Transaction is still running a query");
  return [id, t];
}

async function beginTransaction(body) {
  const { c, database } = cluster(body, "BeginTransaction");
  const client = await connect(c, database);
  try {
    await client.query("BEGIN");
  } catch (e) {
    client.end().catch(() => {});
    throw databaseError(e);
  }
  const id = crypto.randomBytes(138).toString("base64");	// 184 characters, as AWS's are
  transactions.set(id, { client, busy: false, resourceArn: c.resourceArn, database });
  idle(id);
  return { transactionId: id };
}

async function endTransaction(body, commit) {
  const { c } = cluster(body, commit ? "CommitTransaction" : "RollbackTransaction");
  member(body, "transactionId", { required: true, max: 192 });
  const [id, t] = transaction(body, c);
  transactions.delete(id);
  clearTimeout(t.timer);
  try {
    const r = await t.client.query(commit ? "COMMIT" : "ROLLBACK");
    // an aborted transaction's COMMIT answers ROLLBACK: the JDBC driver's error, not a success
    if (commit && r.command === "ROLLBACK")
      throw new ApiError(400, "DatabaseErrorException",
        "ERROR: The database returned ROLLBACK, so the transaction cannot be committed. (stand-in); SQLState: 25P02");
    return { transactionStatus: commit ? "Transaction Committed" : "Rollback Complete" };
  } catch (e) {
    throw e instanceof ApiError ? e : databaseError(e);
  } finally {
    t.client.end().catch(() => {});
  }
}

// --- statements ---------------------------------------------------------------------------------

// Run q on client within the call's time: a StatementTimeoutException after CALL_MS, the
// statement cancelled unless keepRunning; done() once the statement has finished either way.
function timed(client, q, keepRunning, c, database, done, state) {
  const running = client.query(q);
  running.then(done, done);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(async () => {
      const pid = client.processID;
      if (state) state.timedOut = true;
      reject(new ApiError(400, "StatementTimeoutException", "Request timed out", { dbConnectionId: long(pid) }));
      if (!keepRunning) {
        try {
          const k = await connect(c, database);
          await k.query({ text: "SELECT pg_cancel_backend($1)", values: [pid] });
          await k.end();
        } catch (e) { /* the statement may have just ended */ }
      }
    }, CALL_MS);
    running.then((r) => { clearTimeout(timer); resolve(r); }, (e) => { clearTimeout(timer); reject(databaseError(e)); });
  });
}

async function executeStatement(body) {
  const { c, database } = cluster(body, "ExecuteStatement");
  const sql = member(body, "sql", { required: true, max: SQL_MAX });
  const keepRunning = member(body, "continueAfterTimeout", { type: "boolean" }) === true;
  const meta = member(body, "includeResultMetadata", { type: "boolean" }) === true;
  const format = member(body, "formatRecordsAs") || "NONE";
  if (!["NONE", "JSON"].includes(format)) throw badRequest(`1 validation error detected: Value '${format}' at 'formatRecordsAs' failed to satisfy constraint: Member must satisfy enum value set: [NONE, JSON]`);
  if (body.parameters !== undefined && !Array.isArray(body.parameters)) throw new ApiError(400, "SerializationException", "parameters: expected a list (stand-in)");
  const q = { ...bindParameters(sql, body.parameters), queryMode: "extended", rowMode: "array", types: TEXT };
  const tx = transaction(body, c);
  // outside a transaction the connection is closed once the call is answered, or, after a
  // timeout, once the statement has ended (continueAfterTimeout: it runs on)
  const state = { timedOut: false, finished: false };
  let client, done, release;
  if (tx) {
    const [id, t] = tx;
    clearTimeout(t.timer);
    t.busy = true;
    client = t.client;
    done = () => { t.busy = false; if (transactions.has(id)) idle(id); };
    release = () => {};
  } else {
    client = await connect(c, database);
    done = () => { state.finished = true; if (state.timedOut) client.end().catch(() => {}); };
    release = () => { if (!state.timedOut) client.end().catch(() => {}); };
  }
  try {
    const r = await timed(client, q, keepRunning, c, database, done, state);
    const out = {};
    const updates = ["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"].includes(r.command);
    out.numberOfRecordsUpdated = updates ? r.rowCount || 0 : 0;
    if (r.fields && r.fields.length) {
      const oids = r.fields.map((f) => f.dataTypeID);
      if (format === "JSON") {
        out.formattedRecords = JSON.stringify(r.rows.map((row) => Object.fromEntries(row.map((v, i) => {
          const f = field(v, oids[i]);
          const x = f.isNull ? null : f.longValue ? Number(f.longValue.__long) : Object.values(f)[0];
          return [r.fields[i].name, x];
        }))));
      } else {
        out.records = r.rows.map((row) => row.map((v, i) => field(v, oids[i])));
        if (meta) out.columnMetadata = await columnMetadata(client, r.fields);
      }
    } else if (updates) out.generatedFields = [];
    return out;
  } finally {
    release();
  }
}

async function batchExecuteStatement(body) {
  const { c, database } = cluster(body, "BatchExecuteStatement");
  const sql = member(body, "sql", { required: true, max: SQL_MAX });
  const sets = body.parameterSets === undefined ? [[]] : body.parameterSets;
  if (!Array.isArray(sets)) throw new ApiError(400, "SerializationException", "parameterSets: expected a list (stand-in)");
  const tx = transaction(body, c);
  const client = tx ? tx[1].client : await connect(c, database);
  if (tx) { clearTimeout(tx[1].timer); tx[1].busy = true; }
  try {
    if (!tx) await client.query("BEGIN");
    const updateResults = [];
    for (const set of sets) {
      await client.query({ ...bindParameters(sql, set), queryMode: "extended", rowMode: "array", types: TEXT });
      updateResults.push({ generatedFields: [] });
    }
    if (!tx) await client.query("COMMIT");
    return { updateResults };
  } catch (e) {
    if (!tx) await client.query("ROLLBACK").catch(() => {});
    throw e instanceof ApiError ? e : databaseError(e);
  } finally {
    if (tx) { tx[1].busy = false; if (transactions.has(tx[0])) idle(tx[0]); } else client.end().catch(() => {});
  }
}

const OPERATIONS = {
  "/Execute": ["ExecuteStatement", executeStatement],
  "/BatchExecute": ["BatchExecuteStatement", batchExecuteStatement],
  "/BeginTransaction": ["BeginTransaction", beginTransaction],
  "/CommitTransaction": ["CommitTransaction", (b) => endTransaction(b, true)],
  "/RollbackTransaction": ["RollbackTransaction", (b) => endTransaction(b, false)],
};

// --- the HTTP side ---------------------------------------------------------------------------------

// longValue's digits kept as text before JSON.parse would round them past 2^53
function parseBody(text) {
  return JSON.parse(text.replace(/"longValue"\s*:\s*(-?\d+)/g, '"longValue":"$1"'));
}

const server = https.createServer({ key: fs.readFileSync(opt("--key")), cert: fs.readFileSync(opt("--cert")) }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    const op = OPERATIONS[req.url];
    const token = req.headers["x-amz-security-token"];
    const entry = { operation: op ? op[0] : req.url, method: req.method, content_type: req.headers["content-type"],
      host: req.headers.host, token_len: token ? Buffer.byteLength(token) : 0, token_whole: token !== undefined && token === cfg.sessionToken };
    const answer = (status, obj, code) => {
      entry.status = status;
      entry.answer = code || "ok";
      let text = JSON.stringify(obj).replace(/\{"__long":"(-?\d+)"\}/g, "$1");
      if (status === 200 && Buffer.byteLength(text) > RESPONSE_MAX) {
        entry.response_bytes = Buffer.byteLength(text);
        status = entry.status = 400;
        code = entry.answer = "BadRequestException";
        text = JSON.stringify({ message: "Database returned more than the allowed response size limit" });
      }
      log(entry);
      const headers = { "Content-Type": "application/json", "x-amzn-RequestId": crypto.randomUUID(), "Content-Length": Buffer.byteLength(text) };
      if (code) headers["x-amzn-ErrorType"] = code + ":http://internal.amazon.com/coral/com.amazon.rdsdataservice/";
      const send = () => { res.writeHead(status, headers); res.end(text); };
      if (cfg.latencyMs) setTimeout(send, cfg.latencyMs); else send();
    };
    const fail = (e) => {
      if (e instanceof ApiError) return answer(e.status, { message: e.message, ...(e.extra || {}) }, e.code);
      entry.internal = String(e && e.stack || e);
      return answer(500, { message: "An internal error occurred. (stand-in)" }, "InternalServerErrorException");
    };
    try {
      let fault = nextFault();
      if (!fault && armed && raw.includes(armed.text)) {
        fault = armed.fault;
        armed = null;
      }
      if (fault && fault.includes(":")) {
        armed = { fault: fault.slice(0, fault.indexOf(":")), text: fault.slice(fault.indexOf(":") + 1) };
        entry.armed = armed.fault;
        fault = null;
      }
      if (fault) {
        entry.fault = fault;
        if (aws_fakes.noAnswer(fault, req, entry, log)) return;
        if (fault === "expire") expireNext = true;
        if (FAULTS[fault]) return answer(FAULTS[fault][0], { message: FAULTS[fault][2] }, FAULTS[fault][1]);
      }
      if (req.method !== "POST" || !op) return answer(404, { message: "Not found (stand-in)" }, "UnknownOperationException");
      const bad = await check(req, raw, "rds-data", ["host", "x-amz-date"]);
      if (bad) return answer(403, { message: bad[1] }, bad[0]);
      if (!/^application\/json\b/.test(req.headers["content-type"] || ""))
        return answer(400, { message: "Unsupported content type (stand-in)" }, "SerializationException");
      let body;
      try {
        body = parseBody(raw);
      } catch (e) {
        return answer(400, { message: "Could not parse the request body as JSON (stand-in)" }, "SerializationException");
      }
      if (!body || typeof body !== "object" || Array.isArray(body))
        return answer(400, { message: "The request body is not a JSON object (stand-in)" }, "SerializationException");
      entry.sql_chars = typeof body.sql === "string" ? Array.from(body.sql).length : undefined;
      if (typeof body.sql === "string") entry.sql_head = body.sql.slice(0, 100);
      entry.in_transaction = typeof body.transactionId === "string";
      entry.continue_after_timeout = body.continueAfterTimeout === true || undefined;
      const result = await op[1](body);
      if (entry.fault === "drop-after") {
        // it ran; its answer is lost on the way
        entry.status = 0;
        log(entry);
        return req.socket.destroy();
      }
      answer(200, result);
    } catch (e) {
      fail(e);
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log("port " + server.address().port));
