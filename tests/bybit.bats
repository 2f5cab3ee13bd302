#!/usr/bin/env bats
# Bybit v5 spot: order books through convert (snapshot, deltas, every fault), the reader
# against bad input, and the wire half of ingest (options, subscribe requests, keep-alive,
# resync) against a small Bybit stand-in written with Node's ws module.

# TS and SEQ advance within one test, which bats runs in its own subshell.
# shellcheck disable=SC2030,SC2031
load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
	TS=1687940967000000
	SEQ=66544703000
}
teardown() { teardown_tmp; }

env_line() { # env_line LOCAL_TS DATA
	printf '{"exchange":"bybit","local_ts":%s,"data":%s}\n' "$1" "$2"
}

# book TYPE U BIDS ASKS [SYMBOL]: an orderbook.50 message 20 ms after the previous one,
# with a cross sequence that grows. Call it directly (not in $(...)) so TS and SEQ advance.
book() {
	local type=$1 u=$2 b=$3 a=$4 s=${5:-BTCUSDT}
	TS=$((TS + 20000))
	SEQ=$((SEQ + 7))
	env_line "$TS" "{\"topic\":\"orderbook.50.$s\",\"ts\":$((TS / 1000 - 3)),\"type\":\"$type\",\"data\":{\"s\":\"$s\",\"b\":$b,\"a\":$a,\"u\":$u,\"seq\":$SEQ},\"cts\":$((TS / 1000 - 5))}"
}

SNAP_B='[["100.0","1"],["99.5","2.000"],["99.0","3"]]'
SNAP_A='[["101.0","1"],["101.5","2"]]'

# Runs convert on $TMP/in with a fake ingest.sock; output in $TMP/out.
convert_with_ingest() {
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/convert.err"
}

# absent PATTERN FILE: no line of FILE matches (a plain "! grep" would not fail a bats test).
absent() { ! grep -q -- "$1" "$2"; }

books() { grep -c '"type":"book"' "$TMP/out" || true; }
resyncs() { grep -c '"event":"resync"' "$TMP/out" || true; }
prom() { metric "$TMP/run/convert.prom" "$1" "${2:-exchange=\"bybit\"}"; }

# Line numbers (in $TMP/out) of the first resync and of every book line.
first_resync_at() { grep -n '"event":"resync"' "$TMP/out" | head -1 | cut -d: -f1; }

@test "book: a snapshot and deltas give the exact book, best first, deletes applied" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["99.5","0"],["100.5","0.250"]]' '[["101.0","0.500"],["102.0","4"]]'
		book delta 102 '[]' '[["101.0","0"]]'
		book delta 103 '[["98.0","0"]]' '[]' # deleting a level that is not there is fine
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"type":"book","exchange":"bybit","symbol":"BTC-USDT","ts":1687940967017000,"local_ts":1687940967020000,"bids":[[100,1],[99.5,2],[99,3]],"asks":[[101,1],[101.5,2]]}' ]
	[ "${lines[1]}" = '{"type":"book","exchange":"bybit","symbol":"BTC-USDT","ts":1687940967037000,"local_ts":1687940967040000,"bids":[[100.5,0.25],[100,1],[99,3]],"asks":[[101,0.5],[101.5,2],[102,4]]}' ]
	[[ "${lines[2]}" == *'"bids":[[100.5,0.25],[100,1],[99,3]],"asks":[[101.5,2],[102,4]]}' ]]
	[[ "${lines[3]}" == *'"bids":[[100.5,0.25],[100,1],[99,3]],"asks":[[101.5,2],[102,4]]}' ]]
}

