#!/usr/bin/env bats
# The derivatives venues end to end: ingest against the fake exchange speaking each venue's
# protocol (tests/tools/fakex/), its lines through convert. Instrument metadata fetched before
# the subscription and learnt, contract amounts in base units, every channel, book gaps and
# checksum faults, keep-alives, Binance's two connections, and the bad input a derivatives venue sends
# (unknown contracts, missing contract sizes, expiry and delisting mid-session, data for
# symbols not subscribed, liquidations of size zero). The readers alone, offline, are in
# tests/derivatives.bats.

load helpers

REC=$FIXTURES/recordings

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
}
teardown() { teardown_tmp; }

# feed VENUE PATH INGEST-ARGS...: ingest (run directory $TMP/run) against the fake exchange
# started as fx, at PATH on its port, piped through convert: ingest's lines in
# $TMP/ingest.out, its log in $TMP/ingest.err, convert's lines in $TMP/convert.out.
feed() {
	local venue=$1 path=$2
	shift 2
	pipe "$BIN/ingest" --run-dir "$TMP/run" --url "$venue=ws://127.0.0.1:$FX_PORT$path" "$@"
}

# Ends the pipeline feed started (its processes, by its recorded pid's group).
stop_pipeline() {
	local pid
	pid=$(pid_of pipeline)
	kill -- "-$pid" 2>/dev/null
	wait_until 5 bash -c "! kill -0 $pid 2>/dev/null && ! test -S '$TMP/run/ingest.sock'"
}

# pipe INGEST ARGS...: the pipeline itself.
pipe() {
	# shellcheck disable=SC2016 # expanded by the pipeline's shell
	start pipeline env T="$TMP" B="$BIN" bash -c \
		'"$0" "$@" 2>"$T/ingest.err" | tee "$T/ingest.out" | "$B/convert" --run-dir "$T/run" >"$T/convert.out" 2>"$T/convert.err"' "$@"
}

ctl() { printf '%s\n' "$*" | timeout 5 nc -U -q 1 "$TMP/run/ingest.sock"; }

# heartbeats_ge VENUE N: ingest counted at least N keep-alive answers from VENUE.
heartbeats_ge() {
	local v
	v=$(metric "$TMP/run/ingest.prom" exchange_ingest_heartbeats_total "exchange=\"$1\"")
	[ "$v" != missing ] && [ "${v%.*}" -ge "$2" ]
}

# The trades of SYMBOL in FILE: id, price, amount and side, as the line spells them.
trades_of() { grep "^{\"type\":\"trade\",\"exchange\":\"[a-z-]*\",\"symbol\":\"$1\"" "$2" | grep -o '"id":.*'; }

# ---- OKX: swaps beside spot on one connection ----

@test "okx: metadata before the subscription, learnt; swap amounts in base units, exact; every channel flows, spot beside it" {
	# Spot and swaps in one recording, as one connection carries them.
	cat "$REC/okx-swap.ndjson" "$REC/okx.ndjson" >"$TMP/okx.rec"
	start_fakex fx okx --recording "$TMP/okx.rec" --rate 0
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP,ETH-USDT-PERP,BTC-USDT --keepalive 200
	wait_until 20 at_least 1 "$TMP/convert.out" '"type":"liquidation"'
	# One REST request per swap, both before the subscription; none for the spot pair.
	grep -E '"event":"(rest|message)"' "$TMP/fx.events" | head -3 >"$TMP/first"
	grep -q '"path":"/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP"' <(sed -n 1p "$TMP/first")
	grep -q '"path":"/api/v5/public/instruments?instType=SWAP&instId=ETH-USDT-SWAP"' <(sed -n 2p "$TMP/first")
	grep -q '"event":"message","text":"{\\"op\\":\\"subscribe\\"' <(sed -n 3p "$TMP/first")
	[ "$(count "$TMP/fx.events" '"event":"rest"')" -eq 2 ]
	# The answers are envelope lines ahead of all data, counted.
	grep -n '"data":' "$TMP/ingest.out" | head -2 | grep -c '"stream":"instruments"' | grep -qx 2
	wait_until 5 bash -c "grep -q '^exchange_ingest_metadata_total{exchange=\"okx\"} 2\$' '$TMP/run/ingest.prom'"
	# Every channel of the swaps: trades, tickers, books, derivative data, liquidations.
	for s in BTC-USDT-PERP ETH-USDT-PERP; do
		for t in trade ticker book derivative; do
			wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"okx\",\"symbol\":\"$s\"' '$TMP/convert.out') -gt 0 ]"
		done
	done
	# mark, funding, open interest and the index (by underlying) all came as derivative lines.
	for k in mark funding_rate open_interest index; do
		grep -q "\"symbol\":\"BTC-USDT-PERP\",.*\"$k\":" "$TMP/convert.out"
	done
	wait_until 10 bash -c "[ \$(grep -c '\"type\":\"trade\",\"exchange\":\"okx\",\"symbol\":\"BTC-USDT\",' '$TMP/convert.out') -gt 10 ]"
	# Contracts times ctVal, in decimal: the first BTC swap trade is 4 contracts of 0.01 BTC.
	grep -q '^{"type":"trade","exchange":"okx","symbol":"BTC-USDT-PERP","ts":1730000000003000,"local_ts":[0-9]*,"id":"1000000001","price":67123.5,"amount":0.04,"side":"buy"}$' "$TMP/convert.out"
	# Live, every swap trade is what the recording converts to offline (its metadata first).
	for s in BTC-USDT-PERP ETH-USDT-PERP; do
		want=$("$BIN/convert" <"$REC/okx-swap.ndjson" 2>/dev/null | trades_of "$s" /dev/stdin | wc -l)
		wait_until 20 bash -c "[ \$(grep -c '^{\"type\":\"trade\",\"exchange\":\"okx\",\"symbol\":\"$s\"' '$TMP/convert.out') -ge $want ]"
		diff <("$BIN/convert" <"$REC/okx-swap.ndjson" 2>/dev/null | trades_of "$s" /dev/stdin) <(trades_of "$s" "$TMP/convert.out")
	done
	# Nothing was left out for want of a contract size, nothing skipped.
	[ "$(count "$TMP/convert.err" 'reason=contract')" -eq 0 ]
	[ "$(count "$TMP/convert.err" 'line skipped')" -eq 0 ]
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 0 ]
	# Text pings every 200 ms, each answered with a text pong that is not forwarded.
	wait_until 10 at_least 3 "$TMP/fx.events" '"event":"pong_sent"'
	wait_until 5 heartbeats_ge okx 2
	[ "$(count "$TMP/ingest.out" pong)" -eq 0 ]
}

