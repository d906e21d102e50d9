// Serves Relay.gs as Apps Script would serve a web app, for tests: POST .../exec runs
// doPost(e), GET runs doGet(e), and the returned output becomes the HTTP answer.
// Settings come from the environment instead of editing the script:
//   GS_RELAY_KEY, GS_NODE_URL, GS_NODE_KEY, GS_DIAGNOSTIC=true|false;
//   GS_PASTE: script text run in the same project before Relay.gs, as a user pasting their
//   mhrv-rs CodeFull.gs settings would (e.g. `const AUTH_KEY = "...";`).
// Prints "listening on 127.0.0.1:<port>" once it accepts requests.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const vm = require('vm');
const shim = require('./shim');

const MAX_BODY_BYTES = 50 * 1024 * 1024;
const script = path.join(__dirname, '..', 'Relay.gs');
const context = vm.createContext(shim.globals());
if (process.env.GS_PASTE !== undefined) {
  vm.runInContext(process.env.GS_PASTE, context, { filename: 'Pasted.gs' });
}
vm.runInContext(fs.readFileSync(script, 'utf8'), context, { filename: 'Relay.gs' });

const settings = { GS_RELAY_KEY: 'RELAY_KEY', GS_NODE_URL: 'NODE_URL', GS_NODE_KEY: 'NODE_KEY' };
for (const [env, name] of Object.entries(settings)) {
  if (process.env[env] !== undefined) {
    context[name] = process.env[env];
  }
}
if (process.env.GS_DIAGNOSTIC !== undefined) {
  context.DIAGNOSTIC = process.env.GS_DIAGNOSTIC === 'true';
}

function answer(res, status, type, body) {
  res.writeHead(status, { 'content-type': type + '; charset=utf-8' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (!/^\/macros\/s\/[^/]+\/exec$/.test(new URL(req.url, 'http://x').pathname)) {
      answer(res, 404, 'text/html', 'Not Found');
      return;
    }
    const contents = Buffer.concat(chunks).toString('utf8');
    const e = {
      postData: { contents, length: contents.length, type: req.headers['content-type'] },
      parameter: {},
      parameters: {},
      contentLength: contents.length,
    };
    let output;
    try {
      output = req.method === 'POST' ? context.doPost(e) : context.doGet(e);
    } catch (err) {
      // Apps Script shows an error page when doPost throws; the relay script never should.
      answer(res, 500, 'text/plain', 'uncaught: ' + String(err));
      return;
    }
    answer(res, 200, output.getMimeType(), output.getContent());
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('listening on 127.0.0.1:' + server.address().port + '\n');
});
