#!/usr/bin/env bats
# Bitget v2 spot: the full-depth book kept from a snapshot and updates (sequence numbers,
# checksums, crossed books, resyncs), bad input, and ingest's side of the protocol against
# a small fake Bitget (Node's ws module).

load helpers

setup() {
	setup_tmp
	mkdir "$TMP/run"
}
teardown() { teardown_tmp; }

# crc TEXT: Bitget's checksum of TEXT, the CRC32 read as a signed 32-bit integer (gzip's
# trailer carries the CRC32 of its input, least significant byte first).
crc() {
	local -a b
	read -ra b < <(printf '%s' "$1" | gzip -c | tail -c 8 | od -An -tu1 -N4)
	local u=$((b[0] + (b[1] << 8) + (b[2] << 16) + (b[3] << 24)))
	echo $((u >= 2147483648 ? u - 4294967296 : u))
}

# book LOCAL_TS ACTION SEQ CHECKSUM BIDS ASKS [EXTRA]: one envelope line of the `books`
# channel of $INST (default BTCUSDT); EXTRA is added to the data object (",\"pseq\":10").
book() {
	local ms=$(($1 / 1000 - 25))
	printf '{"exchange":"bitget","local_ts":%s,"data":{"action":"%s","arg":{"instType":"SPOT","channel":"books","instId":"%s"},"data":[{"asks":%s,"bids":%s,"checksum":%s,"seq":%s%s,"ts":"%s"}],"ts":%s}}\n' \
		"$1" "$2" "${INST:-BTCUSDT}" "$6" "$5" "$4" "$3" "${7:-}" "$ms" "$((ms + 4))"
}

# The book every scenario starts from, and updates that keep it consistent. The sizes keep
# their trailing zeros: the checksum is over the exchange's own text.
SNAP_BIDS='[["100.50","1.000"],["100.00","2.50"],["99.90","0.10"]]'
SNAP_ASKS='[["101.00","0.500"],["101.50","3"],["102.00","1.25"]]'
U1_BIDS='[["100.50","0.750"],["99.90","0"],["100.70","4"]]'
U1_ASKS='[["101.50","0"],["101.20","0.3"]]'
U1_CRC_TEXT='100.70:4:101.00:0.500:100.50:0.750:101.20:0.3:100.00:2.50:102.00:1.25'
U1_BOOK='"bids":[[100.7,4],[100.5,0.75],[100,2.5]],"asks":[[101,0.5],[101.2,0.3],[102,1.25]]'
U2_ASKS='[["101.00","0"]]'
U2_CRC_TEXT='100.70:4:101.20:0.3:100.50:0.750:102.00:1.25:100.00:2.50'
U2_BOOK='"bids":[[100.7,4],[100.5,0.75],[100,2.5]],"asks":[[101.2,0.3],[102,1.25]]'
# After a resync: a different book, and one update to it.
S2_BIDS='[["100.60","1"]]'
S2_ASKS='[["100.80","2"]]'
S2U_BIDS='[["100.65","0.5"]]'
S2U_CRC_TEXT='100.65:0.5:100.80:2:100.60:1'
S2U_BOOK='"bids":[[100.65,0.5],[100.6,1]],"asks":[[100.8,2]]'

T0=1732222222100000 # local_ts of the first line, µs

# run_convert FILE: convert with a run dir; output in $TMP/out, log in $TMP/err.
run_convert() {
	"$BIN/convert" --run-dir "$TMP/run" <"$1" >"$TMP/out" 2>"$TMP/err"
}

# The line types of $TMP/out, with the resync details, one word per line.
kinds() {
	jq -r 'if .type == "status" then "resync:" + .detail else .type end' "$TMP/out" | paste -sd' '
}

# A fake ingest control socket that records what convert asks.
fake_ingest() {
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
}

no_errors() {
	[ "$(count "$TMP/err" 'line skipped')" -eq 0 ]
}