@test "okx over wss://: the metadata comes over https://, the feed over TLS" {
	make_certs
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 0 --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key"
	pipe "$BIN/ingest" --run-dir "$TMP/run" --ca "$TMP/tls/ca.crt" --url "okx=wss://127.0.0.1:$FX_PORT/ws/v5/public" -x okx:BTC-USDT-PERP -c trade
	wait_until 15 at_least 20 "$TMP/convert.out" '"type":"trade","exchange":"okx","symbol":"BTC-USDT-PERP"'
	grep -q '"event":"connect","path":"/ws/v5/public","tls":true' "$TMP/fx.events"
	grep -q 'msg="fetching metadata" exchange=okx symbol=- url=https://127.0.0.1:[0-9]*/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP' "$TMP/ingest.err"
	grep -q '"amount":0.04,"side":"buy"}' "$TMP/convert.out"
	[ "$(count "$TMP/convert.err" 'reason=contract')" -eq 0 ]
}

@test "okx books: a lost update resyncs once and brings a fresh book; a bad checksum as well" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 15
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP -c book
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"book"'
	[ "$(fx fx skip 1)" = "ok skip 1 on 1" ]
	wait_until 15 at_least 1 "$TMP/convert.out" '"event":"resync"'
	grep -q '"symbol":"BTC-USDT-PERP","local_ts":[0-9]*,"event":"resync","detail":"sequence gap: prevSeqId' "$TMP/convert.out"
	# Unsubscribe, subscribe, the snapshot again: books flow on, built from it.
	wait_until 10 grep -q '"streams":\["books|BTC-USDT-SWAP"\]' <(grep '"event":"unsubscribe"' "$TMP/fx.events")
	after=$(grep -n '"event":"resync"' "$TMP/convert.out" | tail -1 | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 3 ]"
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 1 ]
	# A checksum that does not match: one more resync, and again a fresh book after it.
	[ "$(fx fx corrupt)" = "ok corrupt on 1" ]
	wait_until 15 grep -q '"event":"resync","detail":"checksum mismatch' "$TMP/convert.out"
	after=$(grep -n '"event":"resync"' "$TMP/convert.out" | tail -1 | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 3 ]"
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 2 ]
	wait_until 5 bash -c "grep -q '^exchange_convert_checksum_failures_total{exchange=\"okx\"} 1\$' '$TMP/run/convert.prom'"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}

@test "okx: an unknown contract is a status line from its metadata and from the subscription; nothing crashes" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 0
	feed okx /ws/v5/public -x okx:DOGE-USDT-PERP
	wait_until 15 grep -q '"event":"error","detail":"51001' "$TMP/convert.out"
	wait_until 15 grep -q '"event":"error","detail":"60018' "$TMP/convert.out"
	grep -q '"path":"/api/v5/public/instruments?instType=SWAP&instId=DOGE-USDT-SWAP"' "$TMP/fx.events"
	[ "$(count "$TMP/convert.out" '"type":"trade"')" -eq 0 ]
	alive "$(pid_of pipeline)"
}

@test "okx: metadata is fetched again on its interval and on request, after the subscription too" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 20 --loop
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP -c trade --meta-interval 1
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"trade"'
	wait_until 10 at_least 3 "$TMP/fx.events" '"path":"/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP"'
	grep -q 'msg="fetching metadata again" exchange=okx' "$TMP/ingest.err"
	[ "$(count "$TMP/fx.events" '"event":"subscribe"')" -eq 1 ]
	n=$(count "$TMP/fx.events" '"event":"rest"')
	[[ "$(ctl meta okx)" == ok* ]]
	wait_until 5 bash -c "[ \$(grep -c '\"event\":\"rest\"' '$TMP/fx.events') -gt $n ]"
	[ "$(ctl meta binance)" = "error unknown exchange" ]
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}

