#!/usr/bin/env bats
# The derivatives venues' readers (binance-futures, bybit-linear, okx swaps and futures,
# bitget-futures, gateio-futures, hyperliquid): the contract's new lines, books with their
# sequence and checksum rules (gap -> resync), contract sizes learnt from metadata lines
# (unknown, zero, inverse, expired), all-instruments channels and unsubscribed symbols, and
# bad input, all offline. ingest and the fake exchange speaking these venues' protocols are
# in tests/derivfeeds.bats.

load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
}
teardown() { teardown_tmp; }

env_line() { # env_line EXCHANGE LOCAL_TS DATA
	printf '{"exchange":"%s","local_ts":%s,"data":%s}\n' "$1" "$2" "$3"
}

# Runs convert over $TMP/in with a fake ingest control socket; output in $TMP/out, its log
# in $TMP/err, the socket's input in $TMP/ctl.out, metrics in $TMP/run/convert.prom.
convert_with_ctl() {
	start ctl nc -lU "$TMP/run/ingest.sock"
	wait_until 5 test -S "$TMP/run/ingest.sock"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
}

prom() { metric "$TMP/run/convert.prom" "$@"; }
skipped() { prom exchange_convert_errors_total "reason=\"$1\""; }

DERIV_GOLDEN="binancefutures bybitlinear okx_swap bitgetfutures gateiofutures hyperliquid"

golden_out() {
	local v
	for v in $DERIV_GOLDEN; do cat "$FIXTURES"/golden/"$v"_*.out; done
}

@test "contract: derivative and liquidation lines keep the key order, base amounts, sides of the order" {
	golden_out >"$TMP/all"
	[ "$(grep -c '"type":"derivative"' "$TMP/all")" -ge 14 ]
	[ "$(grep -c '"type":"liquidation"' "$TMP/all")" -ge 5 ]
	# Keys in the contract's order, each optional one only when present.
	jq -e -s '[.[] | select(.type == "derivative") | keys_unsorted] | all(
		. as $k | ["type","exchange","symbol","ts","local_ts","mark","index","funding_rate",
			"predicted_funding_rate","funding_ts","open_interest","open_interest_value"]
		| map(select(. as $x | $k | index($x))) == $k)' "$TMP/all"
	jq -e -s '[.[] | select(.type == "derivative") | keys_unsorted | length] | all(. > 4)' "$TMP/all"
	jq -e -s '[.[] | select(.type == "liquidation") | keys_unsorted] | all(
		. as $k | ["type","exchange","symbol","ts","local_ts","id","price","amount","side"]
		| map(select(. as $x | $k | index($x))) == $k)' "$TMP/all"
	jq -e -s '[.[] | select(.type == "liquidation")] | all(.price > 0 and .amount > 0 and (.side | IN("buy","sell")))' "$TMP/all"
	jq -e -s '[.[] | select(.type == "derivative" and .funding_ts)] | all(.funding_ts > 1000000000000000)' "$TMP/all"
	# Every symbol of a derivatives venue is a perpetual or a dated future.
	jq -e -s '[.[] | select(.symbol and .exchange != "okx" and .exchange != "hyperliquid") | .symbol]
		| all(test("^[A-Z0-9]+-[A-Z0-9]+-(PERP|20[0-9]{6})$"))' "$TMP/all"
	# The liquidation sides the venues' conventions give: Binance's SELL order, Bybit's
	# Sell position (a short liquidated: the order buys), OKX's buy order, Gate's negative size.
	grep -qF '"symbol":"BTC-USDT-PERP","ts":1568014460893000,"local_ts":1568014460899200,"price":9910,"amount":0.014,"side":"sell"}' "$TMP/all"
	grep -qF '"exchange":"bybit-linear","symbol":"ROSE-USDT-PERP","ts":1739502302929000,"local_ts":1739502303209000,"price":0.04499,"amount":20000,"side":"buy"}' "$TMP/all"
	grep -qF '"exchange":"okx","symbol":"IOST-USDT-PERP","ts":1692266434010000,"local_ts":1692266434018200,"price":0.007831,"amount":13000,"side":"buy"}' "$TMP/all"
	grep -qF '"exchange":"gateio-futures","symbol":"BTC-USDT-PERP","ts":1541486601123000,"local_ts":1541505434126000,"price":215.1,"amount":0.0124,"side":"sell"}' "$TMP/all"
}

@test "metrics: derivative and liquidation lines are counted by type" {
	for v in $DERIV_GOLDEN; do cat "$FIXTURES"/golden/"$v"_*.in; done >"$TMP/in"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
	[ "$(prom exchange_convert_messages_total 'type="derivative"')" = "$(grep -c '"type":"derivative"' "$TMP/out")" ]
	[ "$(prom exchange_convert_messages_total 'type="liquidation"')" = "$(grep -c '"type":"liquidation"' "$TMP/out")" ]
	[ "$(prom exchange_convert_messages_total 'type="derivative"')" -ge 14 ]
	[ "$(prom exchange_convert_errors_total 'reason="contract"')" = 0 ]
}

# ---- binance-futures ----

bf_diff() { # bf_diff U u pu BIDS ASKS
	printf '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1712861210589,"T":1712861210588,"s":"BTCUSDT","U":%s,"u":%s,"pu":%s,"b":[%s],"a":[%s]}}' "$@"
}
bf_snap() { # bf_snap LAST_UPDATE_ID BIDS ASKS
	printf '{"stream":"btcusdt@depthSnapshot","data":{"lastUpdateId":%s,"E":1712861210599,"T":1712861210598,"bids":[%s],"asks":[%s]}}' "$@"
}