@test "the shell crc helper the scenarios use is Bitget's signed CRC32" {
	[ "$(crc '123456789')" = -873187034 ] # the CRC-32 check value, 0xcbf43926
	[ "$(crc 'abc')" = 891568578 ]
	# The strings of the documentation's two examples.
	[ "$(crc '43231.1:4:43232.8:9:43231:6:43232.9:8')" = -1504501796 ]
	[ "$(crc '3366.1:7:3366.8:9:3368:8:3372:8')" = 831078360 ]
}

@test "books: the documentation's second example as a book with fewer than 25 levels" {
	{
		INST=ETHUSDT book $T0 snapshot 1 0 '[["3366.1","7"],["3366.0","6"]]' '[["3366.8","9"],["3368","8"],["3372","8"]]'
		INST=ETHUSDT book $((T0 + 1)) update 2 831078360 '[["3366.0","0"]]' '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book" ]
	tail -1 "$TMP/out" | grep -qF '"symbol":"ETH-USDT",'
	tail -1 "$TMP/out" | grep -qF '"bids":[[3366.1,7]],"asks":[[3366.8,9],[3368,8],[3372,8]]}'
}

@test "books: snapshot + updates give the exact book, checksums over the original text" {
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 "$(crc "$U1_CRC_TEXT")" "$U1_BIDS" "$U1_ASKS"
		book $((T0 + 400000)) update 12 "$(crc "$U2_CRC_TEXT")" '[]' "$U2_ASKS"
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book book" ]
	[ "$(sed -n 1p "$TMP/out")" = '{"type":"book","exchange":"bitget","symbol":"BTC-USDT","ts":1732222222075000,"local_ts":1732222222100000,"bids":[[100.5,1],[100,2.5],[99.9,0.1]],"asks":[[101,0.5],[101.5,3],[102,1.25]]}' ]
	[ "$(sed -n 2p "$TMP/out")" = '{"type":"book","exchange":"bitget","symbol":"BTC-USDT","ts":1732222222275000,"local_ts":1732222222300000,'"$U1_BOOK"'}' ]
	[ "$(sed -n 3p "$TMP/out")" = '{"type":"book","exchange":"bitget","symbol":"BTC-USDT","ts":1732222222475000,"local_ts":1732222222500000,'"$U2_BOOK"'}' ]
	# --book-depth cuts the kept book's line too.
	"$BIN/convert" --book-depth 1 <"$TMP/in" | tail -1 | grep -qF '"bids":[[100.7,4]],"asks":[[101.2,0.3]]}'
}

@test "books: a checksum of the canonical text instead of the original is a mismatch" {
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 "$(crc '100.7:4:101:0.5:100.5:0.75:101.2:0.3:100:2.5:102:1.25')" "$U1_BIDS" "$U1_ASKS"
	} >"$TMP/in"
	run_convert "$TMP/in"
	[ "$(kinds)" = "book resync:checksum mismatch: got $(crc '100.7:4:101:0.5:100.5:0.75:101.2:0.3:100:2.5:102:1.25'), computed $(crc "$U1_CRC_TEXT")" ]
}

@test "books: fewer than 25 levels a side, and more: the checksum takes the best 25 of each" {
	# 30 bids and 2 asks: the string interleaves while both sides have levels, then bids.
	local bids='' text='' i px
	for i in $(seq 0 29); do
		px=$((1000 - i)).0
		bids+="${bids:+,}[\"$px\",\"1.0\"]"
	done
	{
		book $T0 snapshot 10 0 "[$bids]" '[["1001.0","2.0"],["1002.0","3.0"]]'
		text='1000.0:5:1001.0:2.0:999.0:1.0:1002.0:3.0'
		for i in $(seq 2 24); do text+=":$((1000 - i)).0:1.0"; done
		book $((T0 + 200000)) update 11 "$(crc "$text")" '[["1000.0","5"]]' '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book" ]
	tail -1 "$TMP/out" | grep -qF '"bids":[[1000,5],[999,1],'
}

@test "books: a sequence that goes back: one resync, no book until the next snapshot" {
	fake_ingest
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 "$(crc "$U1_CRC_TEXT")" "$U1_BIDS" "$U1_ASKS"
		book $((T0 + 400000)) update 9 "$(crc "$U2_CRC_TEXT")" '[]' "$U2_ASKS"
		book $((T0 + 600000)) update 12 0 '[]' '[["101.20","0.4"]]'
		book $((T0 + 800000)) update 13 0 '[["100.10","1"]]' '[]'
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book resync:sequence went back 11 -> 9 book book" ]
	grep -qF '{"type":"status","exchange":"bitget","symbol":"BTC-USDT","local_ts":1732222222500000,"event":"resync","detail":"sequence went back 11 -> 9"}' "$TMP/out"
	[ "$(tail -1 "$TMP/out")" = '{"type":"book","exchange":"bitget","symbol":"BTC-USDT","ts":1732222223275000,"local_ts":1732222223300000,'"$S2U_BOOK"'}' ]
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="bitget"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_checksum_failures_total 'exchange="bitget"')" = 0 ]
}

