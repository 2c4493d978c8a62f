// One round of SCF API calls through tencentcloud-sdk-nodejs-scf against `scfrt serve`, the
// client configured as a user would: only the endpoint, the protocol and the signing changed.
// Usage: node round.js ENDPOINT SIGN_METHOD REQ_METHOD FUNCTION_NAME ZIP_BASE64_FILE EVENT
// Prints one JSON object: each step's response, or {"error": {code, message}} where it failed.
"use strict";
const fs = require("fs");
const tencentcloud = require("tencentcloud-sdk-nodejs-scf");

const [endpoint, signMethod, reqMethod, name, zipFile, event] = process.argv.slice(2);
const client = new tencentcloud.scf.v20180416.Client({
  credential: {
    secretId: process.env.TENCENTCLOUD_SECRET_ID,
    secretKey: process.env.TENCENTCLOUD_SECRET_KEY,
  },
  region: "na-toronto",
  profile: {
    signMethod,
    httpProfile: { endpoint, protocol: "http://", reqMethod, reqTimeout: 60 },
  },
});

async function step(out, key, call) {
  try {
    out[key] = await call();
  } catch (e) {
    out[key] = { error: { code: e.code || "", message: e.message || String(e) } };
  }
}

async function main() {
  const zip = fs.readFileSync(zipFile, "utf8").trim();
  const out = {};
  await step(out, "create", () =>
    client.CreateFunction({
      FunctionName: name,
      Code: { ZipFile: zip },
      Runtime: "CustomRuntime",
      Handler: "index.main_handler",
      Timeout: 3,
      InitTimeout: 3,
      Environment: { Variables: [{ Key: "STAGE", Value: "dev" }] },
    }));
  await step(out, "invoke", () => client.Invoke({ FunctionName: name, ClientContext: event }));
  await step(out, "invokeTail", () =>
    client.Invoke({ FunctionName: name, ClientContext: event, LogType: "Tail" }));
  await step(out, "invokeAsync", () =>
    client.Invoke({ FunctionName: name, ClientContext: event, InvocationType: "Event" }));
  await step(out, "invokeFunction", () =>
    client.InvokeFunction({ FunctionName: name, Event: event, Qualifier: "$DEFAULT" }));
  await step(out, "logs", () =>
    client.GetFunctionLogs({ FunctionName: name, Filter: { RetCode: "is0" }, Limit: 2 }));
  // Versions and an alias with weighted routing, invoked by qualifier.
  await step(out, "publish", () =>
    client.PublishVersion({ FunctionName: name, Description: "node v1" }));
  await step(out, "createAlias", () =>
    client.CreateAlias({
      FunctionName: name,
      Name: "live",
      FunctionVersion: "1",
      RoutingConfig: { AdditionalVersionWeights: [{ Version: "$LATEST", Weight: 0.5 }] },
    }));
  await step(out, "getAlias", () => client.GetAlias({ FunctionName: name, Name: "live" }));
  await step(out, "invokeVersion", () =>
    client.Invoke({ FunctionName: name, ClientContext: event, Qualifier: "1" }));
  await step(out, "invokeAlias", () =>
    client.InvokeFunction({ FunctionName: name, Event: event, Qualifier: "live" }));
  await step(out, "listVersions", () => client.ListVersionByFunction({ FunctionName: name }));
  await step(out, "deleteAlias", () => client.DeleteAlias({ FunctionName: name, Name: "live" }));
  await step(out, "deleteVersion", () =>
    client.DeleteFunction({ FunctionName: name, Qualifier: "1" }));
  await step(out, "listVersionsAfter", () => client.ListVersionByFunction({ FunctionName: name }));
  await step(out, "get", () => client.GetFunction({ FunctionName: name }));
  await step(out, "list", () => client.ListFunctions({ Limit: 100 }));
  await step(out, "updateConfiguration", () =>
    client.UpdateFunctionConfiguration({ FunctionName: name, MemorySize: 256, Description: "node" }));
  await step(out, "updateCode", () =>
    client.UpdateFunctionCode({ FunctionName: name, ZipFile: zip, Handler: "index.main_handler" }));
  await step(out, "getAfter", () => client.GetFunction({ FunctionName: name }));
  await step(out, "delete", () => client.DeleteFunction({ FunctionName: name }));
  await step(out, "getDeleted", () => client.GetFunction({ FunctionName: name }));
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
