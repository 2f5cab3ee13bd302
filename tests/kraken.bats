#!/usr/bin/env bats
# Kraken v2: order books through convert (snapshot, updates, depth, checksum and the
# precisions it needs, every fault), trades and the reader against bad input, the bundled
# recording and bench/gen-kraken, and the wire half of ingest (options, subscribe requests,
# keep-alive, resync) against a small Kraken stand-in written with Node's ws module.

load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
	LTS=1696613755441000
}
teardown() { teardown_tmp; }

env_line() { # env_line LOCAL_TS DATA
	printf '{"exchange":"kraken","local_ts":%s,"data":%s}\n' "$1" "$2"
}

# next DATA: an envelope line 10 ms after the previous one. Call it directly (not in
# $(...)) so that LTS advances.
next() {
	LTS=$((LTS + 10000))
	env_line "$LTS" "$1"
}

# book TYPE BIDS ASKS CHECKSUM [PAIR]: a book message; every one carries the same event time.
book() {
	next "{\"channel\":\"book\",\"type\":\"$1\",\"data\":[{\"symbol\":\"${5:-BTC/USD}\",\"bids\":$2,\"asks\":$3,\"checksum\":$4,\"timestamp\":\"2023-10-06T17:35:55.440295Z\"}]}"
}

# instrument PAIR PRICE_PRECISION: the instrument channel's list, with one pair.
instrument() {
	next "{\"channel\":\"instrument\",\"type\":\"snapshot\",\"data\":{\"assets\":[],\"pairs\":[{\"symbol\":\"$1\",\"base\":\"BTC\",\"quote\":\"USD\",\"status\":\"online\",\"qty_precision\":8,\"qty_increment\":1e-08,\"price_precision\":$2,\"cost_precision\":5,\"marginable\":true,\"has_index\":true,\"cost_min\":0.5,\"price_increment\":0.1,\"qty_min\":0.0001}]}}"
}

# A BTC/USD book and updates to it. Checksums are Kraken's CRC32 with BTC/USD's precisions
# (1 price decimal, 8 quantity decimals), computed outside this project.
S_B='[{"price":65000.1,"qty":0.5},{"price":65000.0,"qty":1.25},{"price":64999.5,"qty":2.0}]'
S_A='[{"price":65000.2,"qty":0.75},{"price":65000.5,"qty":1.0},{"price":65001.0,"qty":3.0}]'
S_CK=2799899772
S_CK_2DP=3923254828 # the same book with 2 price decimals
S_LINE='"bids":[[65000.1,0.5],[65000,1.25],[64999.5,2]],"asks":[[65000.2,0.75],[65000.5,1],[65001,3]]}'
# U1: a new size for the best bid, the best ask taken away.
U1_B='[{"price":65000.1,"qty":0.4}]'
U1_A='[{"price":65000.2,"qty":0.0}]'
U1_CK=2237692528
U1_LINE='"bids":[[65000.1,0.4],[65000,1.25],[64999.5,2]],"asks":[[65000.5,1],[65001,3]]}'
# U2 (after U1): a new best ask.
U2_A='[{"price":65000.4,"qty":0.3}]'
U2_CK=2897826546
U2_LINE='"bids":[[65000.1,0.4],[65000,1.25],[64999.5,2]],"asks":[[65000.4,0.3],[65000.5,1],[65001,3]]}'
# X (after S): a bid above the best ask; the checksum is right for that crossed book.
X_B='[{"price":65000.3,"qty":1.0}]'
X_CK=3386374424
TS=1696613755440295

# Runs convert on $TMP/in with a fake ingest.sock (ready once it accepts a connection);
# output in $TMP/out.
convert_with_ingest() {
	start ctl nc -lkU "$TMP/run/ingest.sock"
	wait_until 5 nc -zU "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/convert.err"
}

books() { grep -c '"type":"book"' "$TMP/out" || true; }
resyncs() { grep -c '"event":"resync"' "$TMP/out" || true; }
prom() { metric "$TMP/run/convert.prom" "$1" "${2:-exchange=\"kraken\"}"; }
# absent FILE TEXT: FILE has no line holding TEXT (a plain "! grep" would not fail a test).
absent() { [ "$(count "$1" "$2")" -eq 0 ]; }
book_line() { # book_line N: the N-th book line (1-based) of $TMP/out
	grep '"type":"book"' "$TMP/out" | sed -n "${1}p"
}

