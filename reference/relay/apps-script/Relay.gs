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

/** Ops the node's single-op endpoint (/tunnel) understands. */
var SINGLE_OPS = ['connect', 'connect_data', 'data', 'close'];

var DECOY_HTML =
  '<div style="font-family:Arial,sans-serif;margin:16px">' +
  'The script completed but did not return anything.</div>';

function doPost(e) {
  try {
    return relay_(e);
  } catch (err) {
    return failure_(String(err));
  }
}

function doGet() {
  return decoy_();
}

function relay_(e) {
  if (RELAY_KEY === UNSET_KEY || NODE_KEY === UNSET_KEY) {
    throw new Error('RELAY_KEY and NODE_KEY are not set: edit them at the top of the ' +
      'script, then deploy a new version');
  }
  var req = JSON.parse(e.postData.contents);
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    throw new TypeError('request body is not a JSON object');
  }
  if (!sameKey_(req.k, RELAY_KEY)) {
    return DIAGNOSTIC ? json_({ e: 'unauthorized' }) : decoy_();
  }
  if (!req.t) {
    throw new Error('no tunnel op (t): this relay only forwards tunnel requests');
  }
  if (req.t === 'batch') {
    // The ops are forwarded as parsed: fields this script does not know (seq, wseq, ...)
    // pass through to the node.
    return forward_('/tunnel/batch', { k: NODE_KEY, ops: req.ops || [] }, 'tunnel batch');
  }
  var op = String(req.t);
  if (SINGLE_OPS.indexOf(op) < 0) {
    return json_({ e: 'unknown tunnel op: ' + op, code: 'UNSUPPORTED_OP' });
  }
  // The single-op form has no room for anything else, so other fields are dropped.
  var inner = { k: NODE_KEY, op: op, host: req.h, port: req.p, sid: req.sid };
  if (req.d) {
    inner.data = req.d;
  }
  return forward_('/tunnel', inner, 'tunnel node');
}

function forward_(path, body, what) {
  var url = NODE_URL.replace(/\/+$/, '') + path;
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

function failure_(text) {
  return DIAGNOSTIC ? json_({ e: text }) : decoy_();
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
