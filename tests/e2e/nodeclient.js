// node's own networking under the preload (node nodeclient.js MODE HOST PORT N):
// dns.lookup resolves through getaddrinfo on libuv's thread pool, sockets
// connect non-blocking through libuv. `http` is http.get with a fresh
// connection each time; `net` is net.connect with a hand-written request.
// Prints each response body, or "error: ...", one a line, in order.
'use strict';
const http = require('http');
const net = require('net');

const [mode, host, port, n] = process.argv.slice(2);

function viaHttp() {
  return new Promise((resolve) => {
    const req = http.get({ host, port: Number(port), path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error: ${e.code || e.message}`));
  });
}

function viaNet() {
  return new Promise((resolve) => {
    let data = '';
    const s = net.connect({ host, port: Number(port), timeout: 5000 }, () => {
      s.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    });
    s.on('data', (d) => { data += d; });
    s.on('end', () => resolve(data.split('\r\n\r\n').slice(1).join('').trim()));
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', (e) => resolve(`error: ${e.code || e.message}`));
  });
}

(async () => {
  for (let i = 0; i < Number(n); i++)
    console.log(await (mode === 'net' ? viaNet() : viaHttp()));
})();
