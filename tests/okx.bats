#!/usr/bin/env bats
# OKX v5: books kept from a snapshot and updates (seqId chain, checksum, crossed), the reader
# on bad input, and ingest's half against a small fake OKX endpoint (Node and its ws module).

load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
}
teardown() { teardown_tmp; }

env_line() { # env_line LOCAL_TS DATA
	printf '{"exchange":"okx","local_ts":%s,"data":%s}\n' "$1" "$2"
}

# A books frame: books ACTION PREV_SEQ SEQ BIDS ASKS [CHECKSUM [INST_ID]]
books() {
	printf '{"arg":{"channel":"books","instId":"%s"},"action":"%s","data":[{"asks":[%s],"bids":[%s],"ts":"1730000000123","checksum":%s,"prevSeqId":%s,"seqId":%s}]}' \
		"${7:-BTC-USDT}" "$1" "$5" "$4" "${6:-0}" "$2" "$3"
}
BIDS='["100.5","1","0","1"],["100.4","2","0","1"],["100.3","3","0","1"]'
ASKS='["100.6","1","0","1"],["100.7","2","0","1"],["100.8","3","0","1"]'
SNAP_BOOK='"bids":[[100.5,1],[100.4,2],[100.3,3]],"asks":[[100.6,1],[100.7,2],[100.8,3]]}'

# Runs convert over $TMP/in with a fake ingest control socket; output in $TMP/out, the
# socket's input in $TMP/ctl.out, metrics in $TMP/run/convert.prom.
convert_with_ctl() {
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
}

books_lines() { grep -c '"type":"book"' "$1" || true; }

@test "books: a snapshot and updates make the expected book; keep-alives write nothing" {
	{
		env_line 1730000000200000 "$(books snapshot -1 1000 "$BIDS" "$ASKS")"
		# Delete the best bid, add one below it, change the best ask, add an ask inside.
		env_line 1730000000300000 "$(books update 1000 1017 '["100.5","0","0","0"],["100.45","4","0","2"]' '["100.6","1.5000","0","3"],["100.65","0.25","0","1"]')"
		# Keep-alive: same seqId, no levels.
		env_line 1730000060300000 "$(books update 1017 1017 '' '')"
		# After maintenance the sequence restarts lower: still chained by prevSeqId.
		env_line 1730000070300000 "$(books update 1017 3 '' '["100.8","0","0","0"]')"
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = '{"type":"book","exchange":"okx","symbol":"BTC-USDT","ts":1730000000123000,"local_ts":1730000000200000,'"$SNAP_BOOK" ]
	[ "${lines[1]}" = '{"type":"book","exchange":"okx","symbol":"BTC-USDT","ts":1730000000123000,"local_ts":1730000000300000,"bids":[[100.45,4],[100.4,2],[100.3,3]],"asks":[[100.6,1.5],[100.65,0.25],[100.7,2],[100.8,3]]}' ]
	[ "${lines[2]}" = '{"type":"book","exchange":"okx","symbol":"BTC-USDT","ts":1730000000123000,"local_ts":1730000070300000,"bids":[[100.45,4],[100.4,2],[100.3,3]],"asks":[[100.6,1.5],[100.65,0.25],[100.7,2]]}' ]
	run "$BIN/convert" --book-depth 2 <"$TMP/in"
	[[ "${lines[2]}" == *'"bids":[[100.45,4],[100.4,2]],"asks":[[100.6,1.5],[100.65,0.25]]}' ]]
}