@test "book: cut to the topic's 50 levels; a level pushed out is gone for good" {
	local b="" a="" i
	for i in $(seq 0 49); do
		b="$b${b:+,}[\"$((1000 - i))\",\"1\"]"
		a="$a${a:+,}[\"$((1001 + i))\",\"1\"]"
	done
	{
		book snapshot 500 "[$b]" "[$a]"
		book delta 501 '[["1000.5","2"]]' '[]'        # 51 bids: 951 leaves the window
		book delta 502 '[["1000.5","0"]]' '[]'        # Bybit does not send 951 back: 49 bids
		book delta 503 '[["950.5","3"]]' '[["1050.5","5"]]' # enters at the bottom; 1050.5 is 51st
	} >"$TMP/in"
	run "$BIN/convert" --book-depth 100 <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "$(jq -s '[.[] | .bids | length] == [50, 50, 49, 50]' <<<"$output")" = true ]
	[ "$(jq -s '[.[] | .asks | length] == [50, 50, 50, 50]' <<<"$output")" = true ]
	[ "$(jq -s '.[1].bids[0] == [1000.5, 2] and .[1].bids[49] == [952, 1]' <<<"$output")" = true ]
	[ "$(jq -s '.[2].bids[48] == [952, 1]' <<<"$output")" = true ]
	[ "$(jq -s '.[3].bids[49] == [950.5, 3] and .[3].asks[49] == [1050, 1]' <<<"$output")" = true ]
}

@test "gap: a skipped update id -> one resync, no book until the next snapshot, then the right book" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["100.5","1"]]' '[]'
		book snapshot 7000 '[["2000","1"]]' '[["2001","1"]]' ETHUSDT
		book delta 103 '[["100.6","1"]]' '[]' # 102 is missing
		book delta 104 '[["100.7","1"]]' '[]'
		book delta 7001 '[["2000","2"]]' '[]' ETHUSDT # the other symbol goes on
		book delta 105 '[["100.8","1"]]' '[]'
		book snapshot 200 '[["100.1","4"],["99.9","5"]]' '[["101.2","6"]]'
		book delta 201 '[["100.1","0"],["100.05","7"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"type":"status","exchange":"bybit","symbol":"BTC-USDT","local_ts":1687940967080000,"event":"resync","detail":"update id gap: 103 after 101"}' "$TMP/out"
	# BTC: two books before the gap, none until the snapshot, two after; ETH: two.
	[ "$(grep -c '"type":"book","exchange":"bybit","symbol":"BTC-USDT"' "$TMP/out")" -eq 4 ]
	[ "$(grep -c '"type":"book","exchange":"bybit","symbol":"ETH-USDT"' "$TMP/out")" -eq 2 ]
	at=$(first_resync_at)
	snap=$(grep -n '"bids":\[\[100.1,4\]' "$TMP/out" | cut -d: -f1)
	[ "$(awk -v a="$at" -v b="$snap" 'NR > a && NR < b && /BTC-USDT/' "$TMP/out" | wc -l)" -eq 0 ]
	tail -1 "$TMP/out" | grep -qF '"bids":[[100.05,7],[99.9,5]],"asks":[[101.2,6]]}'
	absent '100.6\|100.7\|100.8' "$TMP/out"
	wait_until 5 grep -qx 'resync bybit BTC-USDT' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
	[ "$(prom exchange_convert_checksum_failures_total)" = 0 ] # Bybit sends no checksum
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="book"')" = 0 ]
}

@test "gap: an update id that goes back, or repeats, is a gap too" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["100.5","1"]]' '[]'
		book delta 101 '[["100.5","1"]]' '[]'
		book delta 102 '[["100.6","1"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 2 ]
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"detail":"update id gap: 101 after 101"' "$TMP/out"
	wait_until 5 grep -qx 'resync bybit BTC-USDT' "$TMP/ctl.out"
}

@test "gap: a cross sequence (seq) that goes back means a reordered update" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["100.5","1"]]' '[]'
	} >"$TMP/in"
	TS=$((TS + 20000))
	env_line "$TS" '{"topic":"orderbook.50.BTCUSDT","ts":1687940967100,"type":"delta","data":{"s":"BTCUSDT","b":[["100.6","1"]],"a":[],"u":102,"seq":5},"cts":1687940967098}' >>"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 2 ]
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"detail":"cross sequence went back"' "$TMP/out"
}

@test "crossed: one resync, no book until the next snapshot, request and metric" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["101.5","1"]]' '[]' # bid above the best ask
		book delta 102 '[["100.2","1"]]' '[]'
		book snapshot 300 '[["100","1"]]' '[["100.4","2"]]'
		book delta 301 '[["100.2","3"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	sed -n 2p "$TMP/out" | grep -qF '"type":"status","exchange":"bybit","symbol":"BTC-USDT","local_ts":1687940967040000,"event":"resync","detail":"crossed book"}'
	[ "$(books)" -eq 3 ]
	sed -n 3p "$TMP/out" | grep -qF '"bids":[[100,1]],"asks":[[100.4,2]]}'
	tail -1 "$TMP/out" | grep -qF '"bids":[[100.2,3],[100,1]],"asks":[[100.4,2]]}'
	wait_until 5 grep -qx 'resync bybit BTC-USDT' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
}

