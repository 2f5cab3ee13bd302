#!/usr/bin/env bats
# Coinbase Advanced Trade: books kept from level2 snapshots and updates through bin/convert
# (sequence, gaps, crossed books, reconnects), bad input, the recording and the generator,
# and ingest's half against a small WebSocket server playing Coinbase.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

T0=1732233601000000 # local_ts of the first line of each scenario

# cb SEQ DATA: an envelope line whose local_ts grows with SEQ.
cb() {
	printf '{"exchange":"coinbase","local_ts":%s,"data":%s}\n' "$((T0 + $1 * 1000))" "$2"
}

# l2 SEQ snapshot|update PRODUCT SIDE:PRICE:QTY...: one l2_data frame.
l2() {
	local seq=$1 type=$2 product=$3 ups="" lv side px qty et
	shift 3
	et="2024-11-22T00:00:01.000001Z"
	[ "$type" = snapshot ] && et="1970-01-01T00:00:00Z"
	for lv in "$@"; do
		IFS=: read -r side px qty <<<"$lv"
		ups+="${ups:+,}{\"side\":\"$side\",\"event_time\":\"$et\",\"price_level\":\"$px\",\"new_quantity\":\"$qty\"}"
	done
	cb "$seq" "{\"channel\":\"l2_data\",\"client_id\":\"\",\"timestamp\":\"2024-11-22T00:00:01.000002345Z\",\"sequence_num\":$seq,\"events\":[{\"type\":\"$type\",\"product_id\":\"$product\",\"updates\":[$ups]}]}"
}

hb() {
	cb "$1" "{\"channel\":\"heartbeats\",\"client_id\":\"\",\"timestamp\":\"2024-11-22T00:00:01.000002345Z\",\"sequence_num\":$1,\"events\":[{\"current_time\":\"2024-11-22 00:00:01.000001 +0000 UTC m=+1.000000001\",\"heartbeat_counter\":$1}]}"
}

SNAP=(bid:100.5:1 bid:100.4:2 bid:100:3 offer:101:1 offer:101.5:2 offer:102:3)
SNAP_BOOK='"bids":[[100.5,1],[100.4,2],[100,3]],"asks":[[101,1],[101.5,2],[102,3]]}'

books() { grep -c '"type":"book"' "$1" || true; }
resyncs() { grep -c '"event":"resync"' "$1" || true; }

# convert_run FILE [OPTIONS...]: converts FILE with a run dir whose ingest.sock is a fake
# ingest (nc) that records what convert asks; output in $TMP/out, log in $TMP/err.
convert_run() {
	local input=$1
	shift
	mkdir -p "$TMP/run"
	start ctl nc -lkU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" "$@" <"$input" >"$TMP/out" 2>"$TMP/err"
}

prom() { metric "$TMP/run/convert.prom" "$1" "${2:-exchange=\"coinbase\"}"; }

@test "coinbase book: a snapshot then updates give exactly the expected book" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		# modify, delete, new best bid, new ask, delete a level that is not there
		l2 2 update BTC-USD bid:100.5:0.5 offer:101:0 bid:100.7:4 offer:101.2:0.25 bid:99:0
		hb 3
		l2 4 update BTC-USD offer:102:0.00000000 offer:103.00000000:1.50000000
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "{\"type\":\"book\",\"exchange\":\"coinbase\",\"symbol\":\"BTC-USD\",\"ts\":1732233601000002,\"local_ts\":1732233601001000,$SNAP_BOOK" ]
	[ "${lines[1]}" = '{"type":"book","exchange":"coinbase","symbol":"BTC-USD","ts":1732233601000001,"local_ts":1732233601002000,"bids":[[100.7,4],[100.5,0.5],[100.4,2],[100,3]],"asks":[[101.2,0.25],[101.5,2],[102,3]]}' ]
	[ "${lines[2]}" = '{"type":"book","exchange":"coinbase","symbol":"BTC-USD","ts":1732233601000001,"local_ts":1732233601004000,"bids":[[100.7,4],[100.5,0.5],[100.4,2],[100,3]],"asks":[[101.2,0.25],[101.5,2],[103,1.5]]}' ]
	# --book-depth cuts the kept book, not the book itself
	run "$BIN/convert" --book-depth 2 <"$TMP/in"
	[[ "${lines[2]}" == *'"bids":[[100.7,4],[100.5,0.5]],"asks":[[101.2,0.25],[101.5,2]]}' ]]
}