@test "books: a sequence gap gives one resync, no book until the next snapshot, then a right one" {
	{
		env_line 1730000000200000 "$(books snapshot -1 1000 "$BIDS" "$ASKS")"
		env_line 1730000000300000 "$(books update 1000 1010 '["100.5","2","0","1"]' '')"
		env_line 1730000000400000 "$(books update 1020 1030 '["100.4","0","0","0"]' '')" # 1010..1020 lost
		env_line 1730000000500000 "$(books update 1030 1040 '["100.3","9","0","1"]' '')"
		env_line 1730000000600000 "$(books update 1040 1050 '' '["100.6","0","0","0"]')"
		env_line 1730000000700000 "$(books snapshot -1 2000 '["100.2","5","0","1"]' '["100.9","6","0","1"]')"
		env_line 1730000000800000 "$(books update 2000 2042 '["100.25","1","0","1"]' '')"
	} >"$TMP/in"
	convert_with_ctl
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 1 ]
	grep -qxF '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1730000000400000,"event":"resync","detail":"sequence gap: prevSeqId 1020 after seqId 1010"}' "$TMP/out"
	# Two books before the gap, none until the snapshot, two after it.
	[ "$(books_lines "$TMP/out")" -eq 4 ]
	sed -n 3p "$TMP/out" | grep -q '"event":"resync"'
	sed -n 4p "$TMP/out" | grep -q '"local_ts":1730000000700000,"bids":\[\[100.2,5\]\],"asks":\[\[100.9,6\]\]}'
	sed -n 5p "$TMP/out" | grep -q '"local_ts":1730000000800000,"bids":\[\[100.25,1\],\[100.2,5\]\],"asks":\[\[100.9,6\]\]}'
	wait_until 5 grep -qx 'resync okx BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="okx"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_checksum_failures_total 'exchange="okx"')" = 0 ]
	[ "$(count "$TMP/err" 'line skipped')" -eq 0 ]
}

@test "books: a wrong non-zero checksum (the documented example's) resyncs once and is counted" {
	snap='{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"],["8477.34","85","0","1"],["8477.56","1","0","1"],["8505.84","8","0","1"],["8506.37","85","0","1"],["8506.49","2","0","1"],["8506.96","100","0","2"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"],["8475.54","100","0","1"],["8475.3","1","0","1"],["8447.32","6","0","1"],["8447.02","246","0","1"],["8446.83","24","0","1"],["8446","95","0","3"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
	{
		env_line 1597026383100000 "$snap"
		env_line 1597026383200000 "$(books update 123456 123457 '["8476.97","250","0","11"]' '')"
		# The same levels with the checksum they really have.
		env_line 1597026383300000 "${snap/-855196043/-2102840145}"
		# The worked examples of the documentation: a real checksum on an update.
		env_line 1597026383400000 "$(books snapshot -1 7 '["3366.1","7","0","1"],["3366","6","0","1"]' '["3366.8","9","0","3"],["3368","8","0","2"]' -1881014294 ETH-USDT)"
		env_line 1597026383500000 "$(books update 7 9 '["3366","0","0","0"]' '["3372","8","0","1"]' 831078360 ETH-USDT)"
		env_line 1597026383600000 "$(books update 9 12 '["3366","1","0","1"]' '' 831078360 ETH-USDT)" # wrong now
		env_line 1597026383700000 "$(books update 12 13 '["3366","0","0","0"]' '' 0 ETH-USDT)"
	} >"$TMP/in"
	convert_with_ctl
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 2 ]
	grep -qxF '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1597026383100000,"event":"resync","detail":"checksum mismatch: got -855196043, computed -2102840145"}' "$TMP/out"
	grep -qF '"symbol":"ETH-USDT","local_ts":1597026383600000,"event":"resync","detail":"checksum mismatch: got 831078360, computed ' "$TMP/out"
	# BTC: no book for the bad snapshot nor the update after it, then the good snapshot.
	[ "$(count "$TMP/out" '"symbol":"BTC-USDT","ts"')" -eq 1 ]
	grep -qF '"local_ts":1597026383300000,"bids":[[8476.97,256],' "$TMP/out"
	# ETH: the snapshot and the checked update; nothing after the mismatch.
	grep -qF '"local_ts":1597026383500000,"bids":[[3366.1,7]],"asks":[[3366.8,9],[3368,8],[3372,8]]}' "$TMP/out"
	[ "$(count "$TMP/out" '"symbol":"ETH-USDT","ts"')" -eq 2 ]
	wait_until 5 grep -qx 'resync okx BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_checksum_failures_total 'exchange="okx"')" = 2 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="okx"')" = 2 ]
}

