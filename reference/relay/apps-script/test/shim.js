// The Apps Script services Relay.gs uses, for running it under Node.js in tests:
// UrlFetchApp (synchronous, via a child process), ContentService and HtmlService.
// Only what the relay script touches is implemented, with Apps Script's names and
// behaviour for those parts (exceptions read "Exception: ...", as String(err) shows them).
'use strict';

const { execFileSync } = require('child_process');
const path = require('path');

const FETCH_HELPER = path.join(__dirname, 'fetch.js');
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

class Exception extends Error {
  constructor(message) {
    super(message);
    this.name = 'Exception';
  }
}

class HTTPResponse {
  constructor(status, body) {
    this.status = status;
    this.body = body;
  }
  getResponseCode() {
    return this.status;
  }
  getContentText() {
    return this.body.toString('utf8');
  }
}

const UrlFetchApp = {
  fetch(url, params) {
    const p = params || {};
    const request = {
      url,
      method: p.method || 'get',
      contentType: p.contentType,
      payload: p.payload,
      followRedirects: p.followRedirects,
    };
    let out;
    try {
      out = JSON.parse(
        execFileSync(process.execPath, [FETCH_HELPER], {
          input: JSON.stringify(request),
          maxBuffer: 2 * MAX_RESPONSE_BYTES,
        }).toString('utf8')
      );
    } catch (err) {
      throw new Exception('Request failed for ' + url + ': ' + err.message);
    }
    if (out.error !== undefined) {
      throw new Exception('Request failed for ' + url + ': ' + out.error);
    }
    const response = new HTTPResponse(out.status, Buffer.from(out.body, 'base64'));
    if (!p.muteHttpExceptions && out.status >= 400) {
      throw new Exception('Request failed for ' + url + ' returned code ' + out.status);
    }
    return response;
  },
};

class TextOutput {
  constructor(content) {
    this.content = content;
    this.mimeType = ContentService.MimeType.TEXT;
  }
  setMimeType(mimeType) {
    this.mimeType = mimeType;
    return this;
  }
  getMimeType() {
    return this.mimeType;
  }
  getContent() {
    return this.content;
  }
}

const ContentService = {
  MimeType: {
    JSON: 'application/json',
    TEXT: 'text/plain',
    JAVASCRIPT: 'application/javascript',
    CSV: 'text/csv',
    XML: 'text/xml',
  },
  createTextOutput(content) {
    return new TextOutput(content === undefined ? '' : String(content));
  },
};

class HtmlOutput {
  constructor(html) {
    this.html = html;
  }
  getContent() {
    return this.html;
  }
  getMimeType() {
    return 'text/html';
  }
}

const HtmlService = {
  createHtmlOutput(html) {
    return new HtmlOutput(html === undefined ? '' : String(html));
  },
};

/** The globals a script sees. */
function globals() {
  return { UrlFetchApp, ContentService, HtmlService, console };
}

module.exports = { globals, Exception };