@test "binance-futures full depth: events chain by pu; a gap resyncs once and a new snapshot bridges" {
	X=binance-futures
	{
		env_line $X 1712861210600001 "$(bf_diff 100 105 99 '["100.0","1"]' '["101.0","1"]')"
		env_line $X 1712861210600002 "$(bf_snap 102 '["100.0","2"],["99.0","3"]' '["101.0","4"]')"
		env_line $X 1712861210600003 "$(bf_diff 106 110 105 '["99.5","1"]' '')"
		env_line $X 1712861210600004 "$(bf_diff 115 120 112 '["99.4","1"]' '')" # pu 112: 110 -> 112 lost
		env_line $X 1712861210600005 "$(bf_diff 121 125 120 '["99.3","1"]' '')"
		env_line $X 1712861210600006 "$(bf_snap 122 '["100.0","5"]' '["101.0","6"]')"
		env_line $X 1712861210600007 "$(bf_diff 126 127 125 '' '["101.0","0"],["101.5","2"]')"
	} >"$TMP/in"
	convert_with_ctl
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 2 ]
	sed -n 1p "$TMP/out" | grep -qF '"event":"resync","detail":"waiting for the order book snapshot"}'
	# The first event (U 100 <= 102 <= u 105) continues the snapshot.
	sed -n 2p "$TMP/out" | grep -qF '"local_ts":1712861210600002,"bids":[[100,1],[99,3]],"asks":[[101,1]]}'
	sed -n 3p "$TMP/out" | grep -qF '"local_ts":1712861210600003,"bids":[[100,1],[99.5,1],[99,3]],"asks":[[101,1]]}'
	sed -n 4p "$TMP/out" | grep -qxF '{"type":"status","exchange":"binance-futures","symbol":"BTC-USDT-PERP","local_ts":1712861210600004,"event":"resync","detail":"sequence gap: pu 112 after u 110"}'
	# Nothing until the new snapshot; the buffered event older than it is dropped, the one
	# holding it is applied.
	sed -n 5p "$TMP/out" | grep -qF '"local_ts":1712861210600006,"bids":[[100,5],[99.3,1]],"asks":[[101,6]]}'
	sed -n 6p "$TMP/out" | grep -qF '"local_ts":1712861210600007,"bids":[[100,5],[99.3,1]],"asks":[[101.5,2]]}'
	[ "$(wc -l <"$TMP/out")" -eq 6 ]
	wait_until 5 grep -qx 'resync binance-futures BTC-USDT-PERP' "$TMP/ctl.out"
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="binance-futures"')" = 2 ]
}

@test "binance-futures full depth: a snapshot older than the next event asks again" {
	X=binance-futures
	{
		env_line $X 1712861210600001 "$(bf_diff 100 105 99 '["100.0","1"]' '')"
		env_line $X 1712861210600002 "$(bf_snap 90 '["100.0","2"]' '["101.0","4"]')"
		env_line $X 1712861210600003 "$(bf_snap 103 '["100.0","2"]' '["101.0","4"]')"
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = '{"type":"status","exchange":"binance-futures","symbol":"BTC-USDT-PERP","local_ts":1712861210600002,"event":"resync","detail":"snapshot 90 older than the next event (U 100)"}' ]
	[[ "${lines[2]}" == *'"local_ts":1712861210600003,"bids":[[100,1]],"asks":[[101,4]]}' ]]
	[ "${#lines[@]}" -eq 3 ]
}

@test "binance-futures: all-symbols streams relay subscribed symbols only; bad events are counted" {
	X=binance-futures
	mark='{"e":"markPriceUpdate","E":1562305380000,"s":"%s","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}'
	# shellcheck disable=SC2059
	{
		env_line $X 1562305380000001 "{\"stream\":\"!markPrice@arr\",\"data\":[$(printf "$mark" BTCUSDT)]}"
		env_line $X 1562305380000002 "{\"stream\":\"btcusdt@markPrice@1s\",\"data\":$(printf "$mark" BTCUSDT)}"
		env_line $X 1562305380000003 "{\"stream\":\"!markPrice@arr\",\"data\":[$(printf "$mark" BTCUSDT),$(printf "$mark" ETHUSDT)]}"
		env_line $X 1562305380000004 "{\"stream\":\"btcusdt@markPrice@1s\",\"data\":$(printf "$mark" ETHUSDT)}"
		env_line $X 1568014460900001 '{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"NEW","l":"0","z":"0","T":1568014460893}}}'
		env_line $X 1568014460900002 '{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"BOTH","q":"0.014","p":"9910","ap":"9910","z":"0.014","T":1568014460893}}}'
		env_line $X 1568014460900003 '{"stream":"btcusdt@depth20@100ms","data":{"e":"depthUpdate","E":1571889248277,"s":"ETHUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}'
	} >"$TMP/in"
	convert_with_ctl
	# ETHUSDT was never seen on a stream of its own: left out of the array, counted.
	[ "$(count "$TMP/out" '"type":"derivative"')" -eq 2 ]
	[ "$(count "$TMP/out" '"symbol":"ETH-USDT-PERP"')" -eq 0 ]
	[ "$(count "$TMP/out" '"local_ts":1562305380000003,')" -eq 1 ]
	[ "$(skipped unsubscribed)" -ge 2 ]
	# An event for another symbol than its stream's, a side that is neither: skipped.
	[ "$(skipped field)" = 3 ]
	# A liquidation that filled nothing is no liquidation: left out, counted, logged.
	[ "$(count "$TMP/out" '"type":"liquidation"')" -eq 0 ]
	[ "$(skipped amount)" = 1 ]
	grep -qF 'msg="line left out" exchange=binance-futures reason=amount detail="liquidation amount 0"' "$TMP/err"
}

