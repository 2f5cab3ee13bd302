#!/usr/bin/env bats
# Gate (spot v4): order books kept from spot.obu snapshots and increments through bin/convert,
# every fault that must resync, bad input, and ingest's half of the protocol.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

T0=1747054612000000

# obu_full I PAIR U BIDS ASKS [DEPTH]: a spot.obu full snapshot received at T0 + I ms.
obu_full() {
	local lt=$((T0 + $1 * 1000))
	printf '{"exchange":"gateio","local_ts":%s,"data":{"channel":"spot.obu","result":{"t":%s,"full":true,"s":"ob.%s.%s","u":%s,"b":%s,"a":%s},"time_ms":%s}}\n' \
		"$lt" $((lt / 1000 - 9)) "$2" "${6:-50}" "$3" "$4" "$5" $((lt / 1000 - 4))
}

# obu_inc I PAIR U u BIDS ASKS [DEPTH]: a spot.obu increment received at T0 + I ms.
obu_inc() {
	local lt=$((T0 + $1 * 1000))
	printf '{"exchange":"gateio","local_ts":%s,"data":{"channel":"spot.obu","result":{"t":%s,"s":"ob.%s.%s","U":%s,"u":%s,"b":%s,"a":%s},"time_ms":%s}}\n' \
		"$lt" $((lt / 1000 - 9)) "$2" "${7:-50}" "$3" "$4" "$5" "$6" $((lt / 1000 - 4))
}

# book_at I BIDS ASKS: the BTC-USDT book line convert writes for the frame of obu_* I.
book_at() {
	local lt=$((T0 + $1 * 1000))
	printf '{"type":"book","exchange":"gateio","symbol":"BTC-USDT","ts":%s,"local_ts":%s,"bids":%s,"asks":%s}' \
		$(((lt / 1000 - 9) * 1000)) "$lt" "$2" "$3"
}

# Converts $TMP/in with a run directory whose ingest.sock is a listening nc.
convert_with_ingest() {
	mkdir -p "$TMP/run"
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
}

prom() { metric "$TMP/run/convert.prom" "$@"; }

no_errors() {
	local r
	for r in json utf8 envelope exchange shape field number symbol book; do
		[ "$(prom exchange_convert_errors_total "reason=\"$r\"")" = 0 ] || return 1
	done
}

SNAP_B='[["104027.1","0.50000"],["104027.0","1.2"]]'
SNAP_A='[["104027.2","0.3"],["104027.5","2.000"]]'

@test "obu: a snapshot and increments build exactly the expected book" {
	{
		obu_full 1 BTC_USDT 100 "$SNAP_B" "$SNAP_A"
		obu_inc 2 BTC_USDT 101 105 '[["104027.0","0"],["104026.8","0.75"]]' '[["104027.3","1.5"]]'
		obu_inc 3 BTC_USDT 106 106 '[["104027.1","0.6"]]' '[["104027.2","0"]]'
		obu_inc 4 BTC_USDT 107 109 '[]' '[]'
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "$(book_at 1 '[[104027.1,0.5],[104027,1.2]]' '[[104027.2,0.3],[104027.5,2]]')" ]
	[ "${lines[1]}" = "$(book_at 2 '[[104027.1,0.5],[104026.8,0.75]]' '[[104027.2,0.3],[104027.3,1.5],[104027.5,2]]')" ]
	[ "${lines[2]}" = "$(book_at 3 '[[104027.1,0.6],[104026.8,0.75]]' '[[104027.3,1.5],[104027.5,2]]')" ]
	[ "${lines[3]}" = "$(book_at 4 '[[104027.1,0.6],[104026.8,0.75]]' '[[104027.3,1.5],[104027.5,2]]')" ]
}