@test "crossed: a crossed snapshot is never sent either" {
	book snapshot 100 '[["101","1"]]' '[["100","1"]]' >"$TMP/in"
	book delta 101 '[["99","1"]]' '[]' >>"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 0 ]
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"detail":"crossed book"' "$TMP/out"
}

@test "reset: a later snapshot replaces the book, and u = 1 (a restart) does too" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book snapshot 900 '[["50","1"]]' '[["51","1"]]'
		book delta 1 '[["60","2"]]' '[["61","2"]]' # Bybit restarted: a new book from here
		book delta 2 '[["59","1"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 0 ]
	[ "$(books)" -eq 4 ]
	sed -n 2p "$TMP/out" | grep -qF '"bids":[[50,1]],"asks":[[51,1]]}'
	sed -n 3p "$TMP/out" | grep -qF '"bids":[[60,2]],"asks":[[61,2]]}'
	sed -n 4p "$TMP/out" | grep -qF '"bids":[[60,2],[59,1]],"asks":[[61,2]]}'
}

@test "no snapshot yet (convert started mid-stream): one request, silence, then the book" {
	{
		book delta 101 '[["100.5","1"]]' '[]'
		book delta 102 '[["100.6","1"]]' '[]'
		book delta 103 '[["100.7","1"]]' '[]'
		book snapshot 104 "$SNAP_B" "$SNAP_A"
		book delta 105 '[["100.5","1"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	head -1 "$TMP/out" | grep -qF '"event":"resync","detail":"no snapshot for the deltas"}'
	[ "$(books)" -eq 2 ]
	tail -1 "$TMP/out" | grep -qF '"bids":[[100.5,1],[100,1],[99.5,2],[99,3]]'
	wait_until 5 grep -qx 'resync bybit BTC-USDT' "$TMP/ctl.out"
}

@test "a resync that brings no snapshot is asked again after 30 s, not before" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 102 '[]' '[]'
		book delta 103 '[]' '[]'
	} >"$TMP/in"
	TS=$((TS + 29000000))
	book delta 104 '[]' '[]' >>"$TMP/in"
	TS=$((TS + 1000000))
	book delta 105 '[]' '[]' >>"$TMP/in"
	book delta 106 '[]' '[]' >>"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "$(grep -c '"event":"resync"' <<<"$output")" -eq 2 ]
	[ "$(grep -c '"type":"book"' <<<"$output")" -eq 1 ]
	[[ "${lines[2]}" == *'"detail":"no snapshot for the deltas"}' ]]
}

@test "a bad delta is skipped whole, never half-applied; the book is rebuilt after it" {
	{
		book snapshot 100 "$SNAP_B" "$SNAP_A"
		book delta 101 '[["100.5","1"],["oops","2"]]' '[]'
		book delta 102 '[["100.6","1"]]' '[]'
		book snapshot 103 "$SNAP_B" "$SNAP_A"
	} >"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 2 ]
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"detail":"update id gap: 102 after 100"' "$TMP/out"
	absent '100.5' "$TMP/out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="number"')" = 1 ]
}

@test "trades: one line per trade, taker side, unknown when absent; tickers without bid/ask" {
	{
		env_line 1 '{"topic":"publicTrade.SOLUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"SOLUSDT","S":"Sell","v":"12.500","p":"152.30","i":"2290000031245001","BT":false,"seq":1},{"T":1672304486866,"s":"SOLUSDT","v":"1","p":"152.31","i":"2290000031245002","seq":1}]}'
		env_line 2 '{"topic":"publicTrade.SOLUSDT","type":"snapshot","ts":1672304486868,"data":[]}'
		env_line 3 '{"topic":"publicTrade.SOLUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"SOLUSDT","S":"Maybe","v":"1","p":"1","i":"x"}]}'
		env_line 4 '{"topic":"tickers.XRPUSDC","ts":1673853746003,"type":"snapshot","cs":1,"data":{"symbol":"XRPUSDC","lastPrice":"0.5012","highPrice24h":"0.52","lowPrice24h":"0.49","prevPrice24h":"0.5","volume24h":"1000","turnover24h":"501.2"}}'
	} >"$TMP/in"
	run bash -c "'$BIN/convert' < '$TMP/in' 2>/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = '{"type":"trade","exchange":"bybit","symbol":"SOL-USDT","ts":1672304486865000,"local_ts":1,"id":"2290000031245001","price":152.3,"amount":12.5,"side":"sell"}' ]
	[[ "${lines[1]}" == *'"id":"2290000031245002","price":152.31,"amount":1,"side":"unknown"}' ]]
	[ "${lines[2]}" = '{"type":"ticker","exchange":"bybit","symbol":"XRP-USDC","ts":1673853746003000,"local_ts":4,"last":0.5012,"open":0.5,"high":0.52,"low":0.49,"volume":1000,"quote_volume":501.2}' ]
}