@test "ingest --check: binance-futures routes books and the rest apart; spot symbols are refused" {
	run "$BIN/ingest" -x binance-futures:BTC-USDT-PERP,ETH-USDT-20250627 -c book --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x binance-futures:BTC-USDT-PERP -c trade,ticker,derivative,liquidation --check
	[ "$status" -eq 0 ]
	# Both groups at once: ingest opens one connection per group (proto.split).
	run "$BIN/ingest" -x binance-futures:BTC-USDT-PERP -c trade,book --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x binance-futures:BTC-USDT -c trade --check
	[ "$status" -eq 2 ]
	[[ "$output" == *'bad symbol BTC-USDT'* ]]
	run "$BIN/ingest" -x binance:BTC-USDT-PERP --check
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x okx:BTC-USDT-PERP,BTC-USD-PERP,BTC-USDT-20261225,BTC-USDT -c trade,derivative,liquidation --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bybit-linear:BTC-USDC-PERP,BTC-USDT-20250221 -c liquidation --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bybit-linear:BTC-USD-PERP --check
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x gateio-futures:BTC-USDT-20261225 --check
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x hyperliquid:BTC-USDC-PERP,PURR-USDC --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x hyperliquid:BTC-USDT-PERP --check
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x bitget-futures:BTC-USDT-PERP -c trade,derivative --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x bitget-futures:BTC-USDC-PERP --check
	[ "$status" -eq 2 ]
}

# ---- bybit-linear ----

bl_ticker() { # bl_ticker TYPE LOCAL_TS DATA-FIELDS
	env_line bybit-linear "$2" "{\"topic\":\"tickers.BTCUSDT\",\"type\":\"$1\",\"data\":{\"symbol\":\"BTCUSDT\"$3},\"cs\":1,\"ts\":${2%???}}"
}

@test "bybit-linear tickers: deltas merge into the snapshot; one-sided open interest only" {
	{
		head -1 "$FIXTURES/golden/bybitlinear_ticker.in"
		bl_ticker delta 1760325053000000 ',"markPrice":"66670.1","openInterest":"492373.72","singleOpenInterest":"246186.86","singleOpenInterestValue":"16412440920.875","nextFundingTime":"1760371200000"'
		bl_ticker delta 1760325054000000 ',"fundingRate":""'
		bl_ticker delta 1760325055000000 ',"lastPrice":"66671.00"'
	} >"$TMP/in"
	run "$BIN/convert" <"$TMP/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[1]}" = '{"type":"derivative","exchange":"bybit-linear","symbol":"BTC-USDT-PERP","ts":1760325052630000,"local_ts":1760325052633300,"mark":66666.6,"index":115418.19,"funding_rate":-0.005,"funding_ts":1760342400000000}' ]
	# A delta of derivative fields: the merged derivative line, no ticker line; openInterest
	# (both sides of every contract) is not sent.
	[ "${lines[2]}" = '{"type":"derivative","exchange":"bybit-linear","symbol":"BTC-USDT-PERP","ts":1760325053000000,"local_ts":1760325053000000,"mark":66670.1,"index":115418.19,"funding_rate":-0.005,"funding_ts":1760371200000000,"open_interest":246186.86,"open_interest_value":16412440920.875}' ]
	# "" clears a field.
	[ "${lines[3]}" = '{"type":"derivative","exchange":"bybit-linear","symbol":"BTC-USDT-PERP","ts":1760325054000000,"local_ts":1760325054000000,"mark":66670.1,"index":115418.19,"funding_ts":1760371200000000,"open_interest":246186.86,"open_interest_value":16412440920.875}' ]
	[ "${lines[4]}" = '{"type":"ticker","exchange":"bybit-linear","symbol":"BTC-USDT-PERP","ts":1760325055000000,"local_ts":1760325055000000,"bid":66666.6,"bid_size":23789.165,"ask":66666.7,"ask_size":23775.469,"last":66671,"open":79206.2,"high":79266.3,"low":65076.9,"volume":73191.387,"quote_volume":4936790807.6521}' ]
	# A delta that cannot be read changes nothing.
	bl_ticker delta 1760325056000000 ',"markPrice":"12abc","lastPrice":"1"' >>"$TMP/in"
	bl_ticker delta 1760325057000000 ',"bid1Price":"66666.5"' >>"$TMP/in"
	run bash -c "'$BIN/convert' <'$TMP/in' 2>/dev/null"
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[5]}" == *'"bid":66666.5,'*'"last":66671,'* ]]
}