@test "book: a snapshot and its updates give the exact book; another pair's book stays apart" {
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
		book snapshot '[{"price":3400.5,"qty":10}]' '[{"price":3400.51,"qty":2.5}]' 1374792620 ETH/USD
		book update '[]' "$U2_A" $U2_CK
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "{\"type\":\"book\",\"exchange\":\"kraken\",\"symbol\":\"BTC-USD\",\"ts\":$TS,\"local_ts\":1696613755451000,$S_LINE" ]
	[ "${lines[1]}" = "{\"type\":\"book\",\"exchange\":\"kraken\",\"symbol\":\"BTC-USD\",\"ts\":$TS,\"local_ts\":1696613755461000,$U1_LINE" ]
	[ "${lines[2]}" = "{\"type\":\"book\",\"exchange\":\"kraken\",\"symbol\":\"ETH-USD\",\"ts\":$TS,\"local_ts\":1696613755471000,\"bids\":[[3400.5,10]],\"asks\":[[3400.51,2.5]]}" ]
	[ "${lines[3]}" = "{\"type\":\"book\",\"exchange\":\"kraken\",\"symbol\":\"BTC-USD\",\"ts\":$TS,\"local_ts\":1696613755481000,$U2_LINE" ]
}

@test "book: cut to the depth of the subscription after each update; levels come back only when sent" {
	local b="" a="" i
	for i in $(seq 0 9); do
		b="$b${b:+,}{\"price\":$((100 - i)),\"qty\":1}"
		a="$a${a:+,}{\"price\":$((101 + i)),\"qty\":1}"
	done
	{
		next '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.219022Z","time_out":"2023-10-06T17:35:55.219067Z"}'
		book snapshot "[$b]" "[$a]" 0
		book update '[{"price":100.5,"qty":2}]' '[]' 0     # 11 bids: 91 leaves the book
		book update '[{"price":100.5,"qty":0}]' '[]' 0     # 9 bids: 91 is not kept
		book update '[{"price":90.5,"qty":3}]' '[]' 0      # the level Kraken sends to fill the tenth place
	} >"$TMP/in"
	# Checksums are switched off here by making them unverifiable: the book has no
	# precisions, and a checksum of 0 matches none, so the book is relayed unverified.
	run "$BIN/convert" --book-depth 50 <"$TMP/in"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *'"event":"subscribed","detail":"book"}' ]]
	[[ "${lines[1]}" == *'"event":"error","detail":"book checksum not verified: price and qty precisions unknown"}' ]]
	books=$(grep '"type":"book"' <<<"$output")
	[ "$(jq -s '[.[] | .bids | length] == [10, 10, 9, 10]' <<<"$books")" = true ]
	[ "$(jq -s '[.[] | .asks | length] == [10, 10, 10, 10]' <<<"$books")" = true ]
	[ "$(jq -s '.[1].bids[0] == [100.5, 2] and .[1].bids[9] == [92, 1]' <<<"$books")" = true ]
	[ "$(jq -s '.[3].bids[9] == [90.5, 3]' <<<"$books")" = true ]
}

@test "checksum: a mismatch -> one resync, ingest asked, no book until the next snapshot, then the right book" {
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
		book update '[]' "$U2_A" 12345              # the right levels, a wrong checksum
		book update '[]' "$U2_A" $U2_CK             # waits for the snapshot: ignored
		book update '[]' '[{"price":65000.4,"qty":0}]' 1
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	grep -qxF '{"type":"status","exchange":"kraken","symbol":"BTC-USD","local_ts":1696613755471000,"event":"resync","detail":"checksum mismatch: computed 2897826546, expected 12345"}' "$TMP/out"
	[ "$(books)" -eq 4 ]
	[ "$(grep -n '"event":"resync"' "$TMP/out" | cut -d: -f1)" -eq 3 ]
	[ "$(book_line 3)" = "{\"type\":\"book\",\"exchange\":\"kraken\",\"symbol\":\"BTC-USD\",\"ts\":$TS,\"local_ts\":1696613755501000,$S_LINE" ]
	[[ "$(book_line 4)" == *"$U1_LINE" ]]
	absent "$TMP/out" '65000.4'
	wait_until 5 grep -qx 'resync kraken BTC-USD' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
	[ "$(prom exchange_convert_checksum_failures_total)" = 1 ]
	absent "$TMP/convert.err" 'line skipped'
}