@test "okx: an instrument that expires mid-session is said once, its data still converted right" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 20 --loop
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP -c trade,derivative
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"trade"'
	# The instruments channel says the swap expired, twice: one status line.
	expired='{"arg":{"channel":"instruments","instType":"SWAP"},"data":[{"ctMult":"1","ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","instId":"BTC-USDT-SWAP","instType":"SWAP","state":"expired"}]}'
	fx fx send "$expired"
	fx fx send "$expired"
	wait_until 10 grep -q '"symbol":"BTC-USDT-PERP","local_ts":[0-9]*,"event":"error","detail":"BTC-USDT-PERP: instrument expired"' "$TMP/convert.out"
	n=$(count "$TMP/convert.out" '"type":"trade"')
	wait_until 10 bash -c "[ \$(grep -c '\"type\":\"trade\"' '$TMP/convert.out') -gt $((n + 3)) ]"
	[ "$(count "$TMP/convert.out" 'instrument expired')" -eq 1 ]
	[ "$(count "$TMP/convert.err" 'reason=contract')" -eq 0 ]
	alive "$(pid_of pipeline)"
}

@test "okx: a liquidation of size zero is left out and counted; an instrument not subscribed is not relayed" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 20 --loop
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP -c trade,liquidation
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"trade"'
	fx fx send '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"67000","ccy":"","posSide":"long","side":"sell","sz":"0","ts":"1730000000000"}],"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
	fx fx send '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"150","ccy":"","posSide":"long","side":"sell","sz":"3","ts":"1730000000000"}],"instFamily":"SOL-USDT","instId":"SOL-USDT-SWAP","instType":"SWAP","uly":"SOL-USDT"}]}'
	wait_until 10 bash -c "grep -q '^exchange_convert_errors_total{reason=\"amount\"} 1\$' '$TMP/run/convert.prom'"
	wait_until 10 bash -c "grep -q '^exchange_convert_errors_total{reason=\"unsubscribed\"} 1\$' '$TMP/run/convert.prom'"
	grep -q 'msg="line left out" exchange=okx reason=amount detail="liquidation amount 0"' "$TMP/convert.err"
	[ "$(count "$TMP/convert.out" '"symbol":"SOL-USDT-PERP"')" -eq 0 ]
	[ "$(count "$TMP/convert.out" '"amount":0,')" -eq 0 ]
}

# ---- Binance USDⓈ-M futures: two connections ----

@test "binance-futures: books on a /public connection, the rest on /market; every channel; pings answered; reconnect replaces both" {
	start_fakex fx binance-futures --recording "$REC/binance-futures.ndjson" --rate 0 --ping-interval 200
	feed binance-futures "" -x binance-futures:BTC-USDT-PERP,ETH-USDT-PERP
	wait_until 10 at_least 2 "$TMP/fx.events" '"event":"connect"'
	grep -qF '"path":"/public/stream?streams=btcusdt@depth20@100ms/ethusdt@depth20@100ms"' "$TMP/fx.events"
	grep -qF '"path":"/market/stream?streams=btcusdt@aggTrade/btcusdt@ticker/btcusdt@markPrice@1s/btcusdt@forceOrder/ethusdt@aggTrade/ethusdt@ticker/ethusdt@markPrice@1s/ethusdt@forceOrder"' "$TMP/fx.events"
	for s in BTC-USDT-PERP ETH-USDT-PERP; do
		for t in trade ticker book derivative liquidation; do
			wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"binance-futures\",\"symbol\":\"$s\"' '$TMP/convert.out') -gt 0 ]"
		done
	done
	# Everything the recording holds for the two, as it converts offline.
	for s in BTC-USDT-PERP ETH-USDT-PERP; do
		want=$("$BIN/convert" <"$REC/binance-futures.ndjson" 2>/dev/null | trades_of "$s" /dev/stdin | wc -l)
		wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"trade\",\"exchange\":\"binance-futures\",\"symbol\":\"$s\"' '$TMP/convert.out') -ge $want ]"
	done
	# Each connection answers the server's pings.
	wait_until 10 fx_stat_ge fx pongs_received 6
	ctl status | jq -e '[.exchanges[] | select(.exchange == "binance-futures") | .channels] == ["book", "trade,ticker,derivative,liquidation"]'
	wait_until 5 bash -c "grep -q '^exchange_ingest_connected{exchange=\"binance-futures\"} 1\$' '$TMP/run/ingest.prom'"
	[ "$(ctl reconnect binance-futures)" = "ok" ]
	wait_until 10 fx_stat_eq fx accepted 4
	wait_until 10 at_least 4 "$TMP/ingest.out" '"event":"connected"'
	[ "$(count "$TMP/ingest.out" '"event":"disconnected","detail":"reconnect requested"')" -eq 2 ]
}