@test "bybit-linear books: a u gap resyncs once; the symbols of USDC perpetuals and dated futures" {
	book() { # book TYPE U SYMBOL BIDS
		env_line bybit-linear "$((1672304484978000 + $2))" "{\"topic\":\"orderbook.50.$3\",\"type\":\"$1\",\"ts\":1672304484978,\"data\":{\"s\":\"$3\",\"b\":[$4],\"a\":[[\"16611.00\",\"0.029\"]],\"u\":$2,\"seq\":$2}}"
	}
	{
		book snapshot 10 BTCPERP '["16493.50","0.006"]'
		book delta 11 BTCPERP '["16493.40","1"]'
		book delta 13 BTCPERP '["16493.30","1"]'
		book delta 14 BTCPERP '["16493.20","1"]'
		book snapshot 20 BTCPERP '["16493.00","2"]'
		book snapshot 5 BTCUSDT-21FEB25 '["16400.00","1"]'
		book snapshot 6 BTC-26DEC25 '["16400.00","1"]'
	} >"$TMP/in"
	convert_with_ctl
	grep -qxF '{"type":"status","exchange":"bybit-linear","symbol":"BTC-USDC-PERP","local_ts":1672304484978013,"event":"resync","detail":"update id gap: 13 after 11"}' "$TMP/out"
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 1 ]
	[ "$(count "$TMP/out" '"symbol":"BTC-USDC-PERP","ts"')" -eq 3 ]
	grep -qF '"symbol":"BTC-USDC-PERP","ts":1672304484978000,"local_ts":1672304484978020,"bids":[[16493,2]]' "$TMP/out"
	grep -qF '"symbol":"BTC-USDT-20250221","ts"' "$TMP/out"
	grep -qF '"symbol":"BTC-USDC-20251226","ts"' "$TMP/out"
	wait_until 5 grep -qx 'resync bybit-linear BTC-USDC-PERP' "$TMP/ctl.out"
}

@test "bybit-linear liquidations: the position side turned into the order's; size zero is counted" {
	liq() { env_line bybit-linear 1739502303209000 "{\"topic\":\"allLiquidation.ROSEUSDT\",\"type\":\"snapshot\",\"ts\":1739502303204,\"data\":[$1]}"; }
	{
		liq '{"T":1739502302929,"s":"ROSEUSDT","S":"Buy","v":"20000","p":"0.04499"},{"T":1739502302930,"s":"ROSEUSDT","S":"Sell","v":"0","p":"0.04499"}'
		liq '{"T":1739502302929,"s":"ROSEUSDT","v":"1","p":"0.04499"}'
	} >"$TMP/in"
	"$BIN/convert" --run-dir "$TMP/run" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
	[ "$(cat "$TMP/out")" = '{"type":"liquidation","exchange":"bybit-linear","symbol":"ROSE-USDT-PERP","ts":1739502302929000,"local_ts":1739502303209000,"price":0.04499,"amount":20000,"side":"sell"}' ]
	[ "$(skipped amount)" = 1 ]
	[ "$(skipped field)" = 1 ]
}

# ---- okx swaps and futures ----

okx_inst() { # okx_inst INST_ID CT_TYPE CT_VAL CT_VAL_CCY STATE [INST_TYPE]
	printf '{"instType":"%s","instId":"%s","ctType":"%s","ctVal":"%s","ctMult":"1","ctValCcy":"%s","settleCcy":"USDT","state":"%s","expTime":"","uly":"BTC-USDT"}' \
		"${6:-SWAP}" "$1" "$2" "$3" "$4" "$5"
}
okx_meta() { printf '{"stream":"instruments","data":{"code":"0","msg":"","data":[%s]}}' "$1"; }
okx_books() { # okx_books ACTION PREV SEQ BIDS ASKS [INST_ID]
	printf '{"arg":{"channel":"books","instId":"%s"},"action":"%s","data":[{"asks":[%s],"bids":[%s],"ts":"1730000000123","checksum":0,"prevSeqId":%s,"seqId":%s}]}' \
		"${6:-BTC-USDT-SWAP}" "$1" "$5" "$4" "$2" "$3"
}

@test "okx swaps: amounts wait for the contract size; the book is kept meanwhile; expiry is said once" {
	{
		env_line okx 1730000000100000 "$(okx_books snapshot -1 1000 '["100.5","10","0","1"]' '["100.6","20","0","1"]')"
		env_line okx 1730000000200000 "$(okx_books update 1000 1001 '["100.4","5","0","1"]' '')"
		env_line okx 1730000000300000 '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","tradeId":"1","px":"100.5","sz":"3","side":"sell","ts":"1730000000299"}]}'
		env_line okx 1730000000400000 "$(okx_meta "$(okx_inst BTC-USDT-SWAP linear 0.01 BTC live)")"
		env_line okx 1730000000500000 "$(okx_books update 1001 1002 '' '["100.6","25","0","1"]')"
		env_line okx 1730000000600000 '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","tradeId":"2","px":"100.5","sz":"3","side":"sell","ts":"1730000000599"}]}'
		env_line okx 1730000000700000 "{\"arg\":{\"channel\":\"instruments\",\"instType\":\"SWAP\"},\"data\":[$(okx_inst BTC-USDT-SWAP linear 0.01 BTC suspend)]}"
		env_line okx 1730000000800000 "{\"arg\":{\"channel\":\"instruments\",\"instType\":\"SWAP\"},\"data\":[$(okx_inst BTC-USDT-SWAP linear 0.01 BTC suspend)]}"
	} >"$TMP/in"
	convert_with_ctl
	run cat "$TMP/out"
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USDT-PERP","local_ts":1730000000100000,"event":"error","detail":"BTC-USDT-PERP: contract size not known (no instrument metadata yet): amounts left out"}' ]
	# The book kept in contracts continued; sent in BTC once the size is known.
	[ "${lines[1]}" = '{"type":"book","exchange":"okx","symbol":"BTC-USDT-PERP","ts":1730000000123000,"local_ts":1730000000500000,"bids":[[100.5,0.1],[100.4,0.05]],"asks":[[100.6,0.25]]}' ]
	[ "${lines[2]}" = '{"type":"trade","exchange":"okx","symbol":"BTC-USDT-PERP","ts":1730000000599000,"local_ts":1730000000600000,"id":"2","price":100.5,"amount":0.03,"side":"sell"}' ]
	[ "${lines[3]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USDT-PERP","local_ts":1730000000700000,"event":"error","detail":"BTC-USDT-PERP: instrument suspend"}' ]
	[ "$(skipped contract)" = 3 ]
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="okx"')" = 0 ]
	grep -qF 'msg="line left out" exchange=okx reason=contract' "$TMP/err"
}