@test "checksum: a snapshot whose checksum fails the listed precisions is not relayed" {
	{
		instrument BTC/USD 1
		book snapshot "$S_B" "$S_A" $S_CK_2DP # right for 2 price decimals, not for 1
		book update "$U1_B" "$U1_A" $U1_CK
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"event":"resync","detail":"checksum mismatch: computed 2799899772, expected 3923254828"}' "$TMP/out"
	[ "$(books)" -eq 2 ]
	[[ "$(book_line 2)" == *"$U1_LINE" ]]
	[ "$(prom exchange_convert_checksum_failures_total)" = 1 ]
}

@test "checksum: the instrument channel's precisions win over the ones a snapshot suggests" {
	# With 2 listed price decimals, the 2-decimal checksum is the right one.
	{
		instrument BTC/USD 2
		book snapshot "$S_B" "$S_A" $S_CK_2DP
		book snapshot "$S_B" "$S_A" $S_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 1 ]
	[ "$(resyncs)" -eq 1 ]
}

@test "checksum: without precisions, an unverifiable book is relayed and said once; the instrument list brings the checks back" {
	{
		book snapshot "$S_B" "$S_A" 1          # no precision reproduces this checksum
		book update "$U1_B" "$U1_A" 2          # not checked either
		book snapshot "$S_B" "$S_A" 1          # said once per symbol only
		book update "$U1_B" "$U1_A" $U1_CK
		instrument BTC/USD 1
		book update '[]' "$U2_A" $U2_CK        # checked, right
		book update '[]' '[{"price":65000.4,"qty":0.5}]' 7 # checked, wrong
	} >"$TMP/in"
	convert_with_ingest
	[ "$(grep -c '"event":"error","detail":"book checksum not verified: price and qty precisions unknown"}' "$TMP/out")" -eq 1 ]
	[ "$(books)" -eq 5 ]
	[[ "$(book_line 5)" == *"$U2_LINE" ]]
	[ "$(resyncs)" -eq 1 ]
	tail -1 "$TMP/out" | grep -qF '"detail":"checksum mismatch: computed '
	[ "$(prom exchange_convert_checksum_failures_total)" = 1 ]
}

@test "checksum: precisions found from a snapshot check its updates" {
	# No instrument list: 1 and 8 decimals are found from the snapshot's checksum.
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
		book update '[]' "$U2_A" $S_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(books)" -eq 2 ]
	[ "$(resyncs)" -eq 1 ]
	absent "$TMP/out" '"event":"error"'
}

@test "crossed: one resync, ingest asked, no book until the next snapshot" {
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$X_B" '[]' $X_CK
		book update "$U1_B" "$U1_A" $U1_CK
		book snapshot "$S_B" "$S_A" $S_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	grep -qxF '{"type":"status","exchange":"kraken","symbol":"BTC-USD","local_ts":1696613755461000,"event":"resync","detail":"crossed book"}' "$TMP/out"
	[ "$(books)" -eq 2 ]
	[[ "$(tail -1 "$TMP/out")" == *"$S_LINE" ]]
	absent "$TMP/out" '65000.3'
	wait_until 5 grep -qx 'resync kraken BTC-USD' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total)" = 1 ]
	[ "$(prom exchange_convert_checksum_failures_total)" = 0 ]
}