@test "bad input: truncated frames, wrong types, huge arrays never crash convert and are counted" {
	cat "$FIXTURES"/golden/bybit_*.in >"$TMP/good"
	# Every line cut at every length.
	while IFS= read -r line; do
		for i in $(seq 1 7 $((${#line} - 1))); do printf '%s\n' "${line:0:$i}"; done
	done <"$TMP/good" >"$TMP/in"
	{
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":"x","a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["1"]],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[[1,2,3]],"a":[[{},[]]],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[],"a":[],"u":"abc"}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[],"a":[],"u":-5}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"sideways","ts":1672304484978,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.x.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.99999999999999999999.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["1e999999","1"]],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["-1","1"]],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["0","1"]],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["1.000000000000000000000000000000001","1"]],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.NOPE","type":"snapshot","ts":1672304484978,"data":{"s":"NOPE","b":[],"a":[],"u":1}}'
		env_line 1 '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":null}'
		env_line 1 '{"topic":"publicTrade.BTCUSDT","data":{"T":1}}'
		env_line 1 '{"topic":"publicTrade.BTCUSDT","data":[1,2]}'
		env_line 1 '{"topic":"publicTrade.BTCUSDT","data":[{"T":"soon","s":"BTCUSDT","S":"Buy","v":"1","p":"1","i":"1"}]}'
		env_line 1 '{"topic":"tickers.BTCUSDT","ts":1672304484978,"data":{"symbol":7}}'
		env_line 1 '{"topic":"tickers.BTCUSDT","ts":1672304484978,"data":{"symbol":"BTCUSDT","lastPrice":true}}'
		env_line 1 '{"topic":"kline.1.BTCUSDT","data":[]}'
		env_line 1 '{"topic":42}'
		env_line 1 '{"op":"subscribe","success":"yes"}'
		env_line 1 '[]'
		env_line 1 '"just a string"'
		# Huge arrays: more book levels than any depth, and ten thousand trades in one frame.
		awk 'BEGIN { printf "{\"exchange\":\"bybit\",\"local_ts\":1,\"data\":{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"snapshot\",\"ts\":1672304484978,\"data\":{\"s\":\"BTCUSDT\",\"a\":[],\"u\":1,\"b\":["
		for (i = 0; i < 5000; i++) printf "%s[\"%d\",\"1\"]", i ? "," : "", 10000 - i
		printf "]}}}\n"
		printf "{\"exchange\":\"bybit\",\"local_ts\":1,\"data\":{\"topic\":\"publicTrade.BTCUSDT\",\"type\":\"snapshot\",\"ts\":1672304484978,\"data\":["
		for (i = 0; i < 10000; i++) printf "%s{\"T\":1672304486865,\"s\":\"BTCUSDT\",\"S\":\"Buy\",\"v\":\"1\",\"p\":\"2\",\"i\":\"%d\"}", i ? "," : "", i
		printf "]}}\n" }'
		cat "$TMP/good"
	} >>"$TMP/in"
	run bash -c "'$BIN/convert' --run-dir '$TMP/run' < '$TMP/in' 2>/dev/null"
	[ "$status" -eq 0 ]
	# The intact copies still convert: every golden output appears at the end, in order.
	cat "$FIXTURES"/golden/bybit_*.out >"$TMP/want"
	printf '%s\n' "${lines[@]}" | tail -n "$(wc -l <"$TMP/want")" | diff - "$TMP/want"
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '"type":"trade"')" -ge 10003 ]
	for r in shape field number symbol; do
		[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total "reason=\"$r\"")" -ge 1 ]
	done
}