@test "okx: coin-margined swaps leave amounts out (USD has no exact base amount); oiCcy still goes" {
	{
		env_line okx 1700724675000001 "$(okx_meta "$(okx_inst BTC-USD-SWAP inverse 100 USD live)")"
		env_line okx 1700724675000002 '{"arg":{"channel":"trades","instId":"BTC-USD-SWAP"},"data":[{"instId":"BTC-USD-SWAP","tradeId":"9","px":"37000.5","sz":"12","side":"buy","ts":"1700724675001"}]}'
		env_line okx 1700724675000003 '{"arg":{"channel":"trades","instId":"BTC-USD-SWAP"},"data":[{"instId":"BTC-USD-SWAP","tradeId":"10","px":"37000.5","sz":"2","side":"buy","ts":"1700724675002"}]}'
		env_line okx 1700724675000004 '{"arg":{"channel":"open-interest","instId":"BTC-USD-SWAP"},"data":[{"instId":"BTC-USD-SWAP","instType":"SWAP","oi":"2216113","oiCcy":"5989.4","oiUsd":"221611300","ts":"1700724675003"}]}'
		env_line okx 1700724675000005 '{"arg":{"channel":"tickers","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","last":"37000.5","lastSz":"1","askPx":"37000.6","askSz":"11","bidPx":"37000.5","bidSz":"5","open24h":"36000","high24h":"37100","low24h":"35900","volCcy24h":"1222.5","vol24h":"452000","ts":"1700724675004"}]}'
		# A linear contract counted in another currency than its base cannot be read either.
		env_line okx 1700724675000006 "$(okx_meta "$(okx_inst ETH-USDT-SWAP linear 10 USD live)")"
		env_line okx 1700724675000007 '{"arg":{"channel":"trades","instId":"ETH-USDT-SWAP"},"data":[{"instId":"ETH-USDT-SWAP","tradeId":"11","px":"2000","sz":"2","side":"buy","ts":"1700724675005"}]}'
	} >"$TMP/in"
	convert_with_ctl
	run cat "$TMP/out"
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"okx","symbol":"BTC-USD-PERP","local_ts":1700724675000002,"event":"error","detail":"BTC-USD-PERP: coin-margined contracts count USD, which has no exact base amount: amounts left out"}' ]
	[ "${lines[1]}" = '{"type":"derivative","exchange":"okx","symbol":"BTC-USD-PERP","ts":1700724675003000,"local_ts":1700724675000004,"open_interest":5989.4,"open_interest_value":221611300}' ]
	# The ticker goes, its sizes (contracts) left out; volCcy24h is in BTC.
	[ "${lines[2]}" = '{"type":"ticker","exchange":"okx","symbol":"BTC-USD-PERP","ts":1700724675004000,"local_ts":1700724675000005,"bid":37000.5,"ask":37000.6,"last":37000.5,"open":36000,"high":37100,"low":35900,"volume":1222.5}' ]
	[[ "${lines[3]}" == *'"symbol":"ETH-USDT-PERP","local_ts":1700724675000007,"event":"error","detail":"ETH-USDT-PERP: contracts not counted in the base currency: amounts left out"}' ]]
	[ "$(skipped contract)" = 4 ]
}