@test "binance-futures: mark prices of an all-symbols stream go out for the subscribed symbol only, the others counted" {
	start_fakex fx binance-futures --recording "$REC/binance-futures.ndjson" --rate 0
	feed binance-futures "" -x binance-futures:BTC-USDT-PERP -c derivative
	wait_until 10 at_least 1 "$TMP/convert.out" '"type":"derivative"'
	fx fx send '{"stream":"!markPrice@arr@1s","data":[{"e":"markPriceUpdate","E":1712861299000,"s":"BTCUSDT","p":"67700.10000000","i":"67699.90000000","P":"67700.00000000","r":"0.00010000","T":1712880000000},{"e":"markPriceUpdate","E":1712861299000,"s":"SOLUSDT","p":"176.10000000","i":"176.00000000","P":"176.05000000","r":"0.00020000","T":1712880000000}]}'
	wait_until 10 grep -q '"symbol":"BTC-USDT-PERP","ts":1712861299000000,"local_ts":[0-9]*,"mark":67700.1,"index":67699.9,"funding_rate":0.0001,"funding_ts":1712880000000000}' "$TMP/convert.out"
	wait_until 5 bash -c "grep -q '^exchange_convert_errors_total{reason=\"unsubscribed\"} 1\$' '$TMP/run/convert.prom'"
	grep -q 'reason=unsubscribed detail="SOL-USDT-PERP is not subscribed"' "$TMP/convert.err"
	[ "$(count "$TMP/convert.out" 'SOL-USDT-PERP')" -eq 0 ]
}

@test "binance-futures book:full: the REST snapshot bridges the diffs; a lost event resyncs once and a new snapshot brings a fresh book" {
	start_fakex fx binance-futures --recording "$REC/binance-futures.ndjson" --rate 25
	feed binance-futures "" -x binance-futures:BTC-USDT-PERP -c book:full
	wait_until 10 grep -qF '"path":"/public/stream?streams=btcusdt@depth@100ms"' "$TMP/fx.events"
	wait_until 10 grep -q '"event":"rest","path":"/fapi/v1/depth","symbol":"btcusdt"' "$TMP/fx.events"
	wait_until 15 at_least 5 "$TMP/convert.out" '"type":"book"'
	[ "$(fx fx skip 1)" = "ok skip 1 on 1" ]
	wait_until 10 grep -q '"event":"resync","detail":"sequence gap: pu' "$TMP/convert.out"
	wait_until 10 at_least 2 "$TMP/fx.events" '"event":"rest"'
	after=$(grep -n '"event":"resync","detail":"sequence gap' "$TMP/convert.out" | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 5 ]"
	[ "$(count "$TMP/convert.out" '"detail":"sequence gap')" -eq 1 ]
	[ "$(count "$TMP/convert.out" 'older than the next event')" -eq 0 ]
	wait_until 5 bash -c "grep -q '^exchange_ingest_snapshots_total{exchange=\"binance-futures\"} 2\$' '$TMP/run/ingest.prom'"
	# The book after the gap is the recording's, as it stands at that event.
	last=$(grep '"type":"book"' "$TMP/convert.out" | tail -1 | jq -c '{bids, asks}')
	"$BIN/convert" <"$REC/binance-futures.ndjson" 2>/dev/null | grep '"symbol":"BTC-USDT-PERP"' | grep '"type":"book"' | jq -c '{bids, asks}' | grep -qxF "$last"
}

# ---- Bybit linear ----

@test "bybit-linear: every topic in one request, acked; every channel; the client's pings answered; a liquidation of size zero counted" {
	start_fakex fx bybit-linear --recording "$REC/bybit-linear.ndjson" --rate 0
	feed bybit-linear /v5/public/linear -x bybit-linear:BTC-USDT-PERP,ETH-USDT-PERP --keepalive 200
	wait_until 10 grep -qF '{"event":"subscribe","streams":["publicTrade.BTCUSDT","tickers.BTCUSDT","orderbook.50.BTCUSDT","allLiquidation.BTCUSDT","publicTrade.ETHUSDT","tickers.ETHUSDT","orderbook.50.ETHUSDT","allLiquidation.ETHUSDT"]}' "$TMP/fx.events"
	wait_until 10 grep -q '"event":"subscribed"' "$TMP/convert.out"
	for s in BTC-USDT-PERP ETH-USDT-PERP; do
		for t in trade ticker book derivative liquidation; do
			wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"bybit-linear\",\"symbol\":\"$s\"' '$TMP/convert.out') -gt 0 ]"
		done
	done
	# {"op":"ping"} every 200 ms, each answered and not forwarded.
	wait_until 10 at_least 3 "$TMP/fx.events" '"event":"pong_sent"'
	wait_until 5 heartbeats_ge bybit-linear 2
	[ "$(count "$TMP/ingest.out" '"ret_msg":"pong"')" -eq 0 ]
	fx fx send '{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1732222299000,"data":[{"T":1732222299000,"s":"BTCUSDT","S":"Buy","v":"0","p":"67000.5"}]}'
	wait_until 10 bash -c "grep -q '^exchange_convert_errors_total{reason=\"amount\"} 1\$' '$TMP/run/convert.prom'"
	[ "$(count "$TMP/convert.out" '"price":67000.5')" -eq 0 ]
}

@test "bybit-linear books: a lost delta resyncs once (unsubscribe, subscribe) and the new snapshot gives a fresh book" {
	start_fakex fx bybit-linear --recording "$REC/bybit-linear.ndjson" --rate 15
	feed bybit-linear /v5/public/linear -x bybit-linear:BTC-USDT-PERP -c book
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"book"'
	[ "$(fx fx skip 1)" = "ok skip 1 on 1" ]
	wait_until 15 at_least 1 "$TMP/convert.out" '"event":"resync"'
	wait_until 10 grep -qF '{"event":"unsubscribe","streams":["orderbook.50.BTCUSDT"]}' "$TMP/fx.events"
	after=$(grep -n '"event":"resync"' "$TMP/convert.out" | tail -1 | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 3 ]"
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 1 ]
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}

