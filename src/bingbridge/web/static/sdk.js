/*! bingbridge first-party tracking snippet. Written for bingbridge; no third-party code. ES2015.
 *
 *   <script src="https://track.example.com/sdk.js"></script>
 *   <script>
 *     bingbridge.init({ key: "bbk_...", consent: { ad_storage: "granted" } });
 *     bingbridge.page();
 *     bingbridge.track("purchase", { value: 49.9, currency: "EUR", user: { email: "a@b.c" } });
 *   </script>
 *
 * On init it reads msclkid, gclid, fbclid and ttclid from the landing URL and keeps them for 90 days in the
 * first-party cookie `_bb_click_ids` (SameSite=Lax; Secure on https), so a conversion days later still carries the
 * click. With ad_storage denied no cookie is written and no click id is sent (the service logs the event as
 * blocked). track() POSTs one event to <endpoint>/v1/events with fetch + keepalive, so it
 * survives the page being left; the endpoint defaults to the origin this script was loaded from.
 * page() tracks a page load (event "page_view", sent to the UET Conversions API as a pageLoad). Every event carries
 * the page it happened on: URL, referrer, title and one id per page load (made at init), so the events of a page
 * share it. With ad_storage denied the URL and referrer are left out too (they may hold click ids).
 */
(function (global) {
  "use strict";

  var COOKIE = "_bb_click_ids";
  var MAX_AGE = 90 * 24 * 60 * 60; // seconds: Microsoft accepts conversions up to 90 days after the click
  var CLICK_IDS = ["msclkid", "gclid", "fbclid", "ttclid"];
  var MSCLKID = /^[0-9a-f]{32}$/i; // anything else would be refused by the service, and the event with it

  var doc = global.document;
  var currentScript = doc && doc.currentScript;
  var state = { key: null, endpoint: null, consent: null, cookieDomain: null, clickIds: {}, pageLoadId: null };

  function scriptOrigin() {
    try {
      if (currentScript && currentScript.src) return new URL(currentScript.src).origin;
    } catch (e) { /* fall through */ }
    return global.location ? global.location.origin : "";
  }

  function readCookie() {
    var parts = (doc && doc.cookie ? doc.cookie : "").split(/;\s*/);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf(COOKIE + "=") === 0) {
        try {
          var value = JSON.parse(decodeURIComponent(parts[i].slice(COOKIE.length + 1)));
          return value && typeof value === "object" ? value : {};
        } catch (e) {
          return {};
        }
      }
    }
    return {};
  }

  function writeCookie(ids) {
    if (!doc) return;
    var cookie = COOKIE + "=" + encodeURIComponent(JSON.stringify(ids)) +
      "; Max-Age=" + MAX_AGE + "; Path=/; SameSite=Lax";
    if (state.cookieDomain) cookie += "; Domain=" + state.cookieDomain;
    if (global.location && global.location.protocol === "https:") cookie += "; Secure";
    doc.cookie = cookie;
  }

  function fromUrl() {
    var found = {};
    var params = new URLSearchParams(global.location ? global.location.search : "");
    CLICK_IDS.forEach(function (name) {
      var value = params.get(name);
      if (!value) return;
      value = value.trim();
      if (name === "msclkid" && !MSCLKID.test(value)) return;
      if (value && value.length <= 500) found[name] = value;
    });
    return found;
  }

  function adStorageDenied(consent) {
    return !!(consent && String(consent.ad_storage).toLowerCase() === "denied");
  }

  /** Merge the landing URL's click ids into the stored ones (newer clicks win) and persist them if allowed. */
  function capture() {
    var ids = Object.assign({}, readCookie(), state.clickIds, fromUrl());
    state.clickIds = ids;
    if (Object.keys(ids).length && !adStorageDenied(state.consent)) writeCookie(ids);
    return ids;
  }

  function uuid() {
    var c = global.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" +
      hex.slice(20);
  }

  /** init({key, endpoint?, consent?, cookieDomain?}): remember the ingestion key and capture click ids. */
  function init(options) {
    options = options || {};
    if (!options.key) throw new Error("bingbridge.init: give the workspace's ingestion key as {key}");
    state.key = options.key;
    state.endpoint = String(options.endpoint || scriptOrigin()).replace(/\/+$/, "");
    state.consent = options.consent || null;
    state.cookieDomain = options.cookieDomain || null;
    state.pageLoadId = uuid();
    return capture();
  }

  /** The page an event happens on; without ad_storage consent, no URL or referrer (they may carry click ids). */
  function pageInfo(consentFlags) {
    var denied = adStorageDenied(consentFlags);
    return {
      url: denied || !global.location ? undefined : global.location.href,
      referrer: denied || !doc || !doc.referrer ? undefined : doc.referrer,
      title: doc && doc.title ? doc.title : undefined,
      load_id: state.pageLoadId || undefined
    };
  }

  /** page(options?): track a page load, event "page_view" (same options as track). */
  function page(options) {
    return track("page_view", options);
  }

  /** consent({ad_storage}): update consent; granting it persists the click ids captured so far. */
  function consent(flags) {
    state.consent = flags || null;
    return capture();
  }

  /**
   * track(event_name, {value?, currency?, event_id?, user?: {email?, phone?}, consent?, properties?, timestamp?})
   * Resolves to {ok, status, event_id, body}; never rejects (a network failure resolves with ok false).
   */
  function track(eventName, options) {
    if (!state.key) throw new Error("bingbridge.track: call bingbridge.init({key}) first");
    options = options || {};
    var eventConsent = options.consent || state.consent;
    var event = {
      event_id: options.event_id || uuid(),
      event_name: eventName,
      timestamp: options.timestamp || new Date().toISOString(),
      value: options.value,
      currency: options.currency,
      consent: eventConsent || undefined,
      user: options.user,
      click_ids: adStorageDenied(eventConsent) ? undefined : Object.assign({}, state.clickIds),
      page: pageInfo(eventConsent),
      properties: options.properties
    };
    var body = JSON.stringify(event);
    return global.fetch(state.endpoint + "/v1/events", {
      method: "POST",
      keepalive: true, // the request outlives the page (a purchase is often tracked right before navigation)
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + state.key },
      body: body
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (answer) {
        return { ok: response.ok, status: response.status, event_id: event.event_id, body: answer };
      });
    }, function () {
      return { ok: false, status: 0, event_id: event.event_id, body: null };
    });
  }

  function clickIds() {
    return Object.assign({}, state.clickIds);
  }

  global.bingbridge = { init: init, track: track, page: page, consent: consent, clickIds: clickIds };
})(typeof window !== "undefined" ? window : this);