@test "coinbase book: snapshot levels in any order build the same book; a new snapshot replaces the book" {
	{
		l2 1 snapshot BTC-USD offer:102:3 bid:100:3 offer:101:1 bid:100.5:1 offer:101.5:2 bid:100.4:2
		l2 2 update BTC-USD bid:100.6:1
		l2 3 snapshot BTC-USD bid:90:1 offer:91:2
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"$SNAP_BOOK" ]]
	[[ "${lines[1]}" == *'"bids":[[100.6,1],[100.5,1],[100.4,2],[100,3]],'* ]]
	[[ "${lines[2]}" == *'"bids":[[90,1]],"asks":[[91,2]]}' ]]
}

@test "coinbase sequence gap: one resync line, request to ingest, no book until the next snapshot" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		l2 2 update BTC-USD bid:100.5:2
		hb 3
		# 4 is lost (a heartbeat or an update of any product: the counter is per connection)
		l2 5 update BTC-USD bid:100.5:3
		hb 6
		l2 7 update BTC-USD offer:101:5
		l2 8 snapshot BTC-USD "${SNAP[@]}"
		l2 9 update BTC-USD bid:100.5:7
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 1 ]
	grep -qF '{"type":"status","exchange":"coinbase","symbol":"BTC-USD","local_ts":1732233601005000,"event":"resync","detail":"sequence gap 3 -> 5"}' "$TMP/out"
	# Books: the snapshot, the first update; then nothing until the new snapshot, and after it.
	[ "$(books "$TMP/out")" -eq 4 ]
	sed -n 3p "$TMP/out" | grep -q '"event":"resync"'
	sed -n 4p "$TMP/out" | grep -qF "\"local_ts\":1732233601008000,$SNAP_BOOK"
	sed -n 5p "$TMP/out" | grep -qF '"bids":[[100.5,7],[100.4,2],[100,3]],"asks":[[101,1],[101.5,2],[102,3]]}'
	wait_until 5 grep -qx 'resync coinbase BTC-USD' "$TMP/ctl.out"
	[ "$(grep -c . "$TMP/ctl.out")" -eq 1 ]
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
	# Coinbase sends no checksum: nothing counts as a checksum failure, nothing as an error.
	[ "$(prom exchange_convert_checksum_failures_total)" = 0 ]
	[ "$(count "$TMP/err" 'line skipped')" -eq 0 ]
}

@test "coinbase sequence gap: every book resyncs once, whichever product the lost frame was for" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		l2 2 snapshot ETH-USD bid:3400:1 offer:3401:1
		l2 4 update ETH-USD bid:3400:2
		l2 5 update BTC-USD bid:100.5:2
		hb 6
		l2 7 snapshot ETH-USD bid:3400:9 offer:3401:1
		l2 8 update ETH-USD bid:3399:1
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 2 ]
	grep -qF '"symbol":"BTC-USD","local_ts":1732233601004000,"event":"resync","detail":"sequence gap 2 -> 4"}' "$TMP/out"
	grep -qF '"symbol":"ETH-USD","local_ts":1732233601004000,"event":"resync","detail":"sequence gap 2 -> 4"}' "$TMP/out"
	# ETH-USD comes back with its snapshot; BTC-USD stays dark until its own.
	[ "$(grep -c '"type":"book","exchange":"coinbase","symbol":"BTC-USD"' "$TMP/out")" -eq 1 ]
	tail -1 "$TMP/out" | grep -qF '"symbol":"ETH-USD"'
	tail -1 "$TMP/out" | grep -qF '"bids":[[3400,9],[3399,1]],"asks":[[3401,1]]}'
	wait_until 5 grep -qx 'resync coinbase BTC-USD' "$TMP/ctl.out"
	wait_until 5 grep -qx 'resync coinbase ETH-USD' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 2 ]
}