# ---- Bitget USDT-futures ----

@test "bitget-futures: args of USDT-FUTURES; every channel; text pings keep the connection; a bad checksum resyncs once, then a fresh book" {
	start_fakex fx bitget-futures --recording "$REC/bitget-futures.ndjson" --rate 15 --idle-timeout 1500
	feed bitget-futures /v2/ws/public -x bitget-futures:BTC-USDT-PERP --keepalive 300
	wait_until 10 grep -qF '"streams":["USDT-FUTURES|trade|BTCUSDT","USDT-FUTURES|ticker|BTCUSDT","USDT-FUTURES|books|BTCUSDT"]' "$TMP/fx.events"
	for t in trade ticker book derivative; do
		wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"bitget-futures\",\"symbol\":\"BTC-USDT-PERP\"' '$TMP/convert.out') -gt 0 ]"
	done
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"book"'
	[ "$(fx fx corrupt)" = "ok corrupt on 1" ]
	wait_until 15 grep -q '"event":"resync","detail":"checksum mismatch' "$TMP/convert.out"
	after=$(grep -n '"event":"resync"' "$TMP/convert.out" | tail -1 | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 3 ]"
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 1 ]
	wait_until 5 bash -c "grep -q '^exchange_convert_checksum_failures_total{exchange=\"bitget-futures\"} 1\$' '$TMP/run/convert.prom'"
	# Past the exchange's idle rule (1.5 s here) twice over: the pings kept it.
	wait_until 10 at_least 10 "$TMP/fx.events" '"event":"pong_sent"'
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
	[ "$(count "$TMP/fx.events" '"event":"idle_timeout"')" -eq 0 ]
	wait_until 5 heartbeats_ge bitget-futures 10
}

# ---- Gate USDT futures ----

@test "gateio-futures: contracts fetched before the subscription; amounts in base units, exact; every channel; server pings answered" {
	start_fakex fx gateio-futures --recording "$REC/gateio-futures.ndjson" --rate 400 --loop --ping-interval 200
	feed gateio-futures /v4/ws/usdt -x gateio-futures:BTC-USDT-PERP,SOL-USDT-PERP
	wait_until 10 at_least 4 "$TMP/fx.events" '"event":"subscribe"'
	grep -E '"event":"(rest|message)"' "$TMP/fx.events" | head -3 >"$TMP/first"
	grep -qF '"path":"/api/v4/futures/usdt/contracts/BTC_USDT"' <(sed -n 1p "$TMP/first")
	grep -qF '"path":"/api/v4/futures/usdt/contracts/SOL_USDT"' <(sed -n 2p "$TMP/first")
	grep -q '"event":"message"' <(sed -n 3p "$TMP/first")
	for t in trade ticker book derivative; do
		wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"gateio-futures\",\"symbol\":\"BTC-USDT-PERP\"' '$TMP/convert.out') -gt 0 ]"
	done
	wait_until 20 grep -q '^{"type":"liquidation","exchange":"gateio-futures","symbol":"SOL-USDT-PERP",.*"price":172.37,"amount":16,"side":"sell"}' "$TMP/convert.out"
	# |size| x quanto_multiplier (0.0001 BTC), in decimal: the recording's first pass, as it
	# converts offline.
	"$BIN/convert" <"$REC/gateio-futures.ndjson" 2>/dev/null | trades_of BTC-USDT-PERP /dev/stdin >"$TMP/want"
	wait_until 20 bash -c "[ \$(grep -c '^{\"type\":\"trade\",\"exchange\":\"gateio-futures\",\"symbol\":\"BTC-USDT-PERP\"' '$TMP/convert.out') -ge $(wc -l <"$TMP/want") ]"
	diff "$TMP/want" <(trades_of BTC-USDT-PERP "$TMP/convert.out" | head -n "$(wc -l <"$TMP/want")")
	grep -q '"id":"10453890002","price":104027.1,"amount":0.0779,"side":"sell"}' "$TMP/want" # size -779
	[ "$(count "$TMP/convert.err" 'reason=contract')" -eq 0 ]
	wait_until 10 fx_stat_ge fx pongs_received 3
}