@test "books: a previous-sequence gap (pseq) resyncs; a repeated sequence number does not" {
	fake_ingest
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS" ',"pseq":0'
		book $((T0 + 200000)) update 11 "$(crc "$U1_CRC_TEXT")" "$U1_BIDS" "$U1_ASKS" ',"pseq":10'
		# The same update again: sizes are absolute, so it changes nothing and is
		# accepted (its checksum still has to match).
		book $((T0 + 300000)) update 11 "$(crc "$U1_CRC_TEXT")" "$U1_BIDS" "$U1_ASKS" ',"pseq":10'
		book $((T0 + 400000)) update 13 "$(crc "$U2_CRC_TEXT")" '[]' "$U2_ASKS" ',"pseq":12'
		book $((T0 + 600000)) update 14 0 '[]' '[]' ',"pseq":13'
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS" ',"pseq":0'
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]' ',"pseq":20'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book book resync:sequence gap 11 -> 12 book book" ]
	tail -1 "$TMP/out" | grep -qF "$S2U_BOOK"
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="bitget"')" = 1 ]
}

@test "books: a wrong checksum: one resync, counted as a checksum failure, a good book after" {
	fake_ingest
	local good
	good=$(crc "$U1_CRC_TEXT")
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 12345 "$U1_BIDS" "$U1_ASKS"
		book $((T0 + 400000)) update 12 "$(crc "$U2_CRC_TEXT")" '[]' "$U2_ASKS"
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book resync:checksum mismatch: got 12345, computed $good book book" ]
	tail -1 "$TMP/out" | grep -qF "$S2U_BOOK"
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="bitget"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_checksum_failures_total 'exchange="bitget"')" = 1 ]
}

@test "books: a crossed book (checksum right): one resync, no book until the next snapshot" {
	fake_ingest
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 "$(crc '101.00:1:101.00:0.500:100.50:1.000:101.50:3:100.00:2.50:102.00:1.25:99.90:0.10')" '[["101.00","1"]]' '[]'
		book $((T0 + 400000)) update 12 0 '[["101.00","0"]]' '[]'
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book resync:crossed book book book" ]
	tail -1 "$TMP/out" | grep -qF "$S2U_BOOK"
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_book_resyncs_total 'exchange="bitget"')" = 1 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_checksum_failures_total 'exchange="bitget"')" = 0 ]
}

@test "books: updates before any snapshot ask for one once, then wait for it" {
	fake_ingest
	{
		book $T0 update 11 0 "$U1_BIDS" "$U1_ASKS"
		book $((T0 + 200000)) update 12 0 '[]' "$U2_ASKS"
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "resync:update without a snapshot book book" ]
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
}

@test "books: an unreadable update is an error, drops the book, and the next update asks for a snapshot" {
	fake_ingest
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 0 '[["100.5x","1"]]' '[]'
		book $((T0 + 400000)) update 12 0 '[]' "$U2_ASKS"
		book $((T0 + 600000)) update 13 0 '[]' "$U2_ASKS"
		book $((T0 + 1000000)) snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 1200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	[ "$(kinds)" = "book resync:book dropped after an unreadable frame book book" ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="number"')" = 1 ]
	wait_until 5 grep -qx 'resync bitget BTC-USDT' "$TMP/ctl.out"
}

@test "books: symbols are kept apart; a fault in one leaves the other flowing" {
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		INST=ETHUSDT book $((T0 + 1000)) snapshot 500 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 200000)) update 11 777 "$U1_BIDS" "$U1_ASKS"
		INST=ETHUSDT book $((T0 + 201000)) update 501 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	jq -r '[.type, .symbol] | join(" ")' "$TMP/out" | paste -sd, >"$TMP/seq"
	[ "$(cat "$TMP/seq")" = "book BTC-USDT,book ETH-USDT,status BTC-USDT,book ETH-USDT" ]
}