@test "coinbase crossed book: one resync line, no book until the next snapshot" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		l2 2 update BTC-USD bid:101:1
		l2 3 update BTC-USD bid:100.5:2
		hb 4
		l2 5 snapshot BTC-USD "${SNAP[@]}"
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 1 ]
	grep -qF '{"type":"status","exchange":"coinbase","symbol":"BTC-USD","local_ts":1732233601002000,"event":"resync","detail":"crossed book"}' "$TMP/out"
	[ "$(books "$TMP/out")" -eq 2 ]
	[ "$(count "$TMP/out" '"bids":[[101,')" -eq 0 ]
	tail -1 "$TMP/out" | grep -qF "\"local_ts\":1732233601005000,$SNAP_BOOK"
	wait_until 5 grep -qx 'resync coinbase BTC-USD' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
	[ "$(prom exchange_convert_checksum_failures_total)" = 0 ]
}

@test "coinbase new connection (sequence starts over): books wait silently for their snapshot" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		l2 2 update BTC-USD bid:100.5:2
		hb 0
		cb 1 '{"channel":"subscriptions","timestamp":"2024-11-22T00:00:01.000002345Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}'
		l2 2 snapshot BTC-USD bid:100.1:1 offer:100.2:1
		l2 3 update BTC-USD bid:100.1:5
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 0 ]
	[ "$(books "$TMP/out")" -eq 4 ]
	tail -1 "$TMP/out" | grep -qF '"bids":[[100.1,5]],"asks":[[100.2,1]]}'
	[ "$(prom exchange_convert_book_resyncs_total)" = 0 ]
}

@test "coinbase updates without a snapshot (convert started mid-stream) ask once, then wait" {
	{
		l2 41 update BTC-USD bid:100.5:2
		l2 42 update BTC-USD bid:100.5:3
		hb 43
		l2 44 update BTC-USD bid:100.5:4
		l2 45 snapshot BTC-USD "${SNAP[@]}"
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 1 ]
	head -1 "$TMP/out" | grep -qF '"symbol":"BTC-USD","local_ts":1732233601041000,"event":"resync","detail":"update without snapshot"}'
	[ "$(books "$TMP/out")" -eq 1 ]
	tail -1 "$TMP/out" | grep -qF "$SNAP_BOOK"
	wait_until 5 grep -qx 'resync coinbase BTC-USD' "$TMP/ctl.out"
}

@test "coinbase: an unreadable update counts as lost (the next frame resyncs); a bad ticker does not" {
	{
		l2 1 snapshot BTC-USD "${SNAP[@]}"
		cb 2 '{"channel":"ticker","timestamp":"2024-11-22T00:00:01.000002345Z","sequence_num":2,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"1e99999"}]}]}'
		l2 3 update BTC-USD bid:100.5:2
		l2 4 update BTC-USD bid:100.5:12abc
		hb 5
		l2 6 update BTC-USD bid:100.5:4
	} >"$TMP/in"
	convert_run "$TMP/in"
	[ "$(resyncs "$TMP/out")" -eq 1 ]
	grep -qF '"event":"resync","detail":"sequence gap 3 -> 5"}' "$TMP/out"
	[ "$(books "$TMP/out")" -eq 2 ]
	[ "$(prom exchange_convert_errors_total 'reason="number"')" = 2 ]
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
}