@test "gateio-futures obu: a lost increment resyncs once, and the new full book gives a fresh one" {
	start_fakex fx gateio-futures --recording "$REC/gateio-futures.ndjson" --rate 15
	feed gateio-futures /v4/ws/usdt -x gateio-futures:BTC-USDT-PERP -c book
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"book"'
	[ "$(fx fx skip 1)" = "ok skip 1 on 1" ]
	wait_until 15 at_least 1 "$TMP/convert.out" '"event":"resync"'
	wait_until 10 grep -qF '{"event":"unsubscribe","streams":["futures.obu|ob.BTC_USDT.50"]}' "$TMP/fx.events"
	after=$(grep -n '"event":"resync"' "$TMP/convert.out" | tail -1 | cut -d: -f1)
	wait_until 15 bash -c "[ \$(tail -n +$after '$TMP/convert.out' | grep -c '\"type\":\"book\"') -ge 3 ]"
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 1 ]
	# Kept in contracts, sent in BTC.
	tail -1 "$TMP/convert.out" | jq -e '.bids[0][1] < 1'
}

@test "gateio-futures: an unknown contract is refused by its metadata and its subscription; status lines, nothing else" {
	start_fakex fx gateio-futures --recording "$REC/gateio-futures.ndjson" --rate 0
	feed gateio-futures /v4/ws/usdt -x gateio-futures:DOGE-USDT-PERP
	wait_until 10 grep -q '"event":"error","detail":"metadata /api/v4/futures/usdt/contracts/DOGE_USDT failed: HTTP 400: {\\"label\\":\\"CONTRACT_NOT_FOUND\\"' "$TMP/convert.out"
	wait_until 10 grep -q '"event":"error","detail":"2: invalid argument: unknown contract DOGE_USDT"' "$TMP/convert.out"
	grep -q 'level=warn tool=ingest msg="metadata request failed" exchange=gateio-futures symbol=- url=http://127.0.0.1:[0-9]*/api/v4/futures/usdt/contracts/DOGE_USDT error="HTTP 400: ' "$TMP/ingest.err"
	wait_until 5 bash -c "grep -q '^exchange_ingest_metadata_failures_total{exchange=\"gateio-futures\"} 1\$' '$TMP/run/ingest.prom'"
	# The subscription went anyway.
	grep -q '"event":"message","text":"{\\"time\\":[0-9]*,\\"channel\\":\\"futures.trades\\"' "$TMP/fx.events"
	[ "$(grep -c '"type":"\(trade\|book\|ticker\)"' "$TMP/convert.out")" -eq 0 ]
	alive "$(pid_of pipeline)"
}

@test "gateio-futures: a missing contract size leaves amounts out, said once; a contract delisted mid-session is said once" {
	# ETH's metadata has no multiplier; BTC's is answered anew halfway: being delisted.
	sed 's/"quanto_multiplier":"0.01",//' "$REC/gateio-futures.ndjson" | awk 'NR == 1500 {
		print "{\"exchange\":\"gateio-futures\",\"local_ts\":1747054618000000,\"data\":{\"stream\":\"contract\",\"data\":{\"name\":\"BTC_USDT\",\"type\":\"direct\",\"quanto_multiplier\":\"0.0001\",\"funding_next_apply\":1747065600,\"in_delisting\":true,\"status\":\"delisting\"}}}" }
		{ print }' >"$TMP/gate.rec"
	start_fakex fx gateio-futures --recording "$TMP/gate.rec" --rate 0
	feed gateio-futures /v4/ws/usdt -x gateio-futures:BTC-USDT-PERP,ETH-USDT-PERP -c trade
	wait_until 10 at_least 20 "$TMP/convert.out" '"type":"trade","exchange":"gateio-futures","symbol":"BTC-USDT-PERP"'
	wait_until 10 grep -q '"symbol":"ETH-USDT-PERP","local_ts":[0-9]*,"event":"error","detail":"ETH-USDT-PERP: contract size (quanto_multiplier) not known: amounts left out"' "$TMP/convert.out"
	[ "$(count "$TMP/convert.out" '"type":"trade","exchange":"gateio-futures","symbol":"ETH-USDT-PERP"')" -eq 0 ]
	[ "$(count "$TMP/convert.out" 'quanto_multiplier) not known')" -eq 1 ]
	wait_until 5 bash -c "grep -q '^exchange_convert_errors_total{reason=\"number\"} 1\$' '$TMP/run/convert.prom'"
	grep -q 'msg="line left out" exchange=gateio-futures reason=contract' "$TMP/convert.err"
	# The replay is through; the metadata fetched now is the latest.
	[ "$(ctl meta gateio-futures)" = "ok metadata requested" ]
	wait_until 10 grep -q '"symbol":"BTC-USDT-PERP","local_ts":[0-9]*,"event":"error","detail":"BTC-USDT-PERP: contract being delisted"' "$TMP/convert.out"
	wait_until 5 bash -c "[ \"\$(printf 'meta gateio-futures\n' | timeout 5 nc -U -q 1 '$TMP/run/ingest.sock')\" = 'ok metadata requested' ]"
	wait_until 10 at_least 6 "$TMP/fx.events" '"event":"rest"'
	sleep 0.5
	[ "$(count "$TMP/convert.out" 'contract being delisted')" -eq 1 ]
	alive "$(pid_of pipeline)"
}

# ---- Hyperliquid ----