@test "obu: a sequence gap gives one resync, no book until the next snapshot, then the right book" {
	{
		obu_full 1 BTC_USDT 100 "$SNAP_B" "$SNAP_A"
		obu_inc 2 BTC_USDT 101 105 '[["104026.9","1"]]' '[]'
		obu_inc 3 BTC_USDT 107 110 '[["104026.8","1"]]' '[]'  # 106 is missing
		obu_inc 4 BTC_USDT 111 112 '[["104026.7","1"]]' '[]'  # follows the lost one: still no book
		obu_inc 5 BTC_USDT 113 113 '[]' '[["104027.3","1"]]'
		obu_full 6 BTC_USDT 300 '[["104030.1","2"]]' '[["104030.2","3"]]'
		obu_inc 7 BTC_USDT 301 302 '[["104030.0","4"]]' '[]'
	} >"$TMP/in"
	convert_with_ingest
	mapfile -t got <"$TMP/out"
	[ "${#got[@]}" -eq 5 ]
	[ "${got[0]}" = "$(book_at 1 '[[104027.1,0.5],[104027,1.2]]' '[[104027.2,0.3],[104027.5,2]]')" ]
	[ "${got[1]}" = "$(book_at 2 '[[104027.1,0.5],[104027,1.2],[104026.9,1]]' '[[104027.2,0.3],[104027.5,2]]')" ]
	[ "${got[2]}" = '{"type":"status","exchange":"gateio","symbol":"BTC-USDT","local_ts":'$((T0 + 3000))',"event":"resync","detail":"sequence gap: update 107 follows 105"}' ]
	# The new snapshot replaces everything: nothing of the old book survives.
	[ "${got[3]}" = "$(book_at 6 '[[104030.1,2]]' '[[104030.2,3]]')" ]
	[ "${got[4]}" = "$(book_at 7 '[[104030.1,2],[104030,4]]' '[[104030.2,3]]')" ]
	wait_until 5 grep -qx 'resync gateio BTC-USDT' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="gateio"')" = 1 ]
	[ "$(prom exchange_convert_checksum_failures_total 'exchange="gateio"')" = 0 ]
	no_errors
}

@test "obu: an increment that crosses the book gives one resync and no book until the next snapshot" {
	{
		obu_full 1 BTC_USDT 100 "$SNAP_B" "$SNAP_A"
		obu_inc 2 BTC_USDT 101 101 '[["104027.2","0.1"]]' '[]'  # bid at the best ask
		obu_inc 3 BTC_USDT 102 102 '[["104026.0","1"]]' '[]'
		obu_full 4 BTC_USDT 200 "$SNAP_B" "$SNAP_A"
	} >"$TMP/in"
	convert_with_ingest
	mapfile -t got <"$TMP/out"
	[ "${#got[@]}" -eq 3 ]
	[[ "${got[0]}" == '{"type":"book",'* ]]
	[ "${got[1]}" = '{"type":"status","exchange":"gateio","symbol":"BTC-USDT","local_ts":'$((T0 + 2000))',"event":"resync","detail":"crossed book"}' ]
	[ "${got[2]}" = "$(book_at 4 '[[104027.1,0.5],[104027,1.2]]' '[[104027.2,0.3],[104027.5,2]]')" ]
	wait_until 5 grep -qx 'resync gateio BTC-USDT' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="gateio"')" = 1 ]
	no_errors
}

@test "obu: increments before the first snapshot are ignored quietly; books are per pair" {
	{
		obu_inc 1 BTC_USDT 90 99 '[["104000","1"]]' '[]'
		obu_full 2 ETH_USDT 7 '[["2530.55","1"]]' '[["2530.56","2"]]'
		obu_full 3 BTC_USDT 100 "$SNAP_B" "$SNAP_A"
		obu_inc 4 ETH_USDT 8 8 '[]' '[["2530.57","1"]]'
		obu_inc 5 BTC_USDT 101 101 '[]' '[["104027.2","0"]]'
	} >"$TMP/in"
	convert_with_ingest
	mapfile -t got <"$TMP/out"
	[ "${#got[@]}" -eq 4 ]
	[[ "${got[0]}" == *'"symbol":"ETH-USDT"'*'"bids":[[2530.55,1]],"asks":[[2530.56,2]]}' ]]
	[[ "${got[2]}" == *'"symbol":"ETH-USDT"'*'"asks":[[2530.56,2],[2530.57,1]]}' ]]
	[ "${got[3]}" = "$(book_at 5 '[[104027.1,0.5],[104027,1.2]]' '[[104027.5,2]]')" ]
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="gateio"')" = 0 ]
	no_errors
}