@test "coinbase trades: taker side is the opposite of the reported maker side; replayed snapshot trades are dropped" {
	{
		cb 1 '{"channel":"market_trades","timestamp":"2024-11-22T00:00:01.250123456Z","sequence_num":1,"events":[{"type":"snapshot","trades":[{"trade_id":"11","product_id":"BTC-USD","price":"98765.40","size":"0.02","side":"BUY","time":"2024-11-22T00:00:01.198Z"}]}]}'
		cb 2 '{"channel":"market_trades","timestamp":"2024-11-22T00:00:01.250123456Z","sequence_num":2,"events":[{"type":"update","trades":[{"trade_id":"12","product_id":"BTC-USD","price":"98765.5","size":"1","side":"SELL","time":"2024-11-22T00:00:01.201543Z"}]}]}'
		cb 1 '{"channel":"market_trades","timestamp":"2024-11-22T00:00:02.250123456Z","sequence_num":1,"events":[{"type":"snapshot","trades":[{"trade_id":"13","product_id":"BTC-USD","price":"98766","size":"2","side":"SELL","time":"2024-11-22T00:00:02.1Z"},{"trade_id":"12","product_id":"BTC-USD","price":"98765.5","size":"1","side":"SELL","time":"2024-11-22T00:00:01.201543Z"}]}]}'
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == *'"id":"11","price":98765.4,"amount":0.02,"side":"sell"}' ]]
	[[ "${lines[1]}" == *'"ts":1732233601201543,'*'"id":"12","price":98765.5,"amount":1,"side":"buy"}' ]]
	[[ "${lines[2]}" == *'"id":"13","price":98766,"amount":2,"side":"buy"}' ]]
}

@test "coinbase bad input never crashes convert: truncated frames, wrong types, huge arrays" {
	cat "$FIXTURES"/golden/coinbase_*.in >"$TMP/good"
	head -60 "$FIXTURES/recordings/coinbase.ndjson" | cut -c1-3000 | grep '}}}$' >>"$TMP/good" || true
	{
		# every prefix of a few frames
		for l in 3 6 11; do
			line=$(sed -n "${l}p" "$FIXTURES/golden/coinbase_book.in")
			for ((i = 1; i < ${#line}; i += 3)); do printf '%s\n' "${line:0:$i}"; done
		done
		# every value of one type replaced by another
		for f in 'if type == "string" then 1 else . end' 'if type == "string" then null else . end' \
			'if type == "number" then "x" else . end' 'if type == "array" then {} else . end' \
			'if type == "object" then [] else . end' 'if type == "array" then [.[], .[]] else . end' \
			'if type == "string" then "" else . end' 'if type == "string" then "-1" else . end'; do
			jq -c ".data |= walk($f)" "$TMP/good"
		done
		# huge arrays: a million nulls, 120000 bids in one snapshot, 200000 trades
		printf '{"exchange":"coinbase","local_ts":1,"data":{"channel":"l2_data","timestamp":"2024-11-22T00:00:01Z","sequence_num":100,"events":[{"type":"update","product_id":"BTC-USD","updates":['
		yes null | head -1000000 | paste -sd, | tr -d '\n'
		printf ']}]}}\n'
		awk 'BEGIN { printf "{\"exchange\":\"coinbase\",\"local_ts\":2,\"data\":{\"channel\":\"market_trades\",\"events\":[{\"type\":\"update\",\"trades\":["
			for (i = 0; i < 200000; i++) printf "%s{\"trade_id\":\"%d\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\",\"side\":\"BUY\"}", i ? "," : "", i
			print "]}]}}" }'
	} >"$TMP/bad"
	run bash -c "'$BIN/convert' --max-line 67108864 < '$TMP/bad' > '$TMP/out' 2>'$TMP/err'"
	[ "$status" -eq 0 ]
	# whatever was converted is still well-formed lines
	jq -e . "$TMP/out" >/dev/null
}

@test "coinbase: a snapshot deeper than the kept depth keeps the best levels and still updates" {
	awk 'BEGIN {
		printf "{\"exchange\":\"coinbase\",\"local_ts\":1732233601001000,\"data\":{\"channel\":\"l2_data\",\"timestamp\":\"2024-11-22T00:00:01Z\",\"sequence_num\":1,\"events\":[{\"type\":\"snapshot\",\"product_id\":\"BTC-USD\",\"updates\":["
		for (i = 0; i < 120000; i++) printf "%s{\"side\":\"bid\",\"event_time\":\"1970-01-01T00:00:00Z\",\"price_level\":\"%d.5\",\"new_quantity\":\"1\"}", i ? "," : "", 200000 - i
		print ",{\"side\":\"offer\",\"event_time\":\"1970-01-01T00:00:00Z\",\"price_level\":\"200001\",\"new_quantity\":\"2\"}]}]}}"
	}' >"$TMP/in"
	l2 2 update BTC-USD bid:200000.5:0 >>"$TMP/in"
	run "$BIN/convert" --max-line 67108864 --book-depth 2 <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *'"bids":[[200000.5,1],[199999.5,1]],"asks":[[200001,2]]}' ]]
	[[ "${lines[1]}" == *'"bids":[[199999.5,1],[199998.5,1]],"asks":[[200001,2]]}' ]]
}