@test "books5 and the other snapshot channels need no kept book" {
	local s5='{"action":"snapshot","arg":{"instType":"SPOT","channel":"books5","instId":"SOLUSDT"},"data":[{"asks":[["240.12","3.5"],["240.13","1"]],"bids":[["240.10","2"],["240.05","10.0"]],"checksum":0,"seq":7,"ts":"1732222222100"}],"ts":1732222222104}'
	printf '{"exchange":"bitget","local_ts":%s,"data":%s}\n' $T0 "$s5" "$((T0 + 1))" "${s5/books5/books1}" >"$TMP/in"
	run_convert "$TMP/in"
	no_errors
	[ "$(kinds)" = "book book" ]
	head -1 "$TMP/out" | grep -qF '"symbol":"SOL-USDT","ts":1732222222100000,"local_ts":1732222222100000,"bids":[[240.1,2],[240.05,10]],"asks":[[240.12,3.5],[240.13,1]]}'
}

@test "trades: oldest first, and a snapshot after a reconnect does not repeat trades" {
	run "$BIN/convert" <"$FIXTURES/golden/bitget_trade.in"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | paste -sd' ')" = "1000000000 1250000000000000001 1250000000000000002 1250000000000000003 1250000000000000004 1250000000000000005" ]
}

@test "bad input: truncated frames, wrong types and huge arrays never crash convert" {
	local good snap bad levels i
	good=$(head -1 "$FIXTURES/golden/bitget_trade.in")
	snap=$(book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS")
	{
		# Every prefix of a snapshot and of an update.
		for i in $(seq 1 ${#snap}); do printf '%s\n' "${snap:0:$i}"; done
		bad=$(book $((T0 + 1)) update 11 0 "$U1_BIDS" "$U1_ASKS")
		for i in $(seq 1 ${#bad}); do printf '%s\n' "${bad:0:$i}"; done
		# Wrong types everywhere.
		for d in '[]' '"x"' '{}' '{"event":5}' '{"event":"subscribe"}' '{"event":"subscribe","arg":[]}' \
			'{"event":"error"}' '{"event":"nope"}' '{"action":"snapshot"}' '{"action":"snapshot","arg":{},"data":[]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":{}}' \
			'{"action":7,"arg":{"channel":"books","instId":"BTCUSDT"},"data":[]}' \
			'{"action":"update","arg":{"channel":"books","instId":5},"data":[]}' \
			'{"action":"update","arg":{"channel":"books","instId":"???"},"data":[]}' \
			'{"action":"update","arg":{"channel":"candle1m","instId":"BTCUSDT"},"data":[]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[5,"x",null]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":"x"}]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":[1,[2],["3"],[[]],[{},{}]]}]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":[["1","-1"]],"seq":"x"}]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":[["0","1"]]}]}' \
			'{"action":"snapshot","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"asks":[["1e999","1"]],"checksum":{}}]}' \
			'{"action":"update","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":[["1","1"]],"seq":99999999999999999999}]}' \
			'{"action":"update","arg":{"channel":"books","instId":"BTCUSDT"},"data":[{"bids":[["1","1"]],"checksum":"abc","ts":"soon"}]}' \
			'{"action":"update","arg":{"channel":"books5","instId":"BTCUSDT"},"data":[{"bids":[["2","1"],["3","1"]]}]}' \
			'{"action":"update","arg":{"channel":"trade","instId":"BTCUSDT"},"data":[{"side":"up","price":"1","size":"1","tradeId":"1"}]}' \
			'{"action":"update","arg":{"channel":"trade","instId":"BTCUSDT"},"data":[{"side":"buy","price":true,"size":"1","tradeId":"1"}]}' \
			'{"action":"update","arg":{"channel":"trade","instId":"BTCUSDT"},"data":[7,{"ts":[],"tradeId":{}}]}' \
			'{"action":"snapshot","arg":{"channel":"ticker","instId":"BTCUSDT"},"data":[{"instId":7,"lastPr":true}]}' \
			'{"action":"snapshot","arg":{"channel":"ticker","instId":"BTCUSDT"},"data":[{"lastPr":"1x"}]}'; do
			printf '{"exchange":"bitget","local_ts":%s,"data":%s}\n' "$T0" "$d"
		done
		# Huge arrays: 20000 levels a side (deeper than a kept book may be), 5000
		# trades newest first, 100000 empty tickers.
		levels=$(awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "%s[\"%d.5\",\"1\"]", (i > 1 ? "," : ""), 100000 - i }')
		book $((T0 + 2)) snapshot 30 0 "[$levels]" '[["200000","1"]]'
		printf '{"exchange":"bitget","local_ts":%s,"data":{"action":"snapshot","arg":{"channel":"trade","instId":"BTCUSDT"},"data":[%s]}}\n' "$T0" \
			"$(awk 'BEGIN { for (i = 5000; i >= 1; i--) printf "%s{\"ts\":\"%d\",\"price\":\"1\",\"size\":\"1\",\"side\":\"buy\",\"tradeId\":\"%d\"}", (i < 5000 ? "," : ""), 1732222222000 + i, i }')"
		printf '{"exchange":"bitget","local_ts":%s,"data":{"action":"snapshot","arg":{"channel":"ticker","instId":"BTCUSDT"},"data":[%s]}}\n' "$T0" \
			"$(awk 'BEGIN { for (i = 0; i < 100000; i++) printf "%s{}", (i ? "," : "") }')"
		echo "$good"
	} >"$TMP/bad.ndjson"
	run bash -c "'$BIN/convert' --max-line 4000000 --run-dir '$TMP/run' < '$TMP/bad.ndjson' 2>'$TMP/err'"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$(head -1 "$FIXTURES/golden/bitget_trade.out")" ]
	# The deep snapshot is refused as a book that needs a new snapshot, not as a crash.
	grep -qF '"event":"resync","detail":"book deeper than 10000 levels"' <<<"$output"
	# The 5000 trades of one frame go out oldest first.
	[ "$(grep -c '"price":1,"amount":1,"side":"buy"' <<<"$output")" -eq 5000 ]
	grep -m1 '"price":1,"amount":1,"side":"buy"' <<<"$output" | grep -qF '"id":"1",'
	grep '"price":1,"amount":1,"side":"buy"' <<<"$output" | tail -1 | grep -qF '"id":"5000",'
	# No empty tickers: a ticker without its last price is not one.
	[ "$(grep -c '"type":"ticker"' <<<"$output")" -eq 0 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="field"')" -gt 10 ]
	[ "$(metric "$TMP/run/convert.prom" exchange_convert_errors_total 'reason="json"')" -gt 500 ]
}

@test "ingest --check accepts bitget with symbols, defaults and channels; rejects bad symbols" {
	run "$BIN/ingest" -x bitget:BTC-USDT,ETH-USDT --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bitget --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bitget:SOL-USDT -c book --url bitget=ws://127.0.0.1:1/v2/ws/public --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x binance -x bitget:BTC-USDT --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bitget:BTCUSDT --check
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x bitget --url bitget=http://example.com --check
	[ "$status" -eq 2 ]
}

# A fake Bitget: answers "ping" with "pong" and every subscribe/unsubscribe argument with
# its ack; after a `books` subscription it sends the frames of $TMP/first.books (the first
# time for an instId) or $TMP/again.books (later), with BTCUSDT replaced by the instId.
# Every client message goes to $TMP/fb.events as {"text":...,"ms":...}.
start_fake_bitget() {
	cat >"$TMP/fake-bitget.js" <<'EOF'
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const dir = process.argv[2];
const frames = (f) => fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
const first = frames(dir + '/first.books'), again = frames(dir + '/again.books');
const seen = new Set();
const log = (o) => fs.appendFileSync(dir + '/fb.events', JSON.stringify(o) + '\n');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => process.stdout.write('listening ' + wss.address().port + '\n'));
wss.on('connection', (ws, req) => {
	log({ event: 'connect', path: req.url });
	ws.on('message', (data) => {
		const text = data.toString();
		log({ text, ms: Date.now() });
		if (text === 'ping') return ws.send('pong');
		let m;
		try { m = JSON.parse(text); } catch (e) { return ws.send('{"event":"error","code":30012,"msg":"bad request"}'); }
		for (const arg of m.args || []) {
			ws.send(JSON.stringify({ event: m.op, arg }));
			if (m.op !== 'subscribe' || arg.channel !== 'books') continue;
			const list = seen.has(arg.instId) ? again : first;
			seen.add(arg.instId);
			for (const f of list) ws.send(f.split('BTCUSDT').join(arg.instId));
		}
	});
});
process.on('SIGTERM', () => process.exit(0));
EOF
	start fb env NODE_PATH=/usr/share/nodejs node "$TMP/fake-bitget.js" "$TMP"
	wait_until 10 grep -q '^listening' "$TMP/fb.out" || return 1
	FB_PORT=$(awk '/^listening/ { print $2 }' "$TMP/fb.out")
}

# The frames (the "data" of envelope lines) of $1 into $2.
frames_of() { jq -c .data "$1" >"$2"; }

@test "ingest: one subscribe request with SPOT args, text ping / pong kept inside, acks forwarded" {
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 "$(crc "$U1_CRC_TEXT")" "$U1_BIDS" "$U1_ASKS"
	} >"$TMP/books"
	frames_of "$TMP/books" "$TMP/first.books"
	start_fake_bitget
	start ingest "$BIN/ingest" -x bitget:BTC-USDT,ETH-USDT --url "bitget=ws://127.0.0.1:$FB_PORT/v2/ws/public" \
		--run-dir "$TMP/run" --keepalive 300
	wait_until 10 at_least 2 "$TMP/ingest.out" '"action":"update"'
	# The path of the public endpoint is kept; the first message subscribes everything.
	grep -qF '"path":"/v2/ws/public"' "$TMP/fb.events"
	jq -se '[.[] | select(.text) | .text | select(startswith("{"))][0] | fromjson ==
		{"op":"subscribe","args":[
			{"instType":"SPOT","channel":"trade","instId":"BTCUSDT"},
			{"instType":"SPOT","channel":"ticker","instId":"BTCUSDT"},
			{"instType":"SPOT","channel":"books","instId":"BTCUSDT"},
			{"instType":"SPOT","channel":"trade","instId":"ETHUSDT"},
			{"instType":"SPOT","channel":"ticker","instId":"ETHUSDT"},
			{"instType":"SPOT","channel":"books","instId":"ETHUSDT"}]}' "$TMP/fb.events"
	# Keep-alives are the text "ping"; the text "pong" answers are counted, never forwarded.
	wait_until 10 at_least 3 "$TMP/fb.events" '"text":"ping"'
	wait_until 10 grep -qE '^exchange_ingest_heartbeats_total\{exchange="bitget"\} [1-9]' "$TMP/run/ingest.prom"
	[ "$(count "$TMP/ingest.out" pong)" -eq 0 ]
	[ "$(count "$TMP/ingest.out" '"event":"subscribe"')" -eq 6 ]
	# What ingest recorded converts: acks, then both books.
	"$BIN/convert" <"$TMP/ingest.out" >"$TMP/conv" 2>"$TMP/conv.err"
	[ "$(count "$TMP/conv" '"event":"subscribed"')" -eq 6 ]
	grep -qF '"symbol":"BTC-USDT",' "$TMP/conv"
	[ "$(count "$TMP/conv" "$U1_BOOK")" -eq 2 ]
	[ "$(count "$TMP/conv" resync)" -eq 0 ]
}

@test "ingest + convert: a bad checksum makes convert ask, ingest unsubscribes and resubscribes, the book comes back" {
	{
		book $T0 snapshot 10 0 "$SNAP_BIDS" "$SNAP_ASKS"
		book $((T0 + 200000)) update 11 4242 "$U1_BIDS" "$U1_ASKS"
	} >"$TMP/bad"
	frames_of "$TMP/bad" "$TMP/first.books"
	{
		book $T0 snapshot 20 0 "$S2_BIDS" "$S2_ASKS"
		book $((T0 + 200000)) update 21 "$(crc "$S2U_CRC_TEXT")" "$S2U_BIDS" '[]'
	} >"$TMP/good"
	frames_of "$TMP/good" "$TMP/again.books"
	start_fake_bitget
	# ingest | convert, through a FIFO so that each has its own recorded pid.
	mkfifo "$TMP/pipe"
	start_in conv "$TMP/pipe" "$BIN/convert" --run-dir "$TMP/run"
	"$BIN/ingest" -x bitget:ETH-USDT -c book --url "bitget=ws://127.0.0.1:$FB_PORT" --run-dir "$TMP/run" \
		>"$TMP/pipe" 2>"$TMP/ingest.err" 3>&- &
	echo "$! ingest" >>"$PIDS_FILE"
	wait_until 15 grep -qF "$S2U_BOOK" "$TMP/conv.out"
	# Exactly one resync, for the checksum, and no book between it and the new snapshot.
	[ "$(count "$TMP/conv.out" '"event":"resync"')" -eq 1 ]
	grep -qF '"symbol":"ETH-USDT","local_ts":' "$TMP/conv.out"
	grep -qF '"event":"resync","detail":"checksum mismatch: got 4242, computed' "$TMP/conv.out"
	jq -r 'select(.type == "book" or .event == "resync") | .type' "$TMP/conv.out" | paste -sd' ' >"$TMP/kinds"
	[ "$(cat "$TMP/kinds")" = "book status book book" ]
	# On the wire: unsubscribe then subscribe of that one book, paced.
	jq -sr '[.[] | select(.text) | .text | select(startswith("{\"op\""))] | .[1:] | join("\n")' "$TMP/fb.events" >"$TMP/sent"
	[ "$(cat "$TMP/sent")" = '{"op":"unsubscribe","args":[{"instType":"SPOT","channel":"books","instId":"ETHUSDT"}]}
{"op":"subscribe","args":[{"instType":"SPOT","channel":"books","instId":"ETHUSDT"}]}' ]
	jq -se '[.[] | select(.text and (.text | startswith("{\"op\""))) | .ms] | .[2] - .[1] >= 150' "$TMP/fb.events"
}

@test "ingest: 150 symbols go out in requests of at most 4096 bytes, 200 ms apart, each arg once" {
	local syms
	syms=$(for i in $(seq 1 150); do printf 'C%03d-USDT\n' "$i"; done | paste -sd,)
	start_fake_bitget
	start ingest "$BIN/ingest" -x "bitget:$syms" --url "bitget=ws://127.0.0.1:$FB_PORT" --run-dir "$TMP/run"
	wait_until 20 at_least 450 "$TMP/ingest.out" '"event":"subscribe"'
	jq -c 'select(.text and (.text | startswith("{\"op\":\"subscribe\"")))' "$TMP/fb.events" >"$TMP/subs"
	[ "$(wc -l <"$TMP/subs")" -ge 2 ]
	# Every request fits the documented size, and together they hold each pair once.
	jq -e '.text | length <= 4096' "$TMP/subs" >/dev/null
	jq -r '.text | fromjson | .args[] | .instId + "/" + .channel' "$TMP/subs" | sort >"$TMP/args"
	[ "$(wc -l <"$TMP/args")" -eq 450 ]
	[ "$(sort -u "$TMP/args" | wc -l)" -eq 450 ]
	grep -qx 'C150USDT/books' "$TMP/args"
	# Paced: 10 messages a second is Bitget's limit, pings included.
	jq -se '[.[] | .ms] | [range(1; length) as $i | .[$i] - .[$i - 1]] | min >= 150' "$TMP/subs"
}