@test "no snapshot yet (convert started mid-stream): one request, silence, then the book" {
	{
		book update "$U1_B" "$U1_A" $U1_CK
		book update '[]' "$U2_A" $U2_CK
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" $U1_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 1 ]
	head -1 "$TMP/out" | grep -qF '"event":"resync","detail":"book update without a snapshot"}'
	[ "$(books)" -eq 2 ]
	[[ "$(tail -1 "$TMP/out")" == *"$U1_LINE" ]]
	wait_until 5 grep -qx 'resync kraken BTC-USD' "$TMP/ctl.out"
}

@test "a resync that brings no snapshot is asked again after 30 s, not before" {
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update "$U1_B" "$U1_A" 5
		LTS=$((LTS + 29000000))
		book update '[]' "$U2_A" $U2_CK
		LTS=$((LTS + 1000000))
		book update '[]' "$U2_A" $U2_CK
		book update '[]' "$U2_A" $U2_CK
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$(grep -c '"event":"resync"' <<<"$output")" -eq 2 ]
	[[ "${lines[2]}" == *'"detail":"book update without a snapshot"}' ]]
}

@test "an unreadable update is a missed one: resync; an unreadable snapshot is skipped and counted" {
	{
		book snapshot "$S_B" "$S_A" $S_CK
		book update '[{"price":"abc","qty":1}]' '[]' 1
		book update "$U1_B" "$U1_A" $U1_CK
		book snapshot '[{"price":65000.1}]' "$S_A" $S_CK # no qty
		book update "$U1_B" "$U1_A" $U1_CK               # asks for the snapshot
		book snapshot "$S_B" "$S_A" $S_CK
	} >"$TMP/in"
	convert_with_ingest
	[ "$(resyncs)" -eq 2 ]
	grep -qF '"event":"resync","detail":"unreadable update: bids: bad level abc / 1"}' "$TMP/out"
	grep -qF '"event":"resync","detail":"book update without a snapshot"}' "$TMP/out"
	[ "$(books)" -eq 2 ]
	[[ "$(tail -1 "$TMP/out")" == *"$S_LINE" ]]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="field"')" = 1 ]
}

@test "trades: the first snapshot is history, a later one fills the gap; taker side kept" {
	trade() { # trade ID SIDE
		printf '{"symbol":"BTC/USD","side":"%s","price":65000.1,"qty":0.01,"ord_type":"market","trade_id":%s,"timestamp":"2023-10-06T17:35:55.440295Z"}' "$2" "$1"
	}
	{
		next "{\"channel\":\"trade\",\"type\":\"snapshot\",\"data\":[$(trade 10 buy),$(trade 11 sell)]}"
		next "{\"channel\":\"trade\",\"type\":\"update\",\"data\":[$(trade 12 sell)]}"
		next "{\"channel\":\"trade\",\"type\":\"snapshot\",\"data\":[$(trade 11 sell),$(trade 12 sell),$(trade 13 buy),$(trade 14 sell)]}"
		next "{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{\"symbol\":\"XBT/USD\",\"price\":1,\"qty\":2,\"trade_id\":15,\"timestamp\":\"2023-10-06T17:35:55.440295Z\"}]}"
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.id + " " + .side' <<<"$output" | tr '\n' ',')" = "12 sell,13 buy,14 sell,15 unknown," ]
	[[ "${lines[3]}" == *'"symbol":"BTC-USD"'* ]]
}

@test "bad input: truncated frames, wrong types, huge arrays never crash convert and are counted" {
	local good huge="" i
	good=$(sed -n 2p "$FIXTURES/golden/kraken_ticker.in")
	for i in $(seq 1 3000); do huge="$huge${huge:+,}{\"price\":$((70000 + i)),\"qty\":1}"; done
	{
		line=$(sed -n 3p "$FIXTURES/golden/kraken_book.in")
		for i in $(seq 1 $((${#line} - 1))); do printf '%s\n' "${line:0:$i}"; done
		next '{"channel":"book","type":"update","data":"x"}'
		next '{"channel":"book","type":"update","data":[1]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":5}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTCUSD","bids":[],"asks":[]}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":{},"asks":[]}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[[1,2]],"asks":[]}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":-1,"qty":1}],"asks":[]}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":1e999,"qty":1}],"asks":[]}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":"x"}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":99999999999}]}'
		next '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"timestamp":"yesterday"}]}'
		next "{\"channel\":\"book\",\"type\":\"snapshot\",\"data\":[{\"symbol\":\"BTC/USD\",\"bids\":[$huge],\"asks\":[]}]}"
		next '{"channel":"book","type":"sometimes","data":[]}'
		next '{"channel":"candles","type":"update","data":[]}'
		next '{"channel":7}'
		next '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"up","price":1,"qty":1,"trade_id":1}]}'
		next '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"trade_id":1.5}]}'
		next '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":"1x","qty":1,"trade_id":1}]}'
		next '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":true}]}'
		next '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":1,"change":"-"}]}'
		next '{"channel":"instrument","type":"snapshot","data":{"pairs":"x"}}'
		next '{"channel":"instrument","type":"snapshot","data":{"pairs":[1,{"symbol":"BTC/USD","price_precision":99,"qty_precision":8}]}}'
		next '[1,2,3]'
		next '{"hello":"world"}'
		printf '{"exchange":"kraken","local_ts":1,"data":%s%s}\n' "$(printf '[%.0s' $(seq 1 100))" "$(printf ']%.0s' $(seq 1 100))"
		book snapshot "$S_B" "$S_A" $S_CK
		book update "[$huge]" '[]' 1 # a synced book: an update this large is not Kraken's
		echo "$good"
	} >"$TMP/in"
	convert_with_ingest
	# Only the last line and the one good snapshot convert (and the huge update resyncs).
	[ "$(grep -c '"type":"ticker"' "$TMP/out")" -eq 1 ]
	[ "$(books)" -eq 1 ]
	[ "$(resyncs)" -eq 1 ]
	grep -qF '"detail":"unreadable update: bids: 3000 levels"}' "$TMP/out"
	prom=$TMP/run/convert.prom
	for r in json shape field number symbol book; do
		[ "$(metric "$prom" exchange_convert_errors_total "reason=\"$r\"")" -ge 1 ]
	done
	[ "$(metric "$prom" exchange_convert_lines_total)" -eq "$(wc -l <"$TMP/in")" ]
}

@test "recording and generator: every book verified, no resync, nothing skipped" {
	rec=$FIXTURES/recordings/kraken.ndjson
	[ "$(wc -l <"$rec")" -ge 2000 ]
	"$BIN/convert" --run-dir "$TMP/run" <"$rec" >"$TMP/out" 2>"$TMP/err"
	[ "$(resyncs)" -eq 0 ]
	absent "$TMP/err" 'line skipped'
	absent "$TMP/out" '"event":"error"'
	[ "$(books)" -gt 1000 ]
	for s in BTC-USD ETH-USD SOL-USD; do
		grep -q "\"type\":\"trade\",\"exchange\":\"kraken\",\"symbol\":\"$s\"" "$TMP/out"
		grep -q "\"type\":\"ticker\",\"exchange\":\"kraken\",\"symbol\":\"$s\"" "$TMP/out"
	done
	# Receive times only go forward; event times never follow them.
	jq -e -s '[.[] | select(.ts) | .local_ts >= .ts] | all' "$TMP/out" >/dev/null
	jq -e -s '[.[].local_ts] as $t | $t == ($t | sort)' "$TMP/out" >/dev/null
	[ "$(prom exchange_convert_checksum_failures_total)" = 0 ]

	command -v node >/dev/null || { echo "node is missing (make deps)" >&2; return 1; }
	"$ROOT/bench/gen-kraken" 7000 >"$TMP/gen.ndjson"
	[ "$(wc -l <"$TMP/gen.ndjson")" -eq 7000 ]
	"$BIN/convert" <"$TMP/gen.ndjson" >"$TMP/out" 2>"$TMP/err"
	[ "$(resyncs)" -eq 0 ]
	absent "$TMP/err" 'line skipped'
	[ "$(books)" -gt 5000 ]
	# Deterministic: the same N gives the same lines.
	cmp <("$ROOT/bench/gen-kraken" 3000) "$rec"
}

@test "ingest --check: Kraken symbols and options; bad symbols exit 2" {
	run "$BIN/ingest" --check -x kraken:BTC-USDT,ETH-USD,XBT-EUR
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x kraken
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x kraken:BTC-USD -c book --url kraken=ws://127.0.0.1:9/v2
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x kraken:BTCUSD
	[ "$status" -eq 2 ]
	run "$BIN/ingest" --check -x kraken:BTC/USD
	[ "$status" -eq 2 ]
}

# A Kraken v2 stand-in: acks every subscribe and unsubscribe per symbol, answers
# {"method":"ping"} with a pong, sends {"channel":"heartbeat"} every 100 ms, the instrument
# list, a book snapshot and update for BTC/USD and a trade per subscribed pair, and logs
# what it receives to $TMP/kraken.events.
start_fake_kraken() {
	command -v node >/dev/null || { echo "node is missing (make deps)" >&2; return 1; }
	cat >"$TMP/fake-kraken.js" <<'EOF'
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const [events, book] = process.argv.slice(2);
const log = (o) => fs.appendFileSync(events, JSON.stringify(o) + '\n');
const now = () => new Date().toISOString().replace('Z', '000Z');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => console.log('listening ' + wss.address().port));
wss.on('connection', (ws, req) => {
	log({ event: 'connect', path: req.url });
	ws.send('{"channel":"status","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.8"}],"type":"update"}');
	const hb = setInterval(() => ws.send('{"channel":"heartbeat"}'), 100);
	ws.on('close', () => clearInterval(hb));
	ws.on('message', (buf) => {
		let m;
		try { m = JSON.parse(buf.toString()); } catch (e) { log({ event: 'bad', text: buf.toString() }); return; }
		log({ event: 'message', msg: m });
		if (m.method === 'ping') {
			ws.send(JSON.stringify({ method: 'pong', req_id: m.req_id, time_in: now(), time_out: now() }));
			return;
		}
		const p = m.params || {};
		if (p.channel === 'instrument') {
			ws.send(JSON.stringify({ method: m.method, req_id: m.req_id, result: { channel: 'instrument', snapshot: true }, success: true, time_in: now(), time_out: now() }));
			ws.send('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online","qty_precision":8,"price_precision":1}]}}');
			return;
		}
		for (const s of p.symbol || []) {
			const result = { channel: p.channel, symbol: s };
			if (p.channel === 'book') result.depth = p.depth;
			ws.send(JSON.stringify({ method: m.method, req_id: m.req_id, result, success: true, time_in: now(), time_out: now() }));
			if (m.method !== 'subscribe')
				continue;
			if (p.channel === 'book' && s === 'BTC/USD')
				for (const line of fs.readFileSync(book, 'utf8').trim().split('\n'))
					ws.send(line);
			if (p.channel === 'trade')
				ws.send(JSON.stringify({ channel: 'trade', type: 'update', data: [{ symbol: s, side: 'sell', price: 10.5, qty: 2.0, ord_type: 'market', trade_id: 7, timestamp: now() }] }));
		}
	});
});
process.on('SIGTERM', () => process.exit(0));
EOF
	{
		printf '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":%s,"asks":%s,"checksum":%s,"timestamp":"2023-10-06T17:35:55.440295Z"}]}\n' "$S_B" "$S_A" $S_CK
		printf '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":%s,"asks":%s,"checksum":%s,"timestamp":"2023-10-06T17:35:55.440295Z"}]}\n' "$U1_B" "$U1_A" $U1_CK
	} >"$TMP/book.jsonl"
	start fake env NODE_PATH=/usr/share/nodejs node "$TMP/fake-kraken.js" "$TMP/kraken.events" "$TMP/book.jsonl"
	wait_until 10 grep -q '^listening' "$TMP/fake.out" || return 1
	FAKE_PORT=$(awk '/^listening/ { print $2 }' "$TMP/fake.out")
}

heartbeats_at_least() {
	local v
	v=$(metric "$TMP/run/ingest.prom" exchange_ingest_heartbeats_total 'exchange="kraken"' 2>/dev/null)
	[ -n "$v" ] && [ "$v" != missing ] && [ "$v" -ge "$1" ]
}

# The requests the stand-in received (pings left out), one compact JSON per line.
requests() {
	jq -c 'select(.event == "message" and .msg.method != "ping") | .msg' "$TMP/kraken.events"
}

@test "ingest: instrument list first, then trade, ticker, book (depth 25) in Kraken's spelling; data reaches convert" {
	start_fake_kraken
	start ingest "$BIN/ingest" -x kraken:BTC-USD,ETH-USD,XDG-USD --run-dir "$TMP/run" --url "kraken=ws://127.0.0.1:$FAKE_PORT/v2"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"channel":"book","type":"update"'
	grep -q '"path":"/v2"' "$TMP/kraken.events"
	requests >"$TMP/got"
	cat >"$TMP/want" <<'EOF'
{"method":"subscribe","params":{"channel":"instrument","snapshot":true},"req_id":1}
{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD","DOGE/USD"],"snapshot":true},"req_id":2}
{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD","ETH/USD","DOGE/USD"],"snapshot":true},"req_id":3}
{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD","ETH/USD","DOGE/USD"],"depth":25,"snapshot":true},"req_id":4}
EOF
	diff "$TMP/want" "$TMP/got"
	# Heartbeats are counted, never forwarded; the status channel and acks are.
	wait_until 10 heartbeats_at_least 3
	absent "$TMP/ingest.out" '"heartbeat"'
	grep -q '"channel":"status"' "$TMP/ingest.out"
	grep '"data":' "$TMP/ingest.out" | "$BIN/convert" >"$TMP/conv"
	[ "$(grep -c '"event":"subscribed"' "$TMP/conv")" -eq 10 ]
	grep -q '"type":"trade","exchange":"kraken","symbol":"DOGE-USD"' "$TMP/conv"
	[ "$(grep -c '"type":"book"' "$TMP/conv")" -eq 2 ]
	grep '"type":"book"' "$TMP/conv" | tail -1 | grep -qF "$U1_LINE"
	absent "$TMP/conv" '"event":"resync"'
	absent "$TMP/conv" '"event":"error"'
}

@test "ingest: -c trade subscribes trades only, without the instrument list" {
	start_fake_kraken
	start ingest "$BIN/ingest" -x kraken:BTC-USD -c trade --run-dir "$TMP/run" --url "kraken=ws://127.0.0.1:$FAKE_PORT/v2"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"channel":"trade"'
	[ "$(requests)" = '{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":true},"req_id":2}' ]
}

@test "ingest: the JSON ping is sent, its pong is a heartbeat, never forwarded" {
	start_fake_kraken
	start ingest "$BIN/ingest" -x kraken:BTC-USD -c trade --keepalive 200 --run-dir "$TMP/run" --url "kraken=ws://127.0.0.1:$FAKE_PORT/v2"
	wait_until 10 at_least 3 "$TMP/kraken.events" '"method":"ping"'
	jq -e -s '[.[] | select(.event == "message" and .msg.method == "ping")][0].msg == {"method":"ping"}' "$TMP/kraken.events"
	wait_until 10 heartbeats_at_least 5
	absent "$TMP/ingest.out" 'pong'
}

@test "ingest: a resync unsubscribes, then subscribes that symbol's book only" {
	start_fake_kraken
	start ingest "$BIN/ingest" -x kraken:BTC-USD,ETH-USD --run-dir "$TMP/run" --url "kraken=ws://127.0.0.1:$FAKE_PORT/v2"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"channel":"book","type":"update"'
	wait_until 10 test -S "$TMP/run/ingest.sock"
	run bash -c "echo 'resync kraken ETH-USD' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	wait_until 10 at_least 1 "$TMP/kraken.events" '"method":"unsubscribe"'
	wait_until 10 at_least 5 "$TMP/kraken.events" '"method":"subscribe"'
	requests | tail -2 | jq -c 'del(.req_id)' >"$TMP/got"
	cat >"$TMP/want" <<'EOF'
{"method":"unsubscribe","params":{"channel":"book","symbol":["ETH/USD"],"depth":25}}
{"method":"subscribe","params":{"channel":"book","symbol":["ETH/USD"],"depth":25,"snapshot":true}}
EOF
	diff "$TMP/want" "$TMP/got"
	# A pair this connection does not carry is not subscribed behind the user's back.
	run bash -c "echo 'resync kraken ADA-USD' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	run bash -c "echo 'resync kraken BTC-USD' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	# Resyncs are served in order: once BTC's is out, ADA's was dropped.
	wait_until 10 at_least 1 "$TMP/kraken.events" '"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"]'
	absent "$TMP/kraken.events" 'ADA'
	# The unsubscribe ack is forwarded and convert reads it as nothing to relay.
	wait_until 10 at_least 1 "$TMP/ingest.out" '"method":"unsubscribe"'
	grep '"method":"unsubscribe"' "$TMP/ingest.out" | "$BIN/convert" >"$TMP/conv" 2>"$TMP/err"
	[ ! -s "$TMP/conv" ]
	absent "$TMP/err" 'line skipped'
}