@test "coinbase recording and generator: continuous sequences, no resync, nothing skipped" {
	rec=$FIXTURES/recordings/coinbase.ndjson
	[ "$(wc -l <"$rec")" -ge 2000 ]
	"$ROOT/bench/gen-coinbase" 20000 >"$TMP/gen"
	[ "$(wc -l <"$TMP/gen")" -eq 20000 ]
	for f in "$rec" "$TMP/gen"; do
		jq -e -s '[.[].data.sequence_num] | . == [range(0; length)]' "$f" >/dev/null
		"$BIN/convert" <"$f" >"$TMP/out" 2>"$TMP/err"
		[ "$(resyncs "$TMP/out")" -eq 0 ]
		[ "$(count "$TMP/err" 'line skipped')" -eq 0 ]
		for t in trade ticker book; do
			[ "$(grep -c "\"type\":\"$t\"" "$TMP/out")" -gt 100 ]
		done
		jq -e -s '[.[] | select(.type == "book")] | all(.bids[0][0] < .asks[0][0] and (.bids | length) == 20)' "$TMP/out" >/dev/null
	done
	jq -e -s '[.[] | select(.type == "book") | .symbol] | unique == ["BTC-USD", "ETH-USD", "SOL-USD"]' "$TMP/out" >/dev/null
}

@test "coinbase ingest --check: BASE-QUOTE symbols and channels accepted, bad ones refused" {
	run "$BIN/ingest" --check -x coinbase:BTC-USD,ETH-USDT,SOL-USDC -c trade,ticker,book
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x coinbase
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x coinbase:BTCUSD
	[ "$status" -eq 2 ]
	run "$BIN/ingest" --check -x coinbase:BTC-USD --url coinbase=http://example.com
	[ "$status" -eq 2 ]
}

