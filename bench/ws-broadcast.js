#!/usr/bin/env node
// Baseline for bench/fanout: the broadcast server one would write with Node and the `ws`
// module. Reads lines on stdin and sends each, as one text message, to every open client.
// No filters, no framing cache, no slow-client policy: the plain idiomatic loop.
//
//   NODE_PATH=/usr/share/nodejs node bench/ws-broadcast.js PORT [HOST] < lines.ndjson
//
// Any path is accepted for the upgrade. SIGTERM/SIGINT exit at once.
'use strict';

const readline = require('readline');
const { WebSocket, WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8081);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
	console.error('usage: ws-broadcast.js PORT [HOST] < lines');
	process.exit(2);
}

const wss = new WebSocketServer({ host, port });
wss.on('listening', () => console.error(`ws-broadcast: listening on ws://${host}:${port}/`));
wss.on('error', (err) => {
	console.error(`ws-broadcast: ${err.message}`);
	process.exit(1);
});

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
	for (const c of wss.clients) {
		if (c.readyState === WebSocket.OPEN) c.send(line);
	}
});
// End of input: keep serving the clients that are connected, as a relay would.
rl.on('close', () => console.error('ws-broadcast: end of input'));

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