@test "obu: levels beyond the stream's depth are dropped, and do not come back when the top empties" {
	{
		obu_full 1 BTC_USDT 100 '[["10","1"],["9","1"],["8","1"]]' '[["11","1"],["12","1"],["13","1"]]' 2
		obu_inc 2 BTC_USDT 101 101 '[["10","0"]]' '[]' 2
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *'"bids":[[10,1],[9,1]],"asks":[[11,1],[12,1]]}' ]]
	[[ "${lines[1]}" == *'"bids":[[9,1]],"asks":[[11,1],[12,1]]}' ]]
}

@test "obu: an unreadable increment is skipped and counted, and the next one resyncs the book" {
	{
		obu_full 1 BTC_USDT 100 "$SNAP_B" "$SNAP_A"
		obu_inc 2 BTC_USDT 101 101 '[["104026","abc"]]' '[]'      # not a number
		obu_inc 3 BTC_USDT 102 102 '[]' '[["104028","1"]]'         # would build on a missing frame
		obu_full 4 BTC_USDT 200 "$SNAP_B" "$SNAP_A"
		obu_inc 5 BTC_USDT 201 201 '"oops"' '[]'                   # a side that is not an array
		obu_inc 6 BTC_USDT 205 204 '[]' '[]'                       # u before U
		obu_inc 7 BTC_USDT 201 201 '[[104026.5]]' '[]'             # a level without an amount
		obu_inc 8 BTC_USDT 201 201 '[["-1","1"]]' '[]'             # a negative price
		obu_inc 9 BTC_USDT 201 201 '[]' '[]' 0                     # depth 0
		printf '{"exchange":"gateio","local_ts":%s,"data":{"channel":"spot.obu","result":{"t":1,"s":"BTC_USDT","U":201,"u":201,"b":[],"a":[]}}}\n' $((T0 + 10000))
	} >"$TMP/in"
	convert_with_ingest
	mapfile -t got <"$TMP/out"
	[ "${#got[@]}" -eq 3 ]
	[[ "${got[0]}" == '{"type":"book",'* ]]
	[[ "${got[1]}" == *'"event":"resync","detail":"sequence gap: update 102 follows 100"}' ]]
	[ "${got[2]}" = "$(book_at 4 '[[104027.1,0.5],[104027,1.2]]' '[[104027.2,0.3],[104027.5,2]]')" ]
	[ "$(prom exchange_convert_errors_total 'reason="number"')" = 2 ]
	[ "$(prom exchange_convert_errors_total 'reason="field"')" = 3 ]
	[ "$(prom exchange_convert_errors_total 'reason="symbol"')" = 2 ]
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="gateio"')" = 1 ]
}

