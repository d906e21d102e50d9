/**
 * seqtun relay for Google Apps Script.
 *
 * Forwards batch tunnel requests from a client to a tunnel node (docs/PROTOCOL.md §1.5 of
 * seqtun): the client POSTs the outer dialect {k, t, ...} to this web app; the script checks
 * k against RELAY_KEY, rebuilds the request in the inner dialect with NODE_KEY and POSTs it
 * to the node; the node's answer goes back unchanged. Anything else (a wrong key, a body that
 * is not JSON, any error) gets the page Apps Script shows for a script that returned nothing,
 * so the deployment tells a stranger nothing.
 *
 * Setup
 *   1. Go to https://script.google.com and choose "New project".
 *   2. Replace everything in Code.gs with this file.
 *   3. Edit the four settings below:
 *        RELAY_KEY   a long random string of your own; clients send it as their key.
 *        NODE_URL    the node's base URL, e.g. http://203.0.113.7:8080 or
 *                    https://node.example.org (no trailing /tunnel).
 *        NODE_KEY    the key the node was started with (its TUNNEL_AUTH_KEY).
 *        DIAGNOSTIC  true while setting up: errors come back as JSON {"e": ...} instead
 *                    of the decoy page. Set it back to false afterwards.
 *      Coming from mhrv-rs? Paste your CodeFull.gs settings (AUTH_KEY, TUNNEL_SERVER_URL,
 *      TUNNEL_AUTH_KEY, DIAGNOSTIC_MODE) below the four settings, or into a file of their
 *      own in the same project, and leave the four as they are. Which one is used: a
 *      setting above that you changed wins; one left as shipped ('CHANGE_ME', the example
 *      URL) gives way to its mhrv-rs name (RELAY_KEY <- AUTH_KEY, NODE_URL <-
 *      TUNNEL_SERVER_URL, NODE_KEY <- TUNNEL_AUTH_KEY). Diagnostic answers are on when
 *      DIAGNOSTIC or DIAGNOSTIC_MODE is true.
 *   4. Deploy > New deployment > Select type: Web app.
 *        Execute as: Me.   Who has access: Anyone.
 *      Deploy, and allow the script to "connect to an external service" (UrlFetchApp).
 *   5. Copy the deployment ID (it starts with AKfycb). The client's relay URL is
 *        https://script.google.com/macros/s/<DEPLOYMENT ID>/exec
 *   6. Check: opening that URL in a browser shows "The script completed but did not return
 *      anything." (that is the decoy, and it means the deployment is live).
 *   After any edit, Deploy > Manage deployments > Edit > Version: New version; otherwise the
 *   deployment keeps running the old code.
 *
 * Limits to know: every forwarded request is one UrlFetchApp call, and a Google account gets
 * about 20 000 per day (often fewer); an account runs at most 30 executions at once; a reply
 * over about 50 MiB is cut. Deployments of one account share these limits, so spread
 * deployments over several accounts rather than several projects.
 *
 * Uses only UrlFetchApp, ContentService and HtmlService.
 */

var RELAY_KEY = 'CHANGE_ME';
var NODE_URL = 'http://203.0.113.7:8080';
var NODE_KEY = 'CHANGE_ME';
var DIAGNOSTIC = false;

/** The value the keys have until someone sets them; the script refuses to run with it. */
var UNSET_KEY = 'CHANGE_ME';
/** The example NODE_URL above, which counts as not set when an mhrv-rs URL is given. */
var UNSET_URL = 'http://203.0.113.7:8080';

/**
 * The settings in force: each of ours unless left as shipped, else its mhrv-rs CodeFull.gs
 * name if that is defined (a pasted `const AUTH_KEY = ...` is not a property of the global
 * object, hence the typeof checks).
 */