# ---- ingest ----

@test "ingest --check: Bybit symbols and options; bad symbols and too many topics exit 2" {
	run "$BIN/ingest" --check -x bybit:BTC-USDT,ETH-USDT,SOL-USDC
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x bybit
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x bybit:BTC-USDT -c book --url bybit=ws://127.0.0.1:9/v5/public/spot
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x bybit:BTCUSDT
	[ "$status" -eq 2 ]
	# 256 symbols fit; 256 long ones exceed Bybit's 21 000 characters of topics.
	syms=$(for i in $(seq 1 256); do printf 'C%d-USDT,' "$i"; done)
	run "$BIN/ingest" --check -x "bybit:${syms%,}"
	[ "$status" -eq 0 ]
	syms=$(for i in $(seq 1 256); do printf 'LONGNAMECOIN%03d-USDT,' "$i"; done)
	run "$BIN/ingest" --check -x "bybit:${syms%,}"
	[ "$status" -eq 2 ]
	[[ "$output" == *"Bybit allows 21000 per connection"* ]]
}

# A Bybit spot stand-in: acks subscribe/unsubscribe (rejecting more than 10 topics as
# Bybit does), answers {"op":"ping"} with the spot pong, sends one trade per subscribed
# trade topic, and logs what it receives to $TMP/bybit.events.
start_fake_bybit() {
	command -v node >/dev/null || { echo "node is missing (make deps)" >&2; return 1; }
	cat >"$TMP/fake-bybit.js" <<'EOF'
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const events = process.argv[2];
const log = (o) => fs.appendFileSync(events, JSON.stringify(o) + '\n');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => console.log('listening ' + wss.address().port));
wss.on('connection', (ws, req) => {
	log({ event: 'connect', path: req.url });
	ws.on('message', (buf) => {
		const text = buf.toString();
		let m;
		try { m = JSON.parse(text); } catch (e) { log({ event: 'bad', text }); return; }
		log({ event: 'message', msg: m });
		if (m.op === 'ping') {
			ws.send('{"success":true,"ret_msg":"pong","conn_id":"c0ffee","op":"ping"}');
		} else if (m.op === 'subscribe' || m.op === 'unsubscribe') {
			const ok = Array.isArray(m.args) && m.args.length <= 10;
			ws.send(JSON.stringify({ success: ok, ret_msg: ok ? (m.op === 'subscribe' ? 'subscribe' : '') : 'args size >10',
				conn_id: 'c0ffee', req_id: m.req_id, op: m.op }));
			if (ok && m.op === 'subscribe')
				for (const t of m.args)
					if (t.startsWith('publicTrade.'))
						ws.send(JSON.stringify({ topic: t, type: 'snapshot', ts: Date.now(), data: [{ T: Date.now(),
							s: t.slice(12), S: 'Buy', v: '0.001', p: '16578.50', i: '1', BT: false, seq: 1 }] }));
		}
	});
});
process.on('SIGTERM', () => process.exit(0));
EOF
	start fake env NODE_PATH=/usr/share/nodejs node "$TMP/fake-bybit.js" "$TMP/bybit.events"
	wait_until 10 grep -q '^listening' "$TMP/fake.out" || return 1
	FAKE_PORT=$(awk '/^listening/ { print $2 }' "$TMP/fake.out")
}

heartbeats_at_least() {
	local v
	v=$(metric "$TMP/run/ingest.prom" exchange_ingest_heartbeats_total 'exchange="bybit"' 2>/dev/null)
	[ -n "$v" ] && [ "$v" != missing ] && [ "$v" -ge "$1" ]
}

# The topics of every subscribe request the stand-in received, one per line.
subscribed_topics() {
	jq -r 'select(.event == "message" and .msg.op == "subscribe") | .msg.args[]' "$TMP/bybit.events"
}