@test "bad input never crashes convert: cut frames, wrong types, huge arrays" {
	for f in "$FIXTURES"/golden/gateio_*.in; do
		while IFS= read -r line; do
			for ((i = 1; i < ${#line}; i += 7)); do printf '%s\n' "${line:0:$i}"; done
		done <"$f"
	done >"$TMP/in"
	local frames=(
		'[]' '"x"' 'null' '{}' '{"channel":7}' '{"channel":"spot.trades"}' '{"channel":"spot.trades","result":[]}'
		'{"channel":"spot.trades","result":{"currency_pair":"BTCUSDT","price":"1","amount":"1","id":1}}'
		'{"channel":"spot.trades","result":{"currency_pair":"BTC_USDT","price":{},"amount":"1","id":1,"side":"buy"}}'
		'{"channel":"spot.trades","result":{"currency_pair":"BTC_USDT","price":"1","amount":"1","id":[],"side":"buy"}}'
		'{"channel":"spot.trades","result":{"currency_pair":"BTC_USDT","price":"1","amount":"1","id":1,"side":"up"}}'
		'{"channel":"spot.trades","result":{"currency_pair":"BTC_USDT","price":"1","amount":"1","id":1,"create_time_ms":"soon"}}'
		'{"channel":"spot.tickers","result":{"currency_pair":"BTC_USDT"}}' '{"channel":"spot.tickers","result":{"currency_pair":"_","last":"1"}}'
		'{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.50","full":true,"u":"x"}}'
		'{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.99999999","full":true,"u":1}}'
		'{"channel":"spot.obu","result":{"s":"ob.","full":true,"u":1}}' '{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.","full":true,"u":1}}'
		'{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.50","full":true,"u":1,"b":[["1e999999","1"]]}}'
		'{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.50","full":true,"u":1,"b":[["0","1"]]}}'
		'{"channel":"spot.obu","result":{"s":"ob.BTC_USDT.50","full":true,"u":1,"b":[["1.000000000000000000000000000000001","1"]]}}'
		'{"channel":"spot.order_book","result":{"s":"BTC_USDT","bids":[["1","1"],["2","1"]],"asks":[]}}'
		'{"channel":"spot.order_book_update","result":{"s":"BTC_USDT","l":"x","full":true,"U":1,"u":1}}'
		'{"channel":"spot.book_ticker","result":{"s":"BTC_USDT","b":true}}' '{"channel":"spot.nothing","result":{}}'
		'{"channel":"spot.obu","event":"subscribe","error":{"code":[],"message":7}}' # an error all the same
	)
	for f in "${frames[@]}"; do printf '{"exchange":"gateio","local_ts":%s,"data":%s}\n' "$T0" "$f"; done >>"$TMP/in"
	# One side of 6000 levels is refused; one of 4000 is a book.
	for n in 6000 4000; do
		awk -v n="$n" 'BEGIN { printf "{\"exchange\":\"gateio\",\"local_ts\":1,\"data\":{\"channel\":\"spot.obu\",\"result\":{\"t\":1747054612000,\"full\":true,\"s\":\"ob.BTC_USDT.400\",\"u\":1,\"a\":[], \"b\":["
			for (i = 0; i < n; i++) printf "%s[\"%d.5\",\"1\"]", i ? "," : "", 100000 - i
			print "]}}}" }'
	done >>"$TMP/in"
	run bash -c "'$BIN/convert' --book-depth 1 < '$TMP/in' 2>/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"gateio","local_ts":'$T0',"event":"error","detail":""}' ]
	[ "${lines[1]}" = '{"type":"book","exchange":"gateio","symbol":"BTC-USDT","ts":1747054612000000,"local_ts":1,"bids":[[100000.5,1]],"asks":[]}' ]
}

@test "order_book_update: from a full snapshot, stale updates are dropped, overlapping ones applied, a gap resyncs" {
	v1() { # I FULL U u BIDS ASKS
		printf '{"exchange":"gateio","local_ts":%s,"data":{"time":1,"time_ms":1,"channel":"spot.order_book_update","event":"update","result":{"t":%s,%s"l":"100","e":"depthUpdate","E":1,"s":"BTC_USDT","U":%s,"u":%s,"b":%s,"a":%s}}}\n' \
			$((T0 + $1 * 1000)) $(((T0 + $1 * 1000) / 1000 - 9)) "$2" "$3" "$4" "$5" "$6"
	}
	{
		v1 1 '' 10 20 '[["5","1"]]' '[["6","1"]]'                 # before any snapshot: ignored
		v1 2 '"full":true,' 40 50 '[["5","1"]]' '[["6","1"]]'
		v1 3 '' 45 50 '[["4","9"]]' '[]'                           # all seen already: dropped
		v1 4 '' 48 52 '[["4","1"]]' '[]'                           # overlaps 51: applied
		v1 5 '' 54 55 '[["3","1"]]' '[]'                           # 53 is missing
	} >"$TMP/in"
	convert_with_ingest
	mapfile -t got <"$TMP/out"
	[ "${#got[@]}" -eq 3 ]
	[ "${got[0]}" = "$(book_at 2 '[[5,1]]' '[[6,1]]')" ]
	[ "${got[1]}" = "$(book_at 4 '[[5,1],[4,1]]' '[[6,1]]')" ]
	[[ "${got[2]}" == *'"event":"resync","detail":"sequence gap: update 54 follows 52"}' ]]
	wait_until 5 grep -qx 'resync gateio BTC-USDT' "$TMP/ctl.out"
	no_errors
}

@test "the recording and the generator convert without an error or a resync" {
	"$ROOT/bench/gen-gateio" 3000 >"$TMP/gen"
	[ "$(wc -l <"$TMP/gen")" -eq 3000 ]
	for f in "$FIXTURES/recordings/gateio.ndjson" "$TMP/gen"; do
		rm -rf "$TMP/run"
		cp "$f" "$TMP/in"
		convert_with_ingest
		no_errors
		[ "$(prom exchange_convert_book_resyncs_total 'exchange="gateio"')" = 0 ]
		[ "$(wc -l <"$TMP/out")" -eq "$(wc -l <"$f")" ] # every frame is one line
		for s in BTC-USDT ETH-USDT SOL-USDT; do
			for t in trade ticker book; do
				grep -q "\"type\":\"$t\",\"exchange\":\"gateio\",\"symbol\":\"$s\"" "$TMP/out"
			done
		done
		kill "$(pid_of ctl)" 2>/dev/null || true
	done
}

@test "ingest --check takes Gate's pairs and rejects what is not BASE-QUOTE" {
	run "$BIN/ingest" --check -x gateio:BTC-USDT,ETH-USDT,GT-USDT -c trade,ticker,book
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x gateio
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --check -x gateio:BTC_USDT
	[ "$status" -eq 2 ]
}

@test "ingest: one subscribe per channel, spot.ping keep-alive, spot.pong kept inside, resync = unsubscribe + subscribe" {
	# The fake exchange's Binance mode is only a WebSocket peer here: it records what the
	# client sends (and answers with errors, which ingest forwards as it should).
	mkdir -p "$TMP/run"
	start_fakex fx binance
	start ingest "$BIN/ingest" -x gateio:BTC-USDT,ETH-USDT --keepalive 400 --run-dir "$TMP/run" \
		--url "gateio=ws://127.0.0.1:$FX_PORT/ws"
	wait_until 10 at_least 2 "$TMP/fx.events" 'spot.ping'
	grep '"event":"message"' "$TMP/fx.events" | jq -r .text >"$TMP/sent"
	jq -e -s '.[0] | .channel == "spot.trades" and .event == "subscribe" and .payload == ["BTC_USDT","ETH_USDT"] and (.time | type) == "number"' "$TMP/sent"
	jq -e -s '.[1] | .channel == "spot.tickers" and .event == "subscribe" and .payload == ["BTC_USDT","ETH_USDT"]' "$TMP/sent"
	jq -e -s '.[2] | .channel == "spot.obu" and .event == "subscribe" and .payload == ["ob.BTC_USDT.50","ob.ETH_USDT.50"]' "$TMP/sent"
	jq -e -s '.[3] == {"channel":"spot.ping"}' "$TMP/sent"
	# A pong is a heartbeat: counted, never forwarded.
	fx fx send '{"time":1545404023,"time_ms":1545404023000,"channel":"spot.pong","event":"","error":null,"result":null}'
	wait_until 5 bash -c "grep -q '^exchange_ingest_heartbeats_total{exchange=\"gateio\"} [1-9]' '$TMP/run/ingest.prom'"
	[ "$(count "$TMP/ingest.out" 'spot.pong')" -eq 0 ]
	# A resync unsubscribes and subscribes that pair's book stream only.
	run bash -c "echo 'resync gateio ETH-USDT' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	wait_until 10 grep -q '\\"event\\":\\"subscribe\\",\\"payload\\":\[\\"ob.ETH_USDT.50\\"\]' "$TMP/fx.events"
	grep '"event":"message"' "$TMP/fx.events" | jq -r .text | grep -v spot.ping | tail -2 >"$TMP/resync"
	jq -e -s '.[0] | .channel == "spot.obu" and .event == "unsubscribe" and .payload == ["ob.ETH_USDT.50"]' "$TMP/resync"
	jq -e -s '.[1] | .channel == "spot.obu" and .event == "subscribe" and .payload == ["ob.ETH_USDT.50"]' "$TMP/resync"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}