# A WebSocket server playing Coinbase closely enough for ingest: it logs every message it
# receives (with the time in ms), acks subscriptions, and sends a heartbeat every 100 ms.
cb_server() {
	cat >"$TMP/server.js" <<'EOF'
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const [port, log] = [Number(process.argv[2]), process.argv[3]];
const wss = new WebSocketServer({ host: '127.0.0.1', port });
wss.on('listening', () => console.log('listening'));
wss.on('connection', (ws) => {
	let seq = 0;
	const subs = {};
	const send = (channel, events) => ws.send(JSON.stringify({ channel, client_id: '',
		timestamp: new Date().toISOString(), sequence_num: seq++, events }));
	const beat = setInterval(() => subs.heartbeats && send('heartbeats',
		[{ current_time: new Date().toISOString(), heartbeat_counter: seq }]), 100);
	ws.on('close', () => clearInterval(beat));
	ws.on('message', (m) => {
		fs.appendFileSync(log, `${Date.now()} ${m}\n`);
		const r = JSON.parse(m);
		const ids = r.product_ids || [r.channel];
		const cur = new Set(subs[r.channel] || []);
		ids.forEach((p) => (r.type === 'subscribe' ? cur.add(p) : cur.delete(p)));
		if (cur.size) subs[r.channel] = [...cur]; else delete subs[r.channel];
		send('subscriptions', [{ subscriptions: subs }]);
	});
});
EOF
	PORT=$(free_port)
	start server env NODE_PATH=/usr/share/nodejs node "$TMP/server.js" "$PORT" "$TMP/received"
	wait_until 10 grep -q listening "$TMP/server.out"
}

@test "coinbase ingest: one paced subscribe per channel, heartbeats forwarded, resync = unsubscribe + subscribe level2" {
	cb_server
	mkdir -p "$TMP/run"
	start ingest "$BIN/ingest" -x coinbase:BTC-USD,ETH-USD --run-dir "$TMP/run" --url "coinbase=ws://127.0.0.1:$PORT"
	wait_until 10 bash -c "[ \$(grep -c . '$TMP/received' 2>/dev/null) -ge 4 ]"
	cut -d' ' -f2- "$TMP/received" >"$TMP/msgs"
	[ "$(sed -n 1p "$TMP/msgs")" = '{"type":"subscribe","channel":"heartbeats"}' ]
	[ "$(sed -n 2p "$TMP/msgs")" = '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}' ]
	[ "$(sed -n 3p "$TMP/msgs")" = '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"market_trades"}' ]
	[ "$(sed -n 4p "$TMP/msgs")" = '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"ticker"}' ]
	# The first goes at once; the others respect the message rate limit (8/s per IP).
	awk 'NR > 1 && $1 - prev < 150 { bad = 1 } { prev = $1 } END { exit bad }' "$TMP/received"
	# Heartbeats and acks reach the output as data (convert needs their sequence numbers).
	wait_until 10 at_least 5 "$TMP/ingest.out" '"channel":"heartbeats"'
	grep -q '"channel":"subscriptions"' "$TMP/ingest.out"
	run bash -c "echo 'resync coinbase BTC-USD' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	wait_until 10 bash -c "[ \$(grep -c . '$TMP/received') -ge 6 ]"
	cut -d' ' -f2- "$TMP/received" >"$TMP/msgs"
	[ "$(sed -n 5p "$TMP/msgs")" = '{"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}' ]
	[ "$(sed -n 6p "$TMP/msgs")" = '{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}' ]
	# What ingest wrote converts cleanly: acks become status lines, heartbeats nothing.
	grep '"data":' "$TMP/ingest.out" | "$BIN/convert" >"$TMP/conv" 2>"$TMP/conv.err"
	[ "$(count "$TMP/conv.err" 'line skipped')" -eq 0 ]
	grep -q '"event":"subscribed","detail":"heartbeats: heartbeats; level2: BTC-USD,ETH-USD' "$TMP/conv"
	[ "$(resyncs "$TMP/conv")" -eq 0 ]
}

@test "coinbase ingest: -c book subscribes heartbeats and level2 only" {
	cb_server
	start ingest "$BIN/ingest" -x coinbase:SOL-USD -c book --url "coinbase=ws://127.0.0.1:$PORT"
	wait_until 10 bash -c "[ \$(grep -c . '$TMP/received' 2>/dev/null) -ge 2 ]"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"channel":"heartbeats"'
	[ "$(grep -c . "$TMP/received")" -eq 2 ]
	cut -d' ' -f2- "$TMP/received" | tail -1 | grep -qx '{"type":"subscribe","product_ids":\["SOL-USD"\],"channel":"level2"}'
}
