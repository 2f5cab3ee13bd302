#!/usr/bin/env bats
# convert: golden files, offline use, and every kind of bad input.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

env_line() { # env_line EXCHANGE LOCAL_TS DATA
	printf '{"exchange":"%s","local_ts":%s,"data":%s}\n' "$1" "$2" "$3"
}

@test "golden: every recorded channel of every exchange converts byte for byte" {
	local n=0
	for input in "$FIXTURES"/golden/*.in; do
		"$BIN/convert" <"$input" >"$TMP/got" 2>"$TMP/err"
		if ! cmp -s "$TMP/got" "${input%.in}.out"; then
			echo "mismatch for $(basename "$input"):"
			diff "${input%.in}.out" "$TMP/got" || true
			return 1
		fi
		# Golden inputs are all good lines: nothing may be reported as skipped.
		[ "$(count "$TMP/err" 'line skipped')" -eq 0 ]
		n=$((n + 1))
	done
	[ "$n" -ge 40 ]
}

@test "offline: a recording converts to lines jq reads, in input order" {
	cat "$FIXTURES"/golden/*.in >"$TMP/rec.ndjson"
	run bash -c "'$BIN/convert' < '$TMP/rec.ndjson' | jq -c '[.type, .exchange, .symbol]'"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq "$(cat "$FIXTURES"/golden/*.out | wc -l)" ]
	[ "${lines[0]}" = '["trade","binance","BNB-BTC"]' ]
}

@test "every line is compact JSON with the contract's leading keys in order" {
	cat "$FIXTURES"/golden/*.in | "$BIN/convert" >"$TMP/out"
	run grep -cvE '^\{"type":"(trade|ticker|book|status|derivative|liquidation)","exchange":"[a-z]+(-[a-z]+)?",("symbol":"[A-Z0-9]+-[A-Z0-9]+(-PERP|-20[0-9]{6})?",)?("ts":[0-9]+,)?"local_ts":[0-9]+[,}]' "$TMP/out"
	[ "$output" = "0" ]
	jq -e 'select(.type=="trade") | (.price|type)=="number" and (.amount|type)=="number" and (.id|type)=="string" and (.side|IN("buy","sell","unknown"))' "$TMP/out" >/dev/null
}

@test "bad input: each kind is skipped, counted by reason, logged; good lines still convert" {
	local good
	good=$(head -1 "$FIXTURES/golden/binance_trade.in")
	{
		echo "$good"
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade"'        # malformed JSON
		echo "$good"
		printf '{"exchange":"upbit","local_ts":1,"data":{"type":"trade","code":"KRW-\xff"}}\n' # bad UTF-8
		echo '[1,2,3]'                                                          # not an envelope
		echo '{"exchange":"nowhere","local_ts":1,"data":{}}'                    # unknown exchange
		echo '{"exchange":"binance","local_ts":1,"data":{"hello":"world"}}'     # unknown shape
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade","s":"BTCUSDT","T":1672515782135,"t":1,"q":"1","m":true}}' # price missing
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade","s":"BTCUSDT","T":"soon","t":1,"p":"1","q":"1","m":true}}' # mistyped time
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade","s":"BTCUSDT","T":1672515782135,"t":1,"p":"1e999999","q":"1","m":true}}' # absurd number
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade","s":"BTCUSDT","T":1672515782135,"t":1,"p":"12abc","q":"1","m":true}}' # not a decimal
		echo '{"exchange":"binance","local_ts":1,"data":{"e":"trade","s":"WHATEVER","T":1672515782135,"t":1,"p":"1","q":"1","m":true}}' # unsplittable symbol
		head -c 3000000 /dev/zero | tr '\0' 'x'; echo                          # over the line limit
		printf '%s' "$good" | head -c 40; echo                                 # truncated line
		echo "$good"
	} >"$TMP/bad.ndjson"
	mkdir "$TMP/run"
	run "$BIN/convert" --max-line 1000000 --run-dir "$TMP/run" <"$TMP/bad.ndjson"
	[ "$status" -eq 0 ]
	[ "$(grep -c '"type":"trade"' <<<"$output")" -eq 3 ]
	prom=$TMP/run/convert.prom
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="json"')" = 2 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="utf8"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="envelope"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="exchange"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="shape"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="field"')" = 2 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="number"')" = 2 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="symbol"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="too_long"')" = 1 ]
	[ "$(metric "$prom" exchange_convert_lines_total)" = 14 ]
}

@test "golden-style: trades and book levels priced at zero or below are left out, counted, logged" {
	# One bad trade or level costs that trade or level only: the frame's others are kept
	# (an OKX and a Kraken frame of two trades, an Upbit and a Binance book with bad levels).
	mkdir "$TMP/run"
	"$BIN/convert" --run-dir "$TMP/run" <"$FIXTURES/skipped/nonpositive.in" >"$TMP/got" 2>"$TMP/err"
	diff "$FIXTURES/skipped/nonpositive.out" "$TMP/got"
	# Nothing with a price or amount at or below zero reaches a client.
	[ "$(jq -s '[.[] | select(.type == "trade") | select(.price <= 0 or .amount <= 0)] | length' "$TMP/got")" = 0 ]
	[ "$(jq -s '[.[] | select(.type == "book") | (.bids + .asks)[] | select(.[0] <= 0 or .[1] <= 0)] | length' "$TMP/got")" = 0 ]
	prom=$TMP/run/convert.prom
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="price"')" = 6 ]
	[ "$(metric "$prom" exchange_convert_errors_total 'reason="amount"')" = 4 ]
	[ "$(metric "$prom" exchange_convert_messages_total 'type="trade"')" = 3 ]
	[ "$(metric "$prom" exchange_convert_messages_total 'type="book"')" = 2 ]
	grep -q 'level=warn tool=convert msg="trade or book level skipped" exchange=binance reason=price detail="trade price 0"' "$TMP/err"
	grep -q 'msg="trade or book level skipped" exchange=okx reason=price detail="trade price -42219.9"' "$TMP/err"
	# Ten in a burst: the first five are logged, the rest counted as suppressed.
	[ "$(count "$TMP/err" 'msg="trade or book level skipped"')" -eq 5 ]
	[ "$(count "$TMP/err" 'msg="line skipped"')" -eq 0 ]
}

@test "a delta priced at zero or below never reaches a kept book; the book is rebuilt" {
	# Binance's kept book: snapshot, one update, then an update adding a bid at price 0.
	head -4 "$FIXTURES/golden/binance_fulldepth.in" >"$TMP/in"
	{
		env_line binance 1672515782200009 '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1672515782736,"s":"BTCUSDT","U":113,"u":113,"b":[["0","5"]],"a":[]}}'
		env_line binance 1672515782200010 '{"stream":"btcusdt@depthSnapshot","data":{"lastUpdateId":113,"bids":[["99.50","2"],["99.00","1"]],"asks":[["100.50","1"]]}}'
		env_line binance 1672515782200011 '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1672515782936,"s":"BTCUSDT","U":114,"u":114,"b":[["99.50","0"],["99.40","3"]],"a":[]}}'
	} >>"$TMP/in"
	mkdir "$TMP/run"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/got" 2>"$TMP/err"
	[ "$(jq -s '[.[] | select(.type == "book") | (.bids + .asks)[] | select(.[0] <= 0)] | length' "$TMP/got")" = 0 ]
	# A delta that cannot be applied is refused whole and counted, and the book is dropped
	# and rebuilt from a new snapshot, so it never silently differs from the exchange's.
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="number"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="binance"')" -ge 2 ]
	# On the rebuilt book an amount of 0 still deletes its level.
	tail -1 "$TMP/got" | grep -qF '"bids":[[99.4,3],[99,1]],"asks":[[100.5,1]]}'
}

@test "bad input: log lines are logfmt and rate-limited" {
	for _ in $(seq 1 500); do echo 'not json'; done >"$TMP/junk"
	"$BIN/convert" <"$TMP/junk" >"$TMP/out" 2>"$TMP/err"
	[ ! -s "$TMP/out" ]
	n=$(count "$TMP/err" 'msg="line skipped" reason=json')
	[ "$n" -ge 1 ]
	[ "$n" -le 10 ]
	grep -qE '^ts=[0-9T:.-]+Z level=warn tool=convert msg="line skipped"' "$TMP/err"
}

@test "fuzzed lines never crash convert" {
	# Random bytes, and lines cut at every length: convert must survive and exit 0.
	head -c 200000 /dev/urandom | tr -d '\n' | fold -w 97 >"$TMP/noise"
	line=$(head -1 "$FIXTURES/golden/upbit_book.in")
	for i in $(seq 1 ${#line}); do printf '%s\n' "${line:0:$i}"; done >>"$TMP/noise"
	run bash -c "'$BIN/convert' < '$TMP/noise' 2>/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ] # only the one complete line converts
}

@test "--book-depth cuts every side" {
	run "$BIN/convert" --book-depth 1 <"$FIXTURES/golden/upbit_book.in"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *'"bids":[[137001000,0.03656812]],"asks":[[137002000,0.10623869]]}' ]]
}

@test "--book-interval conflates books per symbol and keeps the newest" {
	for i in $(seq 0 9); do
		env_line upbit $((1746601573900000 + i * 10000)) "{\"type\":\"orderbook\",\"code\":\"KRW-BTC\",\"timestamp\":1746601573804,\"orderbook_units\":[{\"ask_price\":200,\"bid_price\":$((100 + i)),\"ask_size\":1,\"bid_size\":1}]}"
	done >"$TMP/books"
	run "$BIN/convert" --book-interval 50 <"$TMP/books"
	[ "$status" -eq 0 ]
	# 100 ms of books at 50 ms: the first at once, one per slot, the last flushed at EOF.
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == *'"bids":[[100,1]]'* ]]
	[[ "${lines[2]}" == *'"bids":[[109,1]]'* ]]
}

@test "a crossed book becomes a resync status and a request on ingest.sock" {
	mkdir "$TMP/run"
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	env_line upbit 1746601573900000 '{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"orderbook_units":[{"ask_price":99,"bid_price":100,"ask_size":1,"bid_size":1}]}' >"$TMP/crossed"
	run "$BIN/convert" --run-dir "$TMP/run" <"$TMP/crossed"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"status","exchange":"upbit","symbol":"BTC-KRW","local_ts":1746601573900000,"event":"resync","detail":"crossed book"}'* ]]
	[[ "$output" != *'"type":"book"'* ]]
	wait_until 5 grep -q 'resync upbit BTC-KRW' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="upbit"')" = 1 ]
}

@test "a slow reader pauses convert instead of losing lines (default)" {
	one=$(head -1 "$FIXTURES/golden/binance_trade.in")
	yes "$one" | head -20000 >"$TMP/many"
	run bash -c "'$BIN/convert' --buffer 65536 < '$TMP/many' | (sleep 1; wc -l)"
	[ "$status" -eq 0 ]
	[ "$output" -eq 20000 ]
}

@test "--drop: a stalled reader costs counted lines, not a stalled convert" {
	one=$(head -1 "$FIXTURES/golden/binance_trade.in")
	yes "$one" | head -20000 >"$TMP/many"
	mkdir "$TMP/run"
	mkfifo "$TMP/fifo"
	exec 5<>"$TMP/fifo" # a reader that never reads
	run timeout 20 bash -c "'$BIN/convert' --drop --buffer 65536 --run-dir '$TMP/run' < '$TMP/many' > '$TMP/fifo'"
	exec 5<&-
	[ "$status" -eq 0 ]
	dropped=$(metric "$TMP/run/convert.prom" exchange_convert_dropped_total)
	[ "$dropped" -gt 10000 ]
}

@test "usage errors exit 2, --help and --version exit 0, --check validates" {
	run "$BIN/convert" --book-depth 0
	[ "$status" -eq 2 ]
	[ "$output" = "convert: --book-depth: 0 is out of range (1-1000)" ]
	run "$BIN/convert" -d 5000
	[ "$status" -eq 2 ]
	[ "$output" = "convert: --book-depth: 5000 is out of range (1-1000)" ]
	run "$BIN/convert" --book-interval abc
	[ "$status" -eq 2 ]
	[ "$output" = 'convert: --book-interval: "abc" is not a whole number (0-3600000)' ]
	run "$BIN/convert" --max-line 99999999999999999999
	[ "$status" -eq 2 ]
	[ "$output" = "convert: --max-line: 99999999999999999999 is out of range (1024-1073741824)" ]
	run "$BIN/convert" extra-argument
	[ "$status" -eq 2 ]
	run "$BIN/convert" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit status: 0 ok, 1 runtime failure, 2 usage"* ]]
	run "$BIN/convert" --version
	[ "$status" -eq 0 ]
	run "$BIN/convert" --check --book-depth 5
	[ "$status" -eq 0 ]
}

@test "SIGTERM stops convert cleanly while it waits for input" {
	mkfifo "$TMP/in"
	exec 6<>"$TMP/in"
	start_in conv "$TMP/in" "$BIN/convert"
	head -1 "$FIXTURES/golden/binance_trade.in" >&6
	wait_until 5 test -s "$TMP/conv.out"
	kill -TERM "$LAST_PID"
	wait "$LAST_PID"
	status=$?
	exec 6<&-
	[ "$status" -eq 0 ]
	grep -q 'msg="stopping"' "$TMP/conv.err"
}