@test "hyperliquid: POST /info meta before the subscription; every channel; pings answered" {
	# One subscription a message: a pace and a loop let the later ones find data too.
	start_fakex fx hyperliquid --recording "$REC/hyperliquid.ndjson" --rate 200 --loop
	feed hyperliquid /ws -x hyperliquid:BTC-USDC-PERP,ETH-USDC-PERP --keepalive 200
	wait_until 10 grep -q '"event":"message","text":"{\\"method\\":\\"subscribe\\"' "$TMP/fx.events"
	grep -E '"event":"(rest|message)"' "$TMP/fx.events" | head -1 | grep -q '"event":"rest","path":"/info","body":"{\\"type\\":\\"meta\\"}"'
	[ "$(count "$TMP/fx.events" '"event":"rest"')" -eq 1 ]
	for s in BTC-USDC-PERP ETH-USDC-PERP; do
		for t in trade ticker book derivative; do
			wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"$t\",\"exchange\":\"hyperliquid\",\"symbol\":\"$s\"' '$TMP/convert.out') -gt 0 ]"
		done
	done
	"$BIN/convert" <"$REC/hyperliquid.ndjson" 2>/dev/null | trades_of BTC-USDC-PERP /dev/stdin >"$TMP/want"
	wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"trade\",\"exchange\":\"hyperliquid\",\"symbol\":\"BTC-USDC-PERP\"' '$TMP/convert.out') -ge $(wc -l <"$TMP/want") ]"
	diff "$TMP/want" <(trades_of BTC-USDC-PERP "$TMP/convert.out" | head -n "$(wc -l <"$TMP/want")")
	wait_until 10 at_least 3 "$TMP/fx.events" '"event":"pong_sent"'
	wait_until 5 heartbeats_ge hyperliquid 2
	[ "$(count "$TMP/ingest.out" '"channel":"pong"')" -eq 0 ]
}

@test "hyperliquid: a connection sent nothing for the server's idle time is cut, unless our pings are answered" {
	start_fakex fx hyperliquid --recording "$REC/hyperliquid.ndjson" --rate 0 --idle-timeout 1500
	feed hyperliquid /ws -x hyperliquid:BTC-USDC-PERP -c trade --keepalive 300
	wait_until 10 at_least 5 "$TMP/convert.out" '"type":"trade"'
	# The replay is through: only pongs go out now, and they keep it open.
	sleep 4
	[ "$(count "$TMP/fx.events" '"event":"idle_timeout"')" -eq 0 ]
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
	stop_pipeline
	feed hyperliquid /ws -x hyperliquid:BTC-USDC-PERP -c trade --keepalive 60000
	wait_until 10 at_least 1 "$TMP/fx.events" '"event":"idle_timeout"'
	wait_until 10 grep -q '"event":"disconnected","detail":"closed by the exchange (code 1000)"' "$TMP/ingest.out"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"event":"connected"'
}