function settings_() {
  var mhrv = {
    key: typeof AUTH_KEY !== 'undefined' ? AUTH_KEY : undefined,
    url: typeof TUNNEL_SERVER_URL !== 'undefined' ? TUNNEL_SERVER_URL : undefined,
    nodeKey: typeof TUNNEL_AUTH_KEY !== 'undefined' ? TUNNEL_AUTH_KEY : undefined,
    diagnostic: typeof DIAGNOSTIC_MODE !== 'undefined' ? DIAGNOSTIC_MODE === true : false
  };
  var pick = function (own, unset, theirs) {
    return own === unset && typeof theirs === 'string' && theirs !== '' ? theirs : own;
  };
  return {
    relayKey: pick(RELAY_KEY, UNSET_KEY, mhrv.key),
    nodeUrl: pick(NODE_URL, UNSET_URL, mhrv.url),
    nodeKey: pick(NODE_KEY, UNSET_KEY, mhrv.nodeKey),
    diagnostic: DIAGNOSTIC === true || mhrv.diagnostic
  };
}

/** Ops the node's single-op endpoint (/tunnel) understands. */
var SINGLE_OPS = ['connect', 'connect_data', 'data', 'close'];

var DECOY_HTML =
  '<div style="font-family:Arial,sans-serif;margin:16px">' +
  'The script completed but did not return anything.</div>';

function doPost(e) {
  var s = settings_();
  try {
    return relay_(e, s);
  } catch (err) {
    return failure_(String(err), s);
  }
}

function doGet() {
  return decoy_();
}

function relay_(e, s) {
  if (s.relayKey === UNSET_KEY || s.nodeKey === UNSET_KEY) {
    throw new Error('RELAY_KEY and NODE_KEY are not set: edit them at the top of the ' +
      'script (or paste AUTH_KEY and TUNNEL_AUTH_KEY from CodeFull.gs), then deploy a new ' +
      'version');
  }
  var req = JSON.parse(e.postData.contents);
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    throw new TypeError('request body is not a JSON object');
  }
  if (!sameKey_(req.k, s.relayKey)) {
    return s.diagnostic ? json_({ e: 'unauthorized' }) : decoy_();
  }
  if (!req.t) {
    throw new Error('no tunnel op (t): this relay only forwards tunnel requests');
  }
  if (req.t === 'batch') {
    // The ops are forwarded as parsed: fields this script does not know (seq, wseq, ...)
    // pass through to the node.
    return forward_(s, '/tunnel/batch', { k: s.nodeKey, ops: req.ops || [] }, 'tunnel batch');
  }
  var op = String(req.t);
  if (SINGLE_OPS.indexOf(op) < 0) {
    return json_({ e: 'unknown tunnel op: ' + op, code: 'UNSUPPORTED_OP' });
  }
  // The single-op form has no room for anything else, so other fields are dropped.
  var inner = { k: s.nodeKey, op: op, host: req.h, port: req.p, sid: req.sid };
  if (req.d) {
    inner.data = req.d;
  }
  return forward_(s, '/tunnel', inner, 'tunnel node');
}

function forward_(s, path, body, what) {
  var url = s.nodeUrl.replace(/\/+$/, '') + path;
  var resp = UrlFetchApp.fetch(url, {
    method: 'post',
    contentType: 'application/json',
    payload: JSON.stringify(body),
    muteHttpExceptions: true,
    followRedirects: true
  });
  var status = resp.getResponseCode();
  if (status !== 200) {
    return json_({ e: what + ' HTTP ' + status });
  }
  return text_(resp.getContentText());
}

/** Compares keys without stopping at the first difference. */
function sameKey_(given, expected) {
  if (typeof given !== 'string') {
    return false;
  }
  var diff = given.length ^ expected.length;
  for (var i = 0; i < expected.length; i++) {
    diff |= (given.charCodeAt(i % (given.length || 1)) || 0) ^ expected.charCodeAt(i);
  }
  return diff === 0;
}

function failure_(text, s) {
  return s.diagnostic ? json_({ e: text }) : decoy_();
}

function json_(value) {
  return text_(JSON.stringify(value));
}

function text_(text) {
  return ContentService.createTextOutput(text).setMimeType(ContentService.MimeType.JSON);
}

function decoy_() {
  return HtmlService.createHtmlOutput(DECOY_HTML);
}
