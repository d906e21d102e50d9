// One HTTP request for the UrlFetchApp shim, run as a child process so that the shim can
// wait for it synchronously (UrlFetchApp.fetch blocks; Node's HTTP client does not).
// Reads {url, method, contentType, payload, followRedirects} as JSON on stdin and writes
// {status, body} (body in base64) or {error} as JSON on stdout.
'use strict';

const http = require('http');
const https = require('https');

const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 60000;

function request(url, method, headers, payload, redirectsLeft, done) {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const req = client.request(target, { method, headers, timeout: TIMEOUT_MS }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const location = res.headers.location;
      if (redirectsLeft > 0 && location && res.statusCode >= 300 && res.statusCode < 400) {
        request(new URL(location, target).toString(), 'GET', {}, null, redirectsLeft - 1, done);
        return;
      }
      done({ status: res.statusCode, body: Buffer.concat(chunks).toString('base64') });
    });
    res.on('error', (err) => done({ error: err.message }));
  });
  req.on('timeout', () => req.destroy(new Error('Timeout: ' + url)));
  req.on('error', (err) => done({ error: err.message }));
  if (payload !== null) {
    req.write(payload);
  }
  req.end();
}

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const payload = input.payload === undefined ? null : Buffer.from(input.payload, 'utf8');
const headers = {};
if (payload !== null) {
  headers['content-type'] = input.contentType || 'application/x-www-form-urlencoded';
  headers['content-length'] = payload.length;
}
const redirects = input.followRedirects === false ? 0 : MAX_REDIRECTS;
request(input.url, (input.method || 'get').toUpperCase(), headers, payload, redirects, (out) => {
  process.stdout.write(JSON.stringify(out));
});