@test "okx swaps: a sequence gap resyncs the swap's book; bad metadata is refused and counted" {
	{
		env_line okx 1730000000000001 "$(okx_meta "$(okx_inst BTC-USDT-SWAP linear 0.01 BTC live)")"
		env_line okx 1730000000100000 "$(okx_books snapshot -1 1000 '["100.5","10","0","1"]' '["100.6","20","0","1"]')"
		env_line okx 1730000000200000 "$(okx_books update 1005 1010 '["100.4","5","0","1"]' '')"
		env_line okx 1730000000300000 "$(okx_books snapshot -1 2000 '["100.2","1","0","1"]' '["100.3","1","0","1"]')"
		# A contract size of zero, or no ctVal, is no contract size: the one known stays.
		env_line okx 1730000000400000 "$(okx_meta "$(okx_inst BTC-USDT-SWAP linear 0 BTC live)")"
		env_line okx 1730000000400001 "$(okx_meta "$(okx_inst BTC-USDT-SWAP linear '' BTC live)")"
		env_line okx 1730000000500000 "$(okx_books update 2000 2001 '["100.25","3","0","1"]' '')"
		# An instrument OKX does not know.
		env_line okx 1730000000600000 '{"stream":"instruments","data":{"code":"51001","msg":"Instrument ID does not exist","data":[]}}'
	} >"$TMP/in"
	convert_with_ctl
	grep -qxF '{"type":"status","exchange":"okx","symbol":"BTC-USDT-PERP","local_ts":1730000000200000,"event":"resync","detail":"sequence gap: prevSeqId 1005 after seqId 1000"}' "$TMP/out"
	grep -qF '"local_ts":1730000000500000,"bids":[[100.25,0.03],[100.2,0.01]],"asks":[[100.3,0.01]]}' "$TMP/out"
	grep -qxF '{"type":"status","exchange":"okx","local_ts":1730000000600000,"event":"error","detail":"51001: Instrument ID does not exist"}' "$TMP/out"
	wait_until 5 grep -qx 'resync okx BTC-USDT-PERP' "$TMP/ctl.out"
	[ "$(skipped number)" = 2 ]
	[ "$(prom exchange_convert_book_resyncs_total 'exchange="okx"')" = 1 ]
}

@test "okx: the index goes to the subscribed derivatives of its underlying; other liquidations are counted" {
	{
		env_line okx 1597026383000001 '{"event":"subscribe","arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"connId":"a"}'
		env_line okx 1597026383000002 '{"event":"subscribe","arg":{"channel":"mark-price","instId":"BTC-USDT-250328"},"connId":"a"}'
		env_line okx 1597026383000003 '{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","idxPx":"43350","high24h":"0.5","low24h":"0.1","open24h":"0.1","sodUtc0":"0.1","sodUtc8":"0.1","ts":"1597026383085"}]}'
		env_line okx 1597026383000004 '{"arg":{"channel":"index-tickers","instId":"ETH-USDT"},"data":[{"instId":"ETH-USDT","idxPx":"2350","ts":"1597026383085"}]}'
		env_line okx 1597026383000005 '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"},{"bkPx":"0.0078","side":"sell","sz":"1","ts":"1692266434011"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
	} >"$TMP/in"
	convert_with_ctl
	run grep '"type":"derivative"' "$TMP/out"
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = '{"type":"derivative","exchange":"okx","symbol":"BTC-USDT-PERP","ts":1597026383085000,"local_ts":1597026383000003,"index":43350}' ]
	[ "${lines[1]}" = '{"type":"derivative","exchange":"okx","symbol":"BTC-USDT-20250328","ts":1597026383085000,"local_ts":1597026383000003,"index":43350}' ]
	[ "$(count "$TMP/out" '"type":"liquidation"')" -eq 0 ]
	[ "$(skipped unsubscribed)" = 3 ]
}

# ---- bitget-futures ----

@test "bitget-futures books: a wrong checksum resyncs once and is counted; other products are refused" {
	X=bitget-futures
	{
		sed -n 2,4p "$FIXTURES/golden/bitgetfutures_book.in"
		sed -n 6p "$FIXTURES/golden/bitgetfutures_book.in" | sed 's/"checksum":1162032547/"checksum":1162032548/'
		sed -n 7p "$FIXTURES/golden/bitgetfutures_book.in"
		env_line $X 1695715383043100 '{"action":"snapshot","arg":{"instType":"COIN-FUTURES","channel":"ticker","instId":"BTCUSD"},"data":[{"instId":"BTCUSD","lastPr":"27000.5","ts":"1695715383021"}],"ts":1695715383039}'
	} >"$TMP/in"
	convert_with_ctl
	grep -qF '"symbol":"BTC-USDT-PERP","local_ts":1732222222531389,"event":"resync","detail":"checksum mismatch: got 1162032548, computed 1162032547"}' "$TMP/out"
	# One resync: the update after it waits for the snapshot quietly.
	[ "$(count "$TMP/out" '"event":"resync"')" -eq 1 ]
	[ "$(count "$TMP/out" '"type":"book"')" -eq 3 ]
	wait_until 5 grep -qx 'resync bitget-futures BTC-USDT-PERP' "$TMP/ctl.out"
	[ "$(prom exchange_convert_checksum_failures_total 'exchange="bitget-futures"')" = 1 ]
	[ "$(skipped symbol)" = 1 ]
}

# ---- gateio-futures ----

gf_obu() { # gf_obu FULL U u BIDS
	local first=""
	[ "$1" = true ] || first="\"U\":$2,"
	printf '{"channel":"futures.obu","result":{"t":1743673026995,"full":%s,"s":"ob.BTC_USDT.50",%s"u":%s,"b":[%s],"a":[["83706","4208"]]},"time_ms":1743673026999}' "$1" "$first" "$3" "$4"
}
gf_contract() { # gf_contract MULTIPLIER [IN_DELISTING]
	printf '{"stream":"contract","data":{"name":"BTC_USDT","type":"direct","quanto_multiplier":"%s","in_delisting":%s,"status":"trading","funding_interval":28800}}' "$1" "${2:-false}"
}