@test "ingest: subscribe requests of at most 10 topics cover every topic once; acks and data forwarded" {
	start_fake_bybit
	syms="BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT,DOGE-USDT,BTC-USDC,ETH-BTC,SOL-USDC"
	start ingest "$BIN/ingest" -x "bybit:$syms" --run-dir "$TMP/run" --url "bybit=ws://127.0.0.1:$FAKE_PORT/v5/public/spot"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"ret_msg":"subscribe"'
	grep -q '"path":"/v5/public/spot"' "$TMP/bybit.events"
	# 8 symbols x 3 channels = 24 topics in 10 + 10 + 4, each once.
	[ "$(jq -c 'select(.event == "message" and .msg.op == "subscribe") | .msg.args | length' "$TMP/bybit.events" | tr '\n' ' ')" = "10 10 4 " ]
	subscribed_topics | sort >"$TMP/got"
	for s in BTCUSDT ETHUSDT SOLUSDT XRPUSDT DOGEUSDT BTCUSDC ETHBTC SOLUSDC; do
		printf 'publicTrade.%s\ntickers.%s\norderbook.50.%s\n' "$s" "$s" "$s"
	done | sort >"$TMP/want"
	diff "$TMP/want" "$TMP/got"
	jq -e -s '[.[] | select(.event == "message" and .msg.op == "subscribe") | .msg.req_id] == ["sub-1","sub-2","sub-3"]' "$TMP/bybit.events"
	# A symbol's topics travel in one request.
	jq -e -s '[.[] | select(.event == "message" and .msg.op == "subscribe")][0].msg.args[0:3] == ["publicTrade.BTCUSDT","tickers.BTCUSDT","orderbook.50.BTCUSDT"]' "$TMP/bybit.events"
	# Acks and trades are forwarded, and convert reads them.
	wait_until 10 at_least 8 "$TMP/ingest.out" '"topic":"publicTrade.'
	absent '"success":false' "$TMP/ingest.out"
	grep '"data":' "$TMP/ingest.out" | "$BIN/convert" >"$TMP/conv"
	[ "$(grep -c '"event":"subscribed"' "$TMP/conv")" -eq 3 ]
	grep -q '"type":"trade","exchange":"bybit","symbol":"DOGE-USDT"' "$TMP/conv"
}

@test "ingest: the JSON ping is sent, its pong is a heartbeat, never forwarded" {
	start_fake_bybit
	start ingest "$BIN/ingest" -x bybit:BTC-USDT -c trade --keepalive 200 --run-dir "$TMP/run" --url "bybit=ws://127.0.0.1:$FAKE_PORT/v5/public/spot"
	wait_until 10 at_least 3 "$TMP/bybit.events" '"op":"ping"'
	jq -e -s '[.[] | select(.event == "message" and .msg.op == "ping")][0].msg == {"op":"ping"}' "$TMP/bybit.events"
	wait_until 10 heartbeats_at_least 3
	absent 'pong' "$TMP/ingest.out"
}

@test "ingest: a resync unsubscribes and subscribes that symbol's book topic only" {
	start_fake_bybit
	start ingest "$BIN/ingest" -x bybit:BTC-USDT,ETH-USDT --run-dir "$TMP/run" --url "bybit=ws://127.0.0.1:$FAKE_PORT/v5/public/spot"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"ret_msg":"subscribe"'
	run bash -c "echo 'resync bybit ETH-USDT' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	wait_until 10 at_least 2 "$TMP/bybit.events" '"op":"subscribe"'
	jq -c 'select(.event == "message" and .msg.op != "ping") | [.msg.op, .msg.args]' "$TMP/bybit.events" >"$TMP/got"
	[ "$(sed -n 2p "$TMP/got")" = '["unsubscribe",["orderbook.50.ETHUSDT"]]' ]
	[ "$(sed -n 3p "$TMP/got")" = '["subscribe",["orderbook.50.ETHUSDT"]]' ]
	wait_until 10 at_least 1 "$TMP/ingest.out" '"op":"unsubscribe"'
	# A symbol this connection does not carry is not subscribed behind the user's back.
	run bash -c "echo 'resync bybit ADA-USDT' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	run bash -c "echo 'resync bybit BTC-USDT' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	# Resyncs are served in order: once BTC's is out, ADA's was dropped.
	wait_until 10 grep -q '"op":"unsubscribe","args":\["orderbook.50.BTCUSDT"\]' "$TMP/bybit.events"
	absent 'ADAUSDT' "$TMP/bybit.events"
	[ "$(grep -c '"event":"connect"' "$TMP/bybit.events")" -eq 1 ]
}
