#!/usr/bin/env node
// sdk_check.js - the AWS SDK for JavaScript's own RDS Data client
// (@aws-sdk/client-rds-data, pinned by tests/rdsdata/package-lock.json) against
// the stand-in (tests/rdsdata/data_api.js): what the SDK sends, the stand-in
// must take (its serializer and its SigV4 signer), and what the stand-in
// answers, the SDK's deserializer must read as AWS's answer (the output shapes,
// the Field union, each error as its modelled exception class with its HTTP
// status and members).  One "PASS what" / "FAIL what" line per check, for
// tests/rdsdata.sh's tap_passfail.
//
//   node sdk_check.js API_PORT FAST_PORT      (FAST: the stand-in with timeScale 0.02)
//
// The credentials, region, ARNs and database come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, DB_CLUSTER_ARN,
// DB_SECRET_ARN, DB_NAME; the test CA from NODE_EXTRA_CA_CERTS.
"use strict";
const rds = require("@aws-sdk/client-rds-data");

const [api, fast] = process.argv.slice(2);
const env = process.env;
const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  sessionToken: env.AWS_SESSION_TOKEN };
const client = (port, extra = {}) => new rds.RDSDataClient({ region: env.AWS_REGION, endpoint: `https://localhost:${port}`,
  credentials, maxAttempts: 1, ...extra });
const base = { resourceArn: env.DB_CLUSTER_ARN, secretArn: env.DB_SECRET_ARN, database: env.DB_NAME };
const db = client(api);