@test "gateio-futures obu: kept in contracts until the multiplier is known, sent in BTC after; a gap resyncs" {
	X=gateio-futures
	{
		env_line $X 1743673027000001 "$(gf_obu true 0 100 '["83705.9","30166"]')"
		env_line $X 1743673027000002 "$(gf_obu false 101 105 '["83705.8","10"]')"
		env_line $X 1743673027000003 "$(gf_contract 0.0001)"
		env_line $X 1743673027000004 "$(gf_obu false 106 110 '["83705.9","0"]')"
		env_line $X 1743673027000005 "$(gf_obu false 112 115 '["83705.7","1"]')"
		env_line $X 1743673027000006 "$(gf_obu false 116 118 '["83705.6","1"]')"
		env_line $X 1743673027000007 "$(gf_obu true 0 200 '["83700","5000"]')"
		# Being delisted: said once.
		env_line $X 1743673027000008 "$(gf_contract 0.0001 true)"
		env_line $X 1743673027000009 "$(gf_contract 0.0001 true)"
	} >"$TMP/in"
	convert_with_ctl
	run cat "$TMP/out"
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = '{"type":"status","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","local_ts":1743673027000001,"event":"error","detail":"BTC-USDT-PERP: contract size (quanto_multiplier) not known: amounts left out"}' ]
	[ "${lines[1]}" = '{"type":"book","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","ts":1743673026995000,"local_ts":1743673027000004,"bids":[[83705.8,0.001]],"asks":[[83706,0.4208]]}' ]
	[ "${lines[2]}" = '{"type":"status","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","local_ts":1743673027000005,"event":"resync","detail":"sequence gap: update 112 follows 110"}' ]
	[ "${lines[3]}" = '{"type":"book","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","ts":1743673026995000,"local_ts":1743673027000007,"bids":[[83700,0.5]],"asks":[[83706,0.4208]]}' ]
	[ "${lines[4]}" = '{"type":"status","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","local_ts":1743673027000008,"event":"error","detail":"BTC-USDT-PERP: contract being delisted"}' ]
	[ "$(skipped contract)" = 2 ]
	wait_until 5 grep -qx 'resync gateio-futures BTC-USDT-PERP' "$TMP/ctl.out"
}

@test "gateio-futures: internal trades, unsubscribed and empty liquidations are left out and counted" {
	X=gateio-futures
	{
		env_line $X 1541503698123001 "$(gf_contract 0.0001)"
		env_line $X 1541503698128000 '{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,"result":[{"size":-108,"id":27753479,"create_time":1545136464,"create_time_ms":1545136464123,"price":"96.4","contract":"BTC_USDT","is_internal":true},{"size":7,"id":27753480,"create_time_ms":1545136464124,"price":"96.5","contract":"BTC_USDT"}]}'
		env_line $X 1541505434126000 '{"channel":"futures.public_liquidates","event":"update","time":1541505434,"time_ms":1541505434123,"result":[{"price":215.1,"size":-124,"time_ms":1541486601123,"contract":"ETH_USDT"},{"price":215.1,"size":0,"time_ms":1541486601124,"contract":"BTC_USDT"},{"price":215.2,"size":3,"time_ms":1541486601125,"contract":"BTC_USDT"}]}'
		env_line $X 1541505434126001 '{"stream":"contract","data":{"label":"CONTRACT_NOT_FOUND","message":"Contract not found"}}'
		env_line $X 1541505434126002 '{"stream":"contract","data":{"name":"BTC_USDT","type":"direct","quanto_multiplier":"-1"}}'
	} >"$TMP/in"
	convert_with_ctl
	run cat "$TMP/out"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = '{"type":"trade","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","ts":1545136464124000,"local_ts":1541503698128000,"id":"27753480","price":96.5,"amount":0.0007,"side":"buy"}' ]
	[ "${lines[1]}" = '{"type":"liquidation","exchange":"gateio-futures","symbol":"BTC-USDT-PERP","ts":1541486601125000,"local_ts":1541505434126000,"price":215.2,"amount":0.0003,"side":"buy"}' ]
	[ "${lines[2]}" = '{"type":"status","exchange":"gateio-futures","local_ts":1541505434126001,"event":"error","detail":"CONTRACT_NOT_FOUND: Contract not found"}' ]
	[ "$(skipped internal)" = 1 ]
	[ "$(skipped unsubscribed)" = 1 ]
	[ "$(skipped amount)" = 1 ]
	[ "$(skipped number)" = 1 ]
}

# ---- hyperliquid ----