@test "books: a crossed book resyncs once; the next snapshot gives a right book" {
	{
		env_line 1730000000200000 "$(books snapshot -1 1000 "$BIDS" "$ASKS")"
		env_line 1730000000300000 "$(books update 1000 1001 '["100.7","1","0","1"]' '')" # bid above the best ask
		env_line 1730000000400000 "$(books update 1001 1002 '["100.1","1","0","1"]' '')"
		env_line 1730000000500000 "$(books snapshot -1 1100 "$BIDS" "$ASKS")"
	} >"$TMP/in"
	convert_with_ctl
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 1 ]
	grep -qxF '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1730000000300000,"event":"resync","detail":"crossed book"}' "$TMP/out"
	[ "$(books_lines "$TMP/out")" -eq 2 ]
	tail -1 "$TMP/out" | grep -qF '"local_ts":1730000000500000,'"$SNAP_BOOK"
	wait_until 5 grep -qx 'resync okx BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="okx"')" = 1 ]
}

@test "books: updates before any snapshot ask for one once, and again after 60 s without one" {
	{
		env_line 1730000000100000 "$(books update 900 950 '["100.5","2","0","1"]' '')"
		env_line 1730000000200000 "$(books update 950 1000 '["100.5","3","0","1"]' '')"
		env_line 1730000030000000 "$(books update 1000 1010 '["100.5","4","0","1"]' '')"
		env_line 1730000061000000 "$(books update 1010 1020 '["100.5","5","0","1"]' '')"
		env_line 1730000062000000 "$(books update 1020 1030 '["100.5","6","0","1"]' '')"
		env_line 1730000062100000 "$(books snapshot -1 1040 "$BIDS" "$ASKS")"
		env_line 1730000200000000 "$(books update 1040 1041 '' '["100.6","2","0","1"]')"
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1730000000100000,"event":"resync","detail":"update before any snapshot"}' ]
	[ "${lines[1]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1730000061000000,"event":"resync","detail":"no snapshot since the resync request"}' ]
	[[ "${lines[2]}" == *'"local_ts":1730000062100000,'"$SNAP_BOOK" ]]
	[[ "${lines[3]}" == *'"asks":[[100.6,2],[100.7,2],[100.8,3]]}' ]]
}

@test "books: a frame with a bad level is refused whole and the book untouched; the next update resyncs" {
	{
		env_line 1730000000200000 "$(books snapshot -1 1000 "$BIDS" "$ASKS")"
		env_line 1730000000300000 "$(books update 1000 1001 '["100.5","0","0","0"]' '["12abc","1","0","1"]')"
		env_line 1730000000400000 "$(books update 1001 1002 '["100.45","1","0","1"]' '')"
		env_line 1730000000500000 "$(books snapshot -1 1100 "$BIDS" "$ASKS")"
	} >"$TMP/in"
	convert_with_ctl
	[ "$(books_lines "$TMP/out")" -eq 2 ]
	grep -qxF '{"type":"status","exchange":"okx","symbol":"BTC-USDT","local_ts":1730000000400000,"event":"resync","detail":"sequence gap: prevSeqId 1001 after seqId 1000"}' "$TMP/out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="number"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="okx"')" = 1 ]
}

