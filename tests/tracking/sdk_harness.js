// Runs src/bingbridge/web/static/sdk.js in a fresh V8 context with a fake browser: document.cookie (a jar that
// records every write), location, document.currentScript and fetch (records every request).
// Usage: node sdk_harness.js SDK_PATH SCENARIO_JSON  — prints {writes, jar, requests, results, error} as JSON.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [sdkPath, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);

const jar = new Map();
const writes = [];
for (const part of (scenario.cookie || "").split(/;\s*/)) {
  const at = part.indexOf("=");
  if (at > 0) jar.set(part.slice(0, at), part.slice(at + 1));
}
const document = {
  currentScript: scenario.scriptSrc ? { src: scenario.scriptSrc } : null,
  referrer: scenario.referrer || "",
  title: scenario.title || "",
  get cookie() {
    return Array.from(jar, ([k, v]) => `${k}=${v}`).join("; ");
  },
  set cookie(text) {
    writes.push(text);
    const [pair] = text.split(";");
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  },
};
const requests = [];
function fetch(url, options) {
  requests.push({ url, options });
  return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({ accepted: ["x"] }) });
}
const context = { document, location: new URL(scenario.url), fetch, URL, URLSearchParams, console };
if (scenario.crypto !== false) context.crypto = require("crypto").webcrypto;
vm.createContext(context);
vm.runInContext(fs.readFileSync(sdkPath, "utf8"), context, { filename: "sdk.js" });

(async () => {
  const out = { writes, requests, results: [], error: null };
  try {
    for (const [name, options] of scenario.before || []) context.bingbridge.track(name, options);
  } catch (e) {
    out.error = String(e.message);
  }
  if (scenario.init) context.bingbridge.init(scenario.init);
  for (const [name, options] of scenario.track || []) {
    const send = name === "page()" ? () => context.bingbridge.page(options) : () => context.bingbridge.track(name, options);
    out.results.push(await send());
  }
  out.jar = document.cookie;
  out.clickIds = context.bingbridge.clickIds();
  process.stdout.write(JSON.stringify(out));
})();