@test "hyperliquid: spotMeta names @N pairs; unknown ones are counted; spot has no derivative line; a crossed book resyncs" {
	X=hyperliquid
	spot_meta='{"tokens":[{"name":"USDC","szDecimals":8,"weiDecimals":8,"index":0},{"name":"PURR","szDecimals":0,"weiDecimals":5,"index":1},{"name":"HYPE","szDecimals":2,"weiDecimals":8,"index":150}],"universe":[{"name":"PURR/USDC","tokens":[1,0],"index":0,"isCanonical":true},{"name":"@107","tokens":[150,0],"index":107,"isCanonical":false}]}'
	{
		env_line $X 1710125266000001 "{\"stream\":\"spotMeta\",\"data\":$spot_meta}"
		env_line $X 1710125266000002 '{"channel":"trades","data":[{"coin":"@107","side":"B","px":"21.5","sz":"3.25","time":1710125266669,"hash":"0x00","tid":1}]}'
		env_line $X 1710125266000003 '{"channel":"trades","data":[{"coin":"PURR/USDC","side":"A","px":"0.2","sz":"100","time":1710125266670,"hash":"0x00","tid":2}]}'
		env_line $X 1710125266000004 '{"channel":"trades","data":[{"coin":"@999","side":"A","px":"1","sz":"1","time":1710125266671,"hash":"0x00","tid":3}]}'
		env_line $X 1710125266000005 '{"channel":"activeAssetCtx","data":{"coin":"@107","ctx":{"dayNtlVlm":"1000.5","prevDayPx":"20.1","markPx":"21.4","midPx":"21.45","circulatingSupply":"333"}}}'
		env_line $X 1710125266000006 '{"channel":"l2Book","data":{"coin":"BTC","time":1710131872708,"levels":[[{"px":"68676.0","sz":"1","n":1}],[{"px":"68675.0","sz":"0.04396","n":1}]]}}'
	} >"$TMP/in"
	convert_with_ctl
	run cat "$TMP/out"
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"type":"trade","exchange":"hyperliquid","symbol":"HYPE-USDC","ts":1710125266669000,"local_ts":1710125266000002,"id":"1","price":21.5,"amount":3.25,"side":"buy"}' ]
	[ "${lines[1]}" = '{"type":"trade","exchange":"hyperliquid","symbol":"PURR-USDC","ts":1710125266670000,"local_ts":1710125266000003,"id":"2","price":0.2,"amount":100,"side":"sell"}' ]
	[ "${lines[2]}" = '{"type":"ticker","exchange":"hyperliquid","symbol":"HYPE-USDC","local_ts":1710125266000005,"open":20.1,"quote_volume":1000.5}' ]
	[ "${lines[3]}" = '{"type":"status","exchange":"hyperliquid","symbol":"BTC-USDC-PERP","local_ts":1710125266000006,"event":"resync","detail":"crossed book"}' ]
	[ "$(skipped symbol)" = 1 ]
	grep -qF 'spot pair @999 unknown (no spotMeta names it)' "$TMP/err"
	wait_until 5 grep -qx 'resync hyperliquid BTC-USDC-PERP' "$TMP/ctl.out"
}

# ---- every venue ----

@test "bad input: cut frames, wrong types and huge arrays never crash the derivatives readers" {
	{
		# Every golden line of these venues cut at every fifth length.
		for v in $DERIV_GOLDEN; do
			for f in "$FIXTURES"/golden/"$v"_*.in; do
				while IFS= read -r line; do
					for ((i = 1; i < ${#line}; i += 5)); do printf '%s\n' "${line:0:i}"; done
				done <"$f"
			done
		done
		for x in binance-futures bybit-linear okx bitget-futures gateio-futures hyperliquid; do
			for d in '[]' '{}' 'null' '"x"' '{"data":[1,2]}' '{"stream":"instruments","data":7}' \
				'{"stream":"contract","data":[]}' '{"stream":"meta","data":{"universe":{}}}' \
				'{"stream":"spotMeta","data":{"tokens":[{"name":"A","index":99999999}],"universe":[{"name":"@1","tokens":[0,0],"index":1}]}}' \
				'{"stream":"x@depthSnapshot","data":{"lastUpdateId":1}}' \
				'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":{}}}' \
				'{"topic":"allLiquidation.X","data":[{"s":7}]}' \
				'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP","details":{}}]}' \
				'{"arg":{"channel":"funding-rate","instId":"BTC-USDT"},"data":[{"fundingRate":"1"}]}' \
				'{"arg":{"channel":"instruments","instType":"SWAP"},"data":[{"instType":"SWAP","instId":"X-Y-SWAP","ctType":"linear","ctVal":"1e99999","ctValCcy":"X"}]}' \
				'{"channel":"futures.obu","result":{"s":"ob.BTC_USDT.99999999","u":1,"full":true}}' \
				'{"channel":"futures.trades","result":[{"size":"","contract":"BTC_USDT"}]}' \
				'{"channel":"futures.public_liquidates","result":[{"size":-1,"price":"x","contract":"BTC_USDT","time_ms":1}]}' \
				'{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"1"}]]}}' \
				'{"channel":"bbo","data":{"coin":"BTC","bbo":[null]}}' \
				'{"channel":"activeAssetCtx","data":{"coin":"@","ctx":{}}}' \
				'{"e":"markPriceUpdate","E":1,"s":"BTCUSDT_991399"}' \
				'{"e":"forceOrder","o":[]}'; do
				env_line "$x" 1 "$d"
			done
		done
		# A book snapshot larger than any book may grow, for each kept-book venue.
		awk 'BEGIN { printf "{\"exchange\":\"gateio-futures\",\"local_ts\":2,\"data\":{\"channel\":\"futures.obu\",\"result\":{\"t\":1,\"full\":true,\"s\":\"ob.ETH_USDT.50\",\"u\":5,\"b\":["
		for (i = 1; i <= 6000; i++) printf "%s[\"%d\",\"1\"]", (i > 1 ? "," : ""), i
		print "],\"a\":[]}}}" }'
		cat "$FIXTURES/golden/hyperliquid_trade.in"
	} >"$TMP/in"
	run bash -c "'$BIN/convert' < '$TMP/in' 2>/dev/null"
	[ "$status" -eq 0 ]
	# Whole lines only, each one JSON; the last one is the intact trade.
	printf '%s\n' "$output" | jq -e . >/dev/null
	[ "${lines[-1]}" = "$(cat "$FIXTURES/golden/hyperliquid_trade.out")" ]
}