@test "bad input: truncated frames, wrong types and huge arrays never crash convert" {
	{
		# Every golden line cut at every seventh length.
		for f in "$FIXTURES"/golden/okx_*.in; do
			while IFS= read -r line; do
				for ((i = 1; i < ${#line}; i += 7)); do printf '%s\n' "${line:0:i}"; done
			done <"$f"
		done
		env_line 1 '"pong"'
		env_line 1 '[]'
		env_line 1 '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":{}}'
		env_line 1 '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[1,"x",null]}'
		env_line 1 '{"arg":{"channel":"trades","instId":7},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"up","ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":{},"px":[],"sz":true,"side":"buy","ts":"x"}]}'
		env_line 1 '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","last":"1e999999","ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":{},"bids":[],"prevSeqId":-1,"seqId":1}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[[]],"bids":[["1"]],"prevSeqId":-1,"seqId":1}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[[1,2]],"bids":[[0.5,"-2"]],"prevSeqId":-1,"seqId":1}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["1","2"]],"bids":[],"prevSeqId":"x","seqId":1}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"shuffle","data":[]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["1","2"]],"bids":[],"prevSeqId":-1,"seqId":1,"checksum":"abc"}]}'
		env_line 1 '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["123456789012345678901234567890123","1"]],"bids":[],"prevSeqId":-1,"seqId":1}]}'
		env_line 1 '{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["2","1"],["1","1"]],"bids":[],"ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[7],"bids":[],"ts":"1730000000123"}]}'
		env_line 1 '{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[]}'
		env_line 1 '{"event":"login","code":"0"}'
		env_line 1 '{"event":"subscribe"}'
		env_line 1 '{"event":"error"}'
		# A snapshot larger than any book may grow: refused with a resync, not an allocation.
		awk 'BEGIN { printf "{\"exchange\":\"okx\",\"local_ts\":2,\"data\":{\"arg\":{\"channel\":\"books\",\"instId\":\"ETH-USDT\"},\"action\":\"snapshot\",\"data\":[{\"asks\":[],\"bids\":["
		for (i = 1; i <= 5000; i++) printf "%s[\"%d\",\"1\",\"0\",\"1\"]", (i > 1 ? "," : ""), i
		print "],\"ts\":\"1730000000123\",\"prevSeqId\":-1,\"seqId\":5}]}}" }'
		cat "$FIXTURES/golden/okx_trade.in"
	} >"$TMP/in"
	run bash -c "'$BIN/convert' < '$TMP/in' 2>/dev/null"
	[ "$status" -eq 0 ]
	# What converts: a swap's trade without its contract size (left out, said once), the
	# status lines of two odd events, one resync for the oversized book, then the four
	# trades at the end; no prefix of a line.
	[ "${#lines[@]}" -eq 8 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USDT-PERP","local_ts":1,"event":"error","detail":"BTC-USDT-PERP: contract size not known (no instrument metadata yet): amounts left out"}' ]
	[ "${lines[1]}" = '{"type":"status","exchange":"okx","local_ts":1,"event":"subscribed"}' ]
	[[ "$output" == *'"symbol":"ETH-USDT","local_ts":2,"event":"resync","detail":"more levels than a book may hold"}'* ]]
	[ "$(grep -c '"type":"trade"' <<<"$output")" -eq 4 ]
	[ "$(tail -4 <<<"$output")" = "$(cat "$FIXTURES/golden/okx_trade.out")" ]
}

@test "ingest --check: OKX with its default symbols or BASE-QUOTE ones; bad symbols exit 2" {
	run "$BIN/ingest" -x okx --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x okx:BTC-USDT,ETH-USDT,SOL-USDT -c trade,ticker,book --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x okx:BTCUSDT --check
	[ "$status" -eq 2 ]
	[[ "$output" == *BTCUSDT* ]]
}

# A fake OKX public endpoint: answers text ping with text pong, acks every subscribe and
# unsubscribe arg, and for each books subscription sends a snapshot and updates. In "gap"
# mode the first books subscription of an instId loses an update; in "notice" mode the
# first connection gets the maintenance notice. Events go to FILE as JSON lines.
write_fake_okx() {
	cat >"$TMP/fake-okx.js" <<'EOF'
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const [events, mode] = process.argv.slice(2);
const log = (o) => fs.appendFileSync(events, JSON.stringify(o) + '\n');
const lv = (p, q) => [p, q, '0', '1'];
const frame = (instId, action, bids, asks, prev, seq) => JSON.stringify({
	arg: { channel: 'books', instId }, action,
	data: [{ asks, bids, ts: String(Date.now()), checksum: 0, prevSeqId: prev, seqId: seq }],
});
const booksSubs = {};
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/v5/public' });
wss.on('listening', () => console.log('listening ' + wss.address().port));
let conns = 0;
wss.on('connection', (ws) => {
	const conn = ++conns;
	log({ event: 'connect', conn });
	ws.on('close', () => log({ event: 'close', conn }));
	ws.on('message', (data) => {
		const text = data.toString();
		log({ event: 'message', conn, text });
		if (text === 'ping') return ws.send('pong');
		let req;
		try { req = JSON.parse(text); } catch (e) { return ws.send('{"event":"error","code":"60012","msg":"Invalid request"}'); }
		for (const arg of req.args || []) {
			ws.send(JSON.stringify({ event: req.op, arg, connId: 'c' + conn }));
			if (req.op !== 'subscribe') continue;
			if (arg.channel === 'trades')
				ws.send(JSON.stringify({ arg, data: [{ instId: arg.instId, tradeId: '77', px: '100.5', sz: '0.25', side: 'sell', ts: String(Date.now()), count: '1', source: '0', seqId: 1 }] }));
			if (arg.channel !== 'books') continue;
			const n = booksSubs[arg.instId] = (booksSubs[arg.instId] || 0) + 1;
			if (mode === 'gap' && n === 1) {
				ws.send(frame(arg.instId, 'snapshot', [lv('100.5', '1')], [lv('100.6', '1')], -1, 1000));
				ws.send(frame(arg.instId, 'update', [lv('100.4', '2')], [], 1000, 1010));
				ws.send(frame(arg.instId, 'update', [lv('100.3', '3')], [], 1020, 1030));
			} else {
				ws.send(frame(arg.instId, 'snapshot', [lv('99.5', '1')], [lv('99.6', '1')], -1, 5000));
				ws.send(frame(arg.instId, 'update', [lv('99.4', '2')], [], 5000, 5007));
			}
		}
		if (mode === 'notice' && conn === 1 && req.op === 'subscribe')
			setTimeout(() => ws.send('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"c1"}'), 300);
	});
});
EOF
}

heartbeats_ge() {
	local v
	v=$(metric "$TMP/run/ingest.prom" exchange_ingest_heartbeats_total 'exchange="okx"' 2>/dev/null)
	[ -n "$v" ] && [ "$v" != missing ] && [ "$v" -ge "$1" ]
}

# start_fake_okx MODE: sets $OKX_URL.
start_fake_okx() {
	write_fake_okx
	NODE_PATH=/usr/share/nodejs start fake node "$TMP/fake-okx.js" "$TMP/fake.events" "${1:-plain}"
	wait_until 10 grep -q '^listening' "$TMP/fake.out"
	OKX_URL="ws://127.0.0.1:$(awk '/^listening/ { print $2 }' "$TMP/fake.out")/ws/v5/public"
}

@test "ingest: one subscribe request for every channel and symbol; text ping, pong not forwarded" {
	start_fake_okx plain
	start ingest "$BIN/ingest" -x okx:BTC-USDT,ETH-USDT -c trade,ticker,book --keepalive 200 \
		--run-dir "$TMP/run" --url "okx=$OKX_URL"
	wait_until 10 grep -q '"text":"{' "$TMP/fake.events"
	msg=$(grep '"text":"{' "$TMP/fake.events" | head -1 | jq -r .text)
	echo "$msg" | jq -e '. == {"op":"subscribe","args":[
		{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},{"channel":"books","instId":"BTC-USDT"},
		{"channel":"trades","instId":"ETH-USDT"},{"channel":"tickers","instId":"ETH-USDT"},{"channel":"books","instId":"ETH-USDT"}]}'
	# Acks and data are forwarded unchanged; the answers to our pings are not.
	wait_until 10 at_least 6 "$TMP/ingest.out" '"data":{"event":"subscribe"'
	wait_until 10 at_least 2 "$TMP/ingest.out" '"action":"update"'
	wait_until 10 at_least 2 "$TMP/ingest.out" '"tradeId":"77"'
	wait_until 10 at_least 3 "$TMP/fake.events" '"text":"ping"'
	wait_until 10 heartbeats_ge 2
	[ "$(count "$TMP/ingest.out" pong)" -eq 0 ]
	grep -qF '"data":{"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[{"instId":"ETH-USDT","tradeId":"77"' "$TMP/ingest.out"
	[ "$(count "$TMP/ingest.err" 'not JSON')" -eq 0 ]
	# Through convert: acks, trades and books.
	"$BIN/convert" <"$TMP/ingest.out" >"$TMP/conv" 2>"$TMP/conv.err"
	[ "$(count "$TMP/conv" '"event":"subscribed"')" -eq 6 ]
	grep -q '"type":"trade","exchange":"okx","symbol":"BTC-USDT","ts":[0-9]*,"local_ts":[0-9]*,"id":"77","price":100.5,"amount":0.25,"side":"sell"}' "$TMP/conv"
	[ "$(count "$TMP/conv" '"bids":[[99.5,1],[99.4,2]],"asks":[[99.6,1]]}')" -eq 2 ]
}

@test "ingest: the maintenance notice makes ingest reconnect at once and subscribe again" {
	start_fake_okx notice
	start ingest "$BIN/ingest" -x okx:BTC-USDT -c trade,book --url "okx=$OKX_URL"
	wait_until 10 grep -q '"event":"connect","conn":2' "$TMP/fake.events"
	wait_until 10 grep -q '"conn":2,"text":"{\\"op\\":\\"subscribe\\"' "$TMP/fake.events"
	grep -q '"event":"close","conn":1' "$TMP/fake.events"
	grep -q '"event":"disconnected","detail":"server shutdown announced"' "$TMP/ingest.out"
	wait_until 5 at_least 2 "$TMP/ingest.out" '"event":"connected"'
	[ "$(count "$TMP/ingest.out" 64008)" -eq 0 ]
}

@test "ingest | convert: a gap is resynced end to end with unsubscribe and subscribe of books" {
	start_fake_okx gap
	mkfifo "$TMP/feed"
	exec 7<>"$TMP/feed"
	start_in conv "$TMP/feed" "$BIN/convert" --run-dir "$TMP/run"
	"$BIN/ingest" -x okx:BTC-USDT,ETH-USDT -c book --run-dir "$TMP/run" --url "okx=$OKX_URL" \
		>"$TMP/feed" 2>"$TMP/ingest.err" 3>&- &
	echo "$! ingest" >>"$PIDS_FILE"
	exec 7<&-
	# Both books lose an update: each gets one resync, an unsubscribe, a subscribe, and then
	# the new snapshot's book.
	wait_until 15 at_least 2 "$TMP/conv.out" '"bids":[[99.5,1],[99.4,2]],"asks":[[99.6,1]]}'
	for s in BTC-USDT ETH-USDT; do
		grep -q "\"symbol\":\"$s\",\"local_ts\":[0-9]*,\"event\":\"resync\",\"detail\":\"sequence gap: prevSeqId 1020 after seqId 1010\"" "$TMP/conv.out"
		[ "$(grep -c "\"symbol\":\"$s\",\"local_ts\":[0-9]*,\"event\":\"resync\"" "$TMP/conv.out")" -eq 1 ]
		# Two books before the gap, two from the new snapshot.
		[ "$(count "$TMP/conv.out" "\"type\":\"book\",\"exchange\":\"okx\",\"symbol\":\"$s\"")" -eq 4 ]
	done
	# One connection: the subscription, then per book an unsubscribe and a subscribe.
	wait_until 5 at_least 5 "$TMP/fake.events" '"text":"{'
	ops=$(grep '"text":"{' "$TMP/fake.events" | jq -r '"\(.conn) \(.text | fromjson | .op) \(.text | fromjson | .args | map(.channel + ":" + .instId) | join(","))"')
	[ "$ops" = "1 subscribe books:BTC-USDT,books:ETH-USDT
1 unsubscribe books:BTC-USDT
1 subscribe books:BTC-USDT
1 unsubscribe books:ETH-USDT
1 subscribe books:ETH-USDT" ]
}

@test "fakex replays the recording: ingest | convert keeps every book without a resync" {
	start_fakex fx okx --recording "$FIXTURES/recordings/okx.ndjson" --rate 0
	start ingest "$BIN/ingest" -x okx:BTC-USDT,ETH-USDT -c trade,book --url "okx=ws://127.0.0.1:$FX_PORT/ws/v5/public"
	want=$(grep -cE '"channel":"(trades|books)","instId":"(BTC|ETH)-USDT"' "$FIXTURES/recordings/okx.ndjson")
	wait_until 20 at_least "$want" "$TMP/ingest.out" '"data":{"arg"'
	"$BIN/convert" <"$TMP/ingest.out" >"$TMP/conv" 2>"$TMP/conv.err"
	[ "$(count "$TMP/conv" '"event":"resync"')" -eq 0 ]
	[ "$(count "$TMP/conv.err" 'line skipped')" -eq 0 ]
	books=$(grep -cE '"channel":"books","instId":"(BTC|ETH)-USDT"' "$FIXTURES/recordings/okx.ndjson")
	[ "$(count "$TMP/conv" '"type":"book"')" -eq "$books" ]
}