@test "hyperliquid: names only the metadata gives (@N spot pairs, kPEPE) are learnt before subscribing; an unknown coin is a status line" {
	# meta names the perpetual kPEPE; spotMeta names HYPE/USDC "@107"; trades on both follow.
	{
		echo '{"exchange":"hyperliquid","local_ts":1710125265000000,"data":{"stream":"meta","data":{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"kPEPE","szDecimals":0,"maxLeverage":10}]}}}'
		cat "$REC/hyperliquid.ndjson"
		echo '{"exchange":"hyperliquid","local_ts":1710125299000000,"data":{"stream":"spotMeta","data":{"tokens":[{"name":"USDC","index":0},{"name":"PURR","index":1},{"name":"HYPE","index":150}],"universe":[{"name":"PURR/USDC","tokens":[1,0],"index":0},{"name":"@107","tokens":[150,0],"index":107}]}}}'
		for i in 1 2 3; do
			echo "{\"exchange\":\"hyperliquid\",\"local_ts\":171012529900000$i,\"data\":{\"channel\":\"trades\",\"data\":[{\"coin\":\"@107\",\"side\":\"B\",\"px\":\"21.5$i\",\"sz\":\"3.0\",\"time\":171012529900$i,\"hash\":\"0x00\",\"tid\":$i}]}}"
		done
		# After them: each subscription's replay starts where the one before it stopped.
		echo '{"exchange":"hyperliquid","local_ts":1710125299100000,"data":{"channel":"trades","data":[{"coin":"kPEPE","side":"A","px":"0.012345","sz":"1000","time":1710125299100,"hash":"0x00","tid":9}]}}'
	} >"$TMP/hl.rec"
	start_fakex fx hyperliquid --recording "$TMP/hl.rec" --rate 0
	feed hyperliquid /ws -x hyperliquid:HYPE-USDC,KPEPE-USDC-PERP,DOGE-USDC-PERP -c trade
	wait_until 10 grep -q '"event":"rest","path":"/info","body":"{\\"type\\":\\"spotMeta\\"}"' "$TMP/fx.events"
	grep -q '"event":"rest","path":"/info","body":"{\\"type\\":\\"meta\\"}"' "$TMP/fx.events"
	wait_until 10 grep -qF '{"event":"subscribe","streams":["trades|@107"]}' "$TMP/fx.events"
	wait_until 10 grep -qF '{"event":"subscribe","streams":["trades|kPEPE"]}' "$TMP/fx.events"
	wait_until 10 grep -q '"symbol":"KPEPE-USDC-PERP","ts":1710125299100000,"local_ts":[0-9]*,"id":"9","price":0.012345,"amount":1000,"side":"sell"}' "$TMP/convert.out"
	wait_until 10 at_least 3 "$TMP/convert.out" '"type":"trade","exchange":"hyperliquid","symbol":"HYPE-USDC"'
	grep -q '"symbol":"HYPE-USDC","ts":1710125299001000,"local_ts":[0-9]*,"id":"1","price":21.51,"amount":3,"side":"buy"}' "$TMP/convert.out"
	wait_until 10 grep -q '"event":"error","detail":"Invalid subscription {\\"type\\":\\"trades\\",\\"coin\\":\\"DOGE\\"}"' "$TMP/convert.out"
	[ "$(count "$TMP/convert.out" 'DOGE-USDC-PERP","ts"')" -eq 0 ]
}

# ---- what ingest does with metadata ----

@test "ingest: metadata requests go at most one per 110 ms (OKX allows 20 per 2 s), all before the subscription" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 0
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP,ETH-USDT-PERP,SOL-USDT-PERP,ADA-USDT-PERP,XRP-USDT-PERP,BTC-USDT-20261225 -c trade
	wait_until 15 grep -q '"event":"message","text":"{\\"op\\":\\"subscribe\\"' "$TMP/fx.events"
	[ "$(grep -E '"event":"(rest|message)"' "$TMP/fx.events" | head -6 | grep -c '"event":"rest"')" -eq 6 ]
	grep -qF '"path":"/api/v5/public/instruments?instType=FUTURES&instId=BTC-USDT-261225"' "$TMP/fx.events"
	# The requests' times (ms) from ingest's log: never two within 110 ms.
	grep 'msg="fetching metadata" ' "$TMP/ingest.err" | sed 's/^ts=[^T]*T\([0-9:]*\)\.\([0-9]*\)Z.*/\1 \2/' |
		awk '{ split($1, h, ":"); t = ((h[1] * 60 + h[2]) * 60 + h[3]) * 1000 + $2; if (NR > 1 && t - p < 110) bad++; p = t } END { exit bad || NR != 6 }'
	# Unknown swaps (ADA, XRP) and the future the recording does not hold: 51001 status lines.
	wait_until 10 bash -c "[ \$(grep -c '\"event\":\"error\",\"detail\":\"51001' '$TMP/convert.out') -eq 3 ]"
}

@test "ingest: a metadata request not answered within --rest-timeout fails, said and counted; the connection stays" {
	start_fakex fx okx --recording "$REC/okx-swap.ndjson" --rate 20 --loop
	feed okx /ws/v5/public -x okx:BTC-USDT-PERP -c trade --rest-timeout 3000
	wait_until 15 at_least 3 "$TMP/convert.out" '"type":"trade"'
	# The exchange takes the request's TCP connection and never answers it.
	fx fx hang on
	[ "$(ctl meta okx)" = "ok metadata requested" ]
	[ "$(ctl meta okx)" = "ok metadata on its way" ]
	wait_until 15 grep -q '"event":"error","detail":"metadata /api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP failed: no complete answer within 3 s"' "$TMP/convert.out"
	grep -q 'level=warn tool=ingest msg="metadata request failed" exchange=okx symbol=- url=http://127.0.0.1:[0-9]*/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP error="no complete answer within 3 s"' "$TMP/ingest.err"
	wait_until 5 bash -c "grep -q '^exchange_ingest_metadata_failures_total{exchange=\"okx\"} 1\$' '$TMP/run/ingest.prom'"
	fx fx hang off
	[ "$(ctl meta okx)" = "ok metadata requested" ]
	wait_until 10 bash -c "grep -q '^exchange_ingest_metadata_total{exchange=\"okx\"} 2\$' '$TMP/run/ingest.prom'"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
	n=$(count "$TMP/convert.out" '"type":"trade"')
	wait_until 10 bash -c "[ \$(grep -c '\"type\":\"trade\"' '$TMP/convert.out') -gt $n ]"
}

@test "ingest: --meta-interval takes 1 to 86400 seconds; --help and --channels name the derivatives channels" {
	run "$BIN/ingest" -x okx --meta-interval 0 --check
	[ "$status" -eq 2 ]
	[[ "$output" == *"--meta-interval"* ]]
	run "$BIN/ingest" -x okx --meta-interval 86400 --check
	[ "$status" -eq 0 ]
	run "$BIN/ingest" --help
	[[ "$output" == *"trade,ticker,book,derivative,liquidation"* ]]
	[[ "$output" == *"--meta-interval"* ]]
	[[ "$output" == *"meta EX"* ]]
	run "$BIN/ingest" -x okx -c trades --check
	[ "$status" -eq 2 ]
	[[ "$output" == *"derivative, liquidation"* ]]
	run "$BIN/ingest" -x okx:BTC_USDT --check
	[ "$status" -eq 2 ]
	[[ "$output" == *"BASE-QUOTE-PERP"* ]]
}