let failed = 0;
function check(what, ok, detail) {
  console.log((ok ? "PASS " : "FAIL ") + what);
  if (!ok) {
    failed++;
    if (detail !== undefined) for (const l of String(detail).split("\n").slice(0, 10)) console.log("# " + l);
  }
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
async function refused(p) {
  try {
    await p;
    return null;
  } catch (e) {
    return e;
  }
}
const exec = (sql, extra = {}, c = db) => c.send(new rds.ExecuteStatementCommand({ ...base, sql, ...extra }));

async function main() {
  const r = await exec("SELECT 1::int4 AS a, 'x'::text AS b, NULL::int8 AS c, true AS d, 1.5::float8 AS e, " +
    "decode('00ff', 'hex') AS f, ARRAY['p', NULL]::text[] AS g, 2.50::numeric AS h", { includeResultMetadata: true });
  const rec = r.records[0];
  check("ExecuteStatement: the SDK reads the records' Field union",
    same(rec.slice(0, 5), [{ longValue: 1 }, { stringValue: "x" }, { isNull: true }, { booleanValue: true }, { doubleValue: 1.5 }]) &&
    Buffer.from(rec[5].blobValue).toString("hex") === "00ff" && same(rec[6], { arrayValue: { stringValues: ["p", null] } }) &&
    same(rec[7], { stringValue: "2.50" }), JSON.stringify(rec));
  check("... columnMetadata (name, typeName, type)",
    same(r.columnMetadata.map((c) => [c.name, c.typeName, c.type]),
      [["a", "int4", 4], ["b", "text", 12], ["c", "int8", -5], ["d", "bool", -7], ["e", "float8", 8], ["f", "bytea", -2],
        ["g", "_text", 2003], ["h", "numeric", 2]]), JSON.stringify(r.columnMetadata));
  check("... numberOfRecordsUpdated 0 for a SELECT, HTTP 200", r.numberOfRecordsUpdated === 0 && r.$metadata.httpStatusCode === 200);

  await exec("CREATE TABLE sdk (id int PRIMARY KEY, v text)");
  const { transactionId } = await db.send(new rds.BeginTransactionCommand(base));
  const ins = await exec("INSERT INTO sdk VALUES (:id, :v)", { transactionId,
    parameters: [{ name: "id", value: { longValue: 7 } }, { name: "v", value: { stringValue: "seven" } }] });
  const c = await db.send(new rds.CommitTransactionCommand({ resourceArn: base.resourceArn, secretArn: base.secretArn, transactionId }));
  check("BeginTransaction, a parameterised INSERT in it, CommitTransaction",
    ins.numberOfRecordsUpdated === 1 && c.transactionStatus === "Transaction Committed", JSON.stringify([ins, c]));
  const t2 = (await db.send(new rds.BeginTransactionCommand(base))).transactionId;
  await exec("DELETE FROM sdk", { transactionId: t2 });
  const rb = await db.send(new rds.RollbackTransactionCommand({ resourceArn: base.resourceArn, secretArn: base.secretArn, transactionId: t2 }));
  const after = await exec("SELECT v FROM sdk");
  check("RollbackTransaction: the DELETE is undone", rb.transactionStatus === "Rollback Complete" &&
    same(after.records, [[{ stringValue: "seven" }]]), JSON.stringify([rb, after.records]));
  const fr = await exec("SELECT id, v FROM sdk", { formatRecordsAs: "JSON" });
  check("formatRecordsAs JSON: formattedRecords", fr.formattedRecords === '[{"id":7,"v":"seven"}]' && fr.records === undefined,
    JSON.stringify(fr));
  const b = await db.send(new rds.BatchExecuteStatementCommand({ ...base, sql: "INSERT INTO sdk VALUES (:id, 'batch')",
    parameterSets: [[{ name: "id", value: { longValue: 8 } }], [{ name: "id", value: { longValue: 9 } }]] }));
  check("BatchExecuteStatement: two updateResults", b.updateResults.length === 2, JSON.stringify(b));

  let e = await refused(exec("SELECT * FROM missing_table"));
  check("DatabaseErrorException: the SDK's class, HTTP 400, PostgreSQL's message",
    e instanceof rds.DatabaseErrorException && e.$metadata.httpStatusCode === 400 &&
    e.message === 'ERROR: relation "missing_table" does not exist\n  Position: 15; SQLState: 42P01', e && e.stack);
  e = await refused(exec("SELECT 1 -- " + "x".repeat(65536)));
  check("BadRequestException for a sql over 65,536 characters", e instanceof rds.BadRequestException, e && e.stack);
  e = await refused(db.send(new rds.CommitTransactionCommand({ resourceArn: base.resourceArn, secretArn: base.secretArn, transactionId: "nope" })));
  check("TransactionNotFoundException: HTTP 404", e instanceof rds.TransactionNotFoundException && e.$metadata.httpStatusCode === 404,
    e && e.stack);
  e = await refused(exec("SELECT pg_sleep(2)", {}, client(fast)));
  check("StatementTimeoutException with its dbConnectionId (a long)",
    e instanceof rds.StatementTimeoutException && Number.isInteger(e.dbConnectionId) && e.dbConnectionId > 0, e && e.stack);
  e = await refused(exec("SELECT 1", {}, client(api, { credentials: { ...credentials, secretAccessKey: "wrong" } })));
  check("a wrong key: InvalidSignatureException, HTTP 403", e && e.name === "InvalidSignatureException" &&
    e.$metadata.httpStatusCode === 403, e && e.stack);
  e = await refused(exec("SELECT 1", { resourceArn: base.resourceArn.replace(/:cluster:.*/, ":cluster:other") }));
  check("another cluster: HttpEndpointNotEnabledException", e instanceof rds.HttpEndpointNotEnabledException, e && e.stack);
  e = await refused(exec("SELECT 1", { secretArn: base.secretArn + "-x" }));
  check("another secret: SecretsErrorException", e instanceof rds.SecretsErrorException, e && e.stack);
  if (env.RESUME_FAULTS) {
    require("fs").writeFileSync(env.RESUME_FAULTS, "resuming\n504\n");
    e = await refused(exec("SELECT 1"));
    const e2 = await refused(exec("SELECT 1"));
    check("scripted faults: DatabaseResumingException, DatabaseUnavailableException (HTTP 504)",
      e instanceof rds.DatabaseResumingException && e2 instanceof rds.DatabaseUnavailableException &&
      e2.$metadata.httpStatusCode === 504, (e && e.stack) + "\n" + (e2 && e2.stack));
  }
}

main().then(() => process.exit(failed ? 1 : 0), (e) => {
  console.log("FAIL the checks ran to their end");
  console.log("# " + String(e && e.stack || e).split("\n").slice(0, 8).join("\n# "));
  process.exit(1);
});
