#!/usr/bin/env bats
# serve: the client protocol of design.md, fan-out, slow clients, HTTP endpoints, shutdown.

load helpers
bats_require_minimum_version 1.5.0

setup() { setup_tmp; }
teardown() {
	exec 8>&- 2>/dev/null
	teardown_tmp
}

# many_trades N EXCHANGE SYMBOL: N numbered trade lines.
many_trades() {
	local ts
	ts=$(date +%s%6N)
	awk -v n="$1" -v ex="$2" -v sym="$3" -v ts="$ts" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "{\"type\":\"trade\",\"exchange\":\"%s\",\"symbol\":\"%s\",\"ts\":1,\"local_ts\":%s,\"id\":\"%d\",\"price\":1.5,\"amount\":2,\"side\":\"buy\"}\n", ex, sym, ts, i
	}'
}

@test "query filters select types, exchanges and symbols" {
	start_serve
	start c1 "$BIN/wsclient" "$WS?types=trade&exchanges=upbit&symbols=BTC-KRW"
	start c2 "$BIN/wsclient" "$WS?types=ticker,trade&exchanges=binance,upbit"
	start c3 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 3
	{
		line trade upbit BTC-KRW 1
		line trade upbit ETH-KRW 2
		line trade binance BTC-USDT 3
		line ticker upbit BTC-KRW 100
		line book upbit BTC-KRW 100
		line trade upbit BTC-KRW 4
	} | feed
	wait_until 10 at_least 5 "$TMP/c3.out" '"type"'
	wait_until 10 at_least 2 "$TMP/c1.out" '"type"'
	wait_until 10 at_least 4 "$TMP/c2.out" '"type"'
	sleep 0.2
	[ "$(jq -r .id "$TMP/c1.out" | tr '\n' ' ')" = "1 4 " ]
	[ "$(jq -r .type "$TMP/c2.out" | sort | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')" = "1ticker 4trade " ]
	[ "$(wc -l <"$TMP/c3.out")" -eq 6 ]
}

@test "derivative and liquidation are filter types; a new client gets the latest derivative line of each stream" {
	start_serve
	start early "$BIN/wsclient" "$WS?types=liquidation&exchanges=binance-futures"
	wait_until 10 serve_clients_eq 1
	ts=$(date +%s%6N)
	{
		echo '{"type":"derivative","exchange":"binance-futures","symbol":"BTC-USDT-PERP","ts":1,"local_ts":'"$ts"',"mark":95000.1,"funding_rate":0.0001}'
		echo '{"type":"liquidation","exchange":"binance-futures","symbol":"BTC-USDT-PERP","ts":2,"local_ts":'"$ts"',"price":94000.5,"amount":0.5,"side":"sell"}'
		echo '{"type":"derivative","exchange":"binance-futures","symbol":"BTC-USDT-PERP","ts":3,"local_ts":'"$ts"',"mark":95001.2,"funding_rate":0.0001}'
		echo '{"type":"trade","exchange":"binance-futures","symbol":"BTC-USDT-PERP","ts":4,"local_ts":'"$ts"',"id":"1","price":95001,"amount":0.1,"side":"buy"}'
	} | feed
	wait_until 10 at_least 1 "$TMP/early.out" '"type":"liquidation"'
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_cached_streams 1'"
	# A client that comes later gets the newest derivative line only, not the older one,
	# the liquidation or the trade.
	run "$BIN/wsclient" --count 1 --duration 10000 "$WS?types=derivative"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^{')" -eq 1 ]
	[ "$(echo "$output" | grep '^{' | jq -r .mark)" = 95001.2 ]
	sleep 0.3
	[ "$(jq -r .type "$TMP/early.out" | tr '\n' ' ')" = "liquidation " ]
	# Named back in the answer to a subscribe.
	run "$BIN/wsclient" --count 2 --duration 10000 -s '{"op":"subscribe","types":["derivative","liquidation"]}' "$WS?types=trade"
	echo "$output" | grep -q '"type":"subscribed".*"types":\["derivative","liquidation"\]'
}

# bad_url_filter QUERY TEXT: a client with ?QUERY is told TEXT in an error line, then 1008.
bad_url_filter() {
	local out first
	out=$("$BIN/wsclient" --exit-on-close --duration 10000 --stats "$TMP/bad.json" "$WS?$1" 2>&1) || true
	[[ "$out" == *"closed client=0 code=1008"* ]] || { echo "$out"; return 1; }
	first=$(echo "$out" | grep -m1 '^{')
	[ "$(echo "$first" | jq -r .type)" = error ] || { echo "$out"; return 1; }
	[[ "$(echo "$first" | jq -r .error)" == *"$2"* ]] || { echo "$first"; return 1; }
	jq -e '.messages == 1' "$TMP/bad.json" >/dev/null
}

@test "a bad filter in the URL is told in the connection: an error naming the value, then 1008" {
	start_serve
	line ticker upbit BTC-KRW 1 | feed # cached: a refused filter must not replay it
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_cached_streams 1'"
	bad_url_filter "exchanges=nope" 'unknown exchange "nope" in exchanges (known: binance, upbit, bithumb,'
	bad_url_filter "types=trade,nosuch" 'unknown type "nosuch" in types (known: trade, ticker, book, status, derivative, liquidation)'
	bad_url_filter "types=candles" 'unknown type "candles" in types'
	bad_url_filter "symbols=BTC-KRW,NOT_A%20SYMBOL" 'bad symbol "NOT_A SYMBOL" in symbols'
	bad_url_filter "symbols=$(seq -f 'S%g-KRW' 1 65 | paste -sd,)" "too many symbols (at most 64)"
	[ "$(serve_metric exchange_serve_client_errors_total)" -eq 5 ]
	# a good one next to them still works
	run "$BIN/wsclient" --count 1 "$WS?exchanges=upbit&symbols=btc-krw"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"ticker"'* ]]
}

@test "a subscribe naming an unknown exchange gets an error naming it; the previous filter stays" {
	start_serve
	start c1 "$BIN/wsclient" "$WS?types=trade&exchanges=upbit" \
		-s '{"op":"subscribe","exchanges":["binance","nope"]}' \
		-s '{"op":"subscribe","types":["trade"],"symbols":["BTC-KRW","bad symbol"]}' -s '{"op":"ping"}'
	wait_until 10 grep -q '"type":"pong"' "$TMP/c1.out"
	[ "$(sed -n 1p "$TMP/c1.out" | jq -r .error)" = 'unknown exchange "nope" in exchanges (known: binance, upbit, bithumb, coinbase, bybit, okx, kraken, bitget, gateio, binance-futures, bybit-linear, bitget-futures, gateio-futures, hyperliquid)' ]
	[[ "$(sed -n 2p "$TMP/c1.out" | jq -r .error)" == 'bad symbol "bad symbol" in symbols'* ]]
	{
		line trade binance BTC-USDT 1
		line trade upbit BTC-KRW 2
	} | feed
	# still trades of upbit only
	wait_until 10 grep -q '"id":"2"' "$TMP/c1.out"
	run ! grep -q '"exchange":"binance"' "$TMP/c1.out"
}

@test "an unknown symbol is accepted and delivered once the feed produces it" {
	start_serve
	line trade upbit BTC-KRW 1 | feed
	start c1 "$BIN/wsclient" "$WS?symbols=NEW-KRW,btc-krw" -s '{"op":"ping"}'
	start c2 "$BIN/wsclient" "$WS" -s '{"op":"subscribe","symbols":["LATER-USDT-PERP"]}'
	wait_until 10 grep -q '"type":"pong"' "$TMP/c1.out"
	wait_until 10 grep -q '"type":"subscribed"' "$TMP/c2.out"
	grep -q '"symbols":\["LATER-USDT-PERP"\]' "$TMP/c2.out"
	{
		line trade upbit NEW-KRW 2
		line trade upbit ETH-KRW 3
		line trade upbit BTC-KRW 4
		line trade binance-futures LATER-USDT-PERP 5
		line trade upbit NEW-KRW 6
	} | feed
	wait_until 10 grep -q '"id":"6"' "$TMP/c1.out"
	[ "$(jq -r 'select(.type == "trade") | .id' "$TMP/c1.out" | tr '\n' ' ')" = "2 4 6 " ]
	wait_until 10 grep -q '"id":"5"' "$TMP/c2.out"
	[ "$(jq -r 'select(.type == "trade") | .id' "$TMP/c2.out" | tr '\n' ' ')" = "5 " ]
}

@test "names from clients never fill serve's tables: after a flood of made-up names, new ones on the feed are cached and selectable" {
	start_serve
	# 1100 subscribes, 70400 made-up symbols in all (more than the 65535 the table holds),
	# and 50 more naming made-up exchanges (few enough that their 50 answers never wait
	# for the client 64 at a time, which would close it with 1008).
	awk 'BEGIN {
		for (i = 0; i < 1100; i++) {
			printf "{\"op\":\"subscribe\",\"symbols\":["
			for (k = 0; k < 64; k++) printf "%s\"F%dX%d-USDT\"", k ? "," : "", i, k
			print "]}"
		}
		for (i = 0; i < 50; i++) printf "{\"op\":\"subscribe\",\"exchanges\":[\"fake%d\"]}\n", i
	}' >"$TMP/flood"
	run "$BIN/wsclient" -q --count 1150 --duration 60000 --stats "$TMP/flood.json" --send-file "$TMP/flood" "$WS?types=status"
	jq -e '.messages == 1150' "$TMP/flood.json" || { cat "$TMP/flood.json"; echo "$output"; return 1; }
	# an exchange and a symbol the feed has not produced before
	line ticker kraken ZZZ-USD 7 | feed
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_cached_streams 1'"
	run "$BIN/wsclient" --count 1 "$WS?exchanges=kraken&symbols=ZZZ-USD"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"exchange":"kraken","symbol":"ZZZ-USD"'* ]]
	[ "$(serve_metric 'exchange_serve_names_dropped_total{kind="symbol"}')" -eq 0 ]
	[ "$(serve_metric 'exchange_serve_names_dropped_total{kind="exchange"}')" -eq 0 ]
}

@test "the feed producing more names than the tables hold: counted, logged, the lines still go out" {
	start_serve
	start all "$BIN/wsclient" -q --stats "$TMP/all.json" "$WS?types=trade"
	wait_until 10 serve_clients_eq 1
	# 63 exchange ids: the 14 the relay knows, 49 more from the feed, then two that do not fit
	awk -v ts="$(date +%s%6N)" 'BEGIN {
		for (i = 1; i <= 51; i++)
			printf "{\"type\":\"trade\",\"exchange\":\"x%d\",\"symbol\":\"BTC-USDT\",\"local_ts\":%s,\"id\":\"%d\",\"price\":1,\"amount\":1,\"side\":\"buy\"}\n", i, ts, i
	}' | feed
	wait_until 10 bash -c "jq -e '.messages == 51' '$TMP/all.json' >/dev/null 2>&1"
	[ "$(serve_metric 'exchange_serve_names_dropped_total{kind="exchange"}')" -eq 2 ]
	grep -q 'name not kept: table full or name too long.*kind=exchange name="x50"' "$TMP/serve.err"
}

@test "the latest ticker and book of every matching stream come first, on connect and on subscribe" {
	start_serve
	{
		line ticker upbit BTC-KRW 100
		line ticker upbit BTC-KRW 101
		line book upbit BTC-KRW 101
		line ticker binance BTC-USDT 95000
		line trade upbit BTC-KRW 1
	} | feed
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_cached_streams 3'"
	start c1 "$BIN/wsclient" "$WS?exchanges=upbit" -s '{"op":"subscribe","exchanges":["binance"],"types":["ticker"]}'
	wait_until 10 at_least 4 "$TMP/c1.out" '"type"'
	# Upbit's latest ticker (101, not 100) and book, then the reply, then Binance's ticker.
	jq -c '[.type, .exchange, .last // .bids[0][0] // null]' "$TMP/c1.out" >"$TMP/seen"
	[ "$(sed -n 1p "$TMP/seen")" = '["ticker","upbit",101]' ]
	[ "$(sed -n 2p "$TMP/seen")" = '["book","upbit",101]' ]
	[ "$(sed -n 3p "$TMP/seen")" = '["subscribed",null,null]' ]
	[ "$(sed -n 4p "$TMP/seen")" = '["ticker","binance",95000]' ]
	grep -q '{"type":"subscribed","types":\["ticker"\],"exchanges":\["binance"\],"symbols":\[\]}' "$TMP/c1.out"
	run ! grep -q '"type":"trade"' "$TMP/c1.out"
	line ticker binance BTC-USDT 95001 | feed
	wait_until 10 grep -q '"last":95001' "$TMP/c1.out"
}

@test "ping, and every bad client message gets an error while the connection stays open" {
	start_serve
	printf '\xff\xfe' >"$TMP/bad-utf8"
	start c1 "$BIN/wsclient" "$WS" -s '{"op":"ping","id":42}' -s 'not json' -s '{"op":"dance"}' \
		-s '[1,2]' -s '{"op":"subscribe","types":["candles"]}' -s "{\"op\":\"ping\",\"x\":\"$(cat "$TMP/bad-utf8")\"}" \
		-s '{"op":"subscribe","symbols":"BTC-KRW"}' -s '{"op":"ping"}'
	wait_until 10 at_least 8 "$TMP/c1.out" '"type"'
	sed -n 1p "$TMP/c1.out" | jq -e '.type == "pong" and .id == 42 and (.local_ts | type) == "number"'
	[ "$(sed -n 2p "$TMP/c1.out" | jq -r .error)" = "invalid JSON" ]
	[[ "$(sed -n 3p "$TMP/c1.out" | jq -r .error)" == "unknown op"* ]]
	[ "$(sed -n 4p "$TMP/c1.out" | jq -r .type)" = "error" ]
	[[ "$(sed -n 5p "$TMP/c1.out" | jq -r .error)" == *"types"* ]]
	[ "$(sed -n 6p "$TMP/c1.out" | jq -r .error)" = "invalid UTF-8" ]
	[[ "$(sed -n 7p "$TMP/c1.out" | jq -r .error)" == *"symbols"* ]]
	[ "$(sed -n 8p "$TMP/c1.out" | jq -r .type)" = "pong" ]
	line trade upbit BTC-KRW 7 | feed
	wait_until 10 grep -q '"type":"trade"' "$TMP/c1.out"
}

@test "a client message over 4 KiB closes with 1009" {
	start_serve
	big=$(head -c 5000 /dev/zero | tr '\0' 'x')
	run "$BIN/wsclient" --exit-on-close "$WS" -s "{\"op\":\"ping\",\"pad\":\"$big\"}"
	[[ "$output" == *"code=1009"* ]]
	run "$BIN/wsclient" --count 1 "$WS" -s "{\"op\":\"ping\",\"pad\":\"${big:0:3900}\"}"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"pong"'* ]]
}

@test "1000 concurrent clients all receive every line, in order" {
	start_serve
	start load "$BIN/wsclient" -q -n 1000 --count 500 --stats "$TMP/stats.json" "$WS?types=trade"
	wait_until 60 serve_clients_eq 1000
	many_trades 500 binance BTC-USDT | feed
	wait "$LAST_PID"
	jq -e '.connected_ever == 1000 and .per_client_min == 500 and .per_client_max == 500 and .failed == 0' "$TMP/stats.json"
	[ "$(serve_metric exchange_serve_messages_sent_total)" -eq 500000 ]
}

# No client was refused the fast path for a reason that should not happen (fanout.c's
# assumptions 4 and 5): each such counter is there and zero, and nothing was logged.
fast_path_unbroken() {
	curl -fs "http://127.0.0.1:$PORT/metrics" | awk '
		/^exchange_serve_fast_path_refused_total\{reason="(extension|http2_stream|closing|replies|cache)"\} / { n++; if ($2 != 0) bad = 1 }
		END { exit bad || n != 5 }'
	! grep -q 'should not happen' "$TMP/serve.err"
}

# fanout_check THREADS: 200 counting clients and one printing client get 3000 lines, sent
# in 30 bursts so that many rounds of writes happen, with --send-threads THREADS.
fanout_check() {
	start_serve --send-threads "$1"
	start load "$BIN/wsclient" -q -n 200 --count 3000 --stats "$TMP/stats.json" "$WS?types=trade"
	local load=$LAST_PID
	start one "$BIN/wsclient" "$WS?types=trade"
	wait_until 60 serve_clients_eq 201
	many_trades 3000 binance BTC-USDT >"$TMP/lines"
	for k in $(seq 0 29); do
		sed -n "$((k * 100 + 1)),$((k * 100 + 100))p" "$TMP/lines" | feed
		sleep 0.01
	done
	wait "$load"
	jq -e '.per_client_min == 3000 and .per_client_max == 3000 and .failed == 0' "$TMP/stats.json"
	wait_until 10 at_least 3000 "$TMP/one.out" '"type":"trade"'
	# once each, in order
	jq -r .id "$TMP/one.out" | awk '$1 != NR { exit 1 } END { exit NR != 3000 }'
	# the threads' counts reach the metrics: 201 clients x 3000 lines, each with a latency
	[ "$(serve_metric exchange_serve_messages_sent_total)" -eq 603000 ]
	[ "$(serve_metric exchange_pipeline_latency_seconds_count)" -eq 603000 ]
	# the caught-up clients were written directly, and each passed the check
	[ "$(serve_metric exchange_serve_direct_sends_total)" -gt 0 ]
	fast_path_unbroken
}

@test "fan-out from the event loop's thread alone (--send-threads 0): every line once, in order, counted" {
	fanout_check 0
}

@test "fan-out with three send threads: every line once, in order, counted" {
	fanout_check 3
	run "$BIN/serve" --send-threads 17 --check
	[ "$status" -eq 2 ]
}

# send_path_run PATH: 100 clients print every line they get, after their index, from a
# serve with --send-path PATH; the numbered lines of $TMP/lines arrive in 40 bursts. Leaves
# each client's lines, client after client, in $TMP/PATH.got, and serve's count of direct
# sends in $SENDS; serve is stopped at the end.
send_path_run() {
	start_serve --send-path "$1" --send-threads 2
	start "load-$1" "$BIN/wsclient" -n 100 -p --prefix --count 1000 --stats "$TMP/$1.json" "$WS?types=trade"
	local load=$LAST_PID k
	wait_until 60 serve_clients_eq 100
	for k in $(seq 0 39); do
		sed -n "$((k * 25 + 1)),$((k * 25 + 25))p" "$TMP/lines" | feed
		sleep 0.01
	done
	wait "$load"
	jq -e '.per_client_min == 1000 and .per_client_max == 1000 and .failed == 0' "$TMP/$1.json"
	sort -s -n -k1,1 "$TMP/load-$1.out" >"$TMP/$1.got"
	[ "$(serve_metric exchange_serve_messages_sent_total)" -eq 100000 ]
	SENDS=$(serve_metric exchange_serve_direct_sends_total)
	fast_path_unbroken
	grep -q "msg=\"listening\" .* send_path=$1\$" "$TMP/serve.err"
	kill -TERM "$(pid_of serve)"
	wait "$(pid_of serve)" || true
}

@test "--send-path direct and lws give 100 clients the same lines, in the same order" {
	# Numbered lines keep their positions, so both runs send the very same bytes.
	many_trades 1000 binance BTC-USDT | awk '{ sub(/}$/, ",\"seq\":" NR "}"); print }' >"$TMP/lines"
	awk '{ l[NR] = $0 } END { for (i = 0; i < 100; i++) for (k = 1; k <= NR; k++) print i, l[k] }' \
		"$TMP/lines" >"$TMP/want"
	send_path_run direct
	[ "$SENDS" -gt 0 ]
	cmp "$TMP/want" "$TMP/direct.got"
	send_path_run lws
	[ "$SENDS" -eq 0 ]
	cmp "$TMP/want" "$TMP/lws.got"
}

@test "a client asking for permessage-deflate gets no extension, and the fast path" {
	start_serve
	# the upgrade's answer names no extension
	run curl -si --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		-H 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits' \
		"http://127.0.0.1:$PORT/ws/exchange"
	[[ "$output" == "HTTP/1.1 101 "* ]]
	[[ "${output,,}" != *sec-websocket-extensions* ]]
	start c "$BIN/wsclient" -H 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits' "$WS?types=trade"
	wait_until 10 serve_clients_eq 1
	line trade binance BTC-USDT 1 | feed
	wait_until 10 grep -q '"id":"1"' "$TMP/c.out"
	# caught up now: the next line leaves by the fast path, as plain frames
	line trade binance BTC-USDT 2 | feed
	wait_until 10 grep -q '"id":"2"' "$TMP/c.out"
	[ "$(serve_metric exchange_serve_direct_sends_total)" -ge 1 ]
	fast_path_unbroken
}

# data_segs_out of serve's side of the one established WebSocket connection
server_data_segs() {
	ss -tinH state established "( sport = :$PORT )" | grep -o 'data_segs_out:[0-9]*' | cut -d: -f2
}

@test "a batch of lines bigger than 4 KiB leaves in one send, not in 4 KiB pieces" {
	# A caught-up client gets everything new in one send(), up to 64 KiB, never in the
	# 4 KiB pieces libwebsockets sends one loop turn apart unless told otherwise (the next
	# test covers that path). On loopback one send() is one segment, which ss counts.
	start_serve
	start c "$BIN/wsclient" "$WS?types=trade"
	wait_until 10 serve_clients_eq 1
	local before after
	before=$(server_data_segs)
	[ -n "$before" ]
	many_trades 100 binance BTC-USDT >"$TMP/lines"
	[ "$(stat -c %s "$TMP/lines")" -gt 9000 ]
	feed "$TMP/lines"
	wait_until 10 at_least 100 "$TMP/c.out" '"type":"trade"'
	after=$(server_data_segs)
	echo "data segments for $(stat -c %s "$TMP/lines") bytes: $((after - before))" >&3
	[ $((after - before)) -ge 1 ] && [ $((after - before)) -le 2 ]
}

@test "the cache replay bigger than 4 KiB leaves in one send too (the libwebsockets path)" {
	# Live lines to caught-up clients bypass libwebsockets' write; the replay of the latest
	# tickers to a new client goes through it, and so does everything for TLS clients.
	start_serve
	local i
	for i in $(seq 1 100); do line ticker binance "C$i-USDT" "$i"; done >"$TMP/tickers"
	[ "$(stat -c %s "$TMP/tickers")" -gt 9000 ]
	feed "$TMP/tickers"
	cached_100() { [ "$(serve_metric exchange_serve_cached_streams)" = 100 ]; }
	wait_until 10 cached_100
	start c "$BIN/wsclient" "$WS?types=ticker"
	wait_until 10 at_least 100 "$TMP/c.out" '"type":"ticker"'
	# the handshake's answer, then the replay: 2 segments (5 in 4 KiB pieces)
	local segs
	segs=$(server_data_segs)
	echo "data segments, handshake and replay: $segs" >&3
	[ "$segs" -ge 2 ] && [ "$segs" -le 3 ]
}

@test "a client that stops reading is closed (1013); the others keep up" {
	start_serve --max-backlog 2000 --max-backlog-bytes 1000000
	start slow "$BIN/wsclient" --no-read "$WS"
	start fast "$BIN/wsclient" -q --stats "$TMP/fast.json" "$WS"
	wait_until 10 serve_clients_eq 2
	# 30000 lines at about 10000 a second: a reader keeps up, a stalled one cannot.
	many_trades 500 binance BTC-USDT >"$TMP/lines"
	for _ in $(seq 1 60); do feed "$TMP/lines"; sleep 0.05; done
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_slow_clients_closed_total 1'"
	wait_until 20 bash -c "jq -e '.messages == 30000' '$TMP/fast.json' >/dev/null 2>&1"
	wait_until 10 serve_clients_eq 1
}

@test "a client cut for slowness reads the 1013 close frame when it reads again" {
	start_serve --max-backlog 2000 --max-backlog-bytes 1000000
	# stalls after 10 messages, pinging the server while it does not read
	start slow "$BIN/wsclient" --stall-after 10 --exit-on-close --stats "$TMP/slow.json" -q "$WS"
	local slow=$LAST_PID
	wait_until 10 serve_clients_eq 1
	many_trades 500 binance BTC-USDT >"$TMP/lines"
	for _ in $(seq 1 60); do feed "$TMP/lines"; done
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_slow_clients_closed_total 1'"
	kill -USR1 "$slow" # read again
	wait_until 20 grep -q 'closed client=0 code=1013 reason="too slow"' "$TMP/slow.err"
	wait "$slow"
	# it read what the kernel had taken before the cut, then the close frame; not the rest
	jq -e '.close_codes == {"1013": 1} and .messages > 10 and .messages < 30000' "$TMP/slow.json"
	[ "$(serve_metric exchange_serve_close_timeouts_total)" -eq 0 ]
}

@test "a client whose socket takes not even the close frame is dropped after --close-timeout, counted" {
	start_serve --max-backlog 20000 --close-timeout 1000
	# a tiny fixed receive buffer: serve's socket to it fills early and stays full
	start slow "$BIN/wsclient" --no-read --rcvbuf 1024 --exit-on-close "$WS"
	wait_until 10 serve_clients_eq 1
	many_trades 500 binance BTC-USDT >"$TMP/lines"
	for _ in $(seq 1 120); do feed "$TMP/lines"; done
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_close_timeouts_total 1'"
	wait_until 10 serve_clients_eq 0
	grep -q 'msg="client took no close frame in time, dropping it".*code=1013 timeout_ms=1000' "$TMP/serve.err"
	run "$BIN/serve" --close-timeout 50 --check
	[ "$status" -eq 2 ]
	[[ "$output" == *"--close-timeout: 50 is out of range (100-600000)"* ]]
}

# closed_with_at URL ARGS...: a client of URL sending what ARGS say; prints the code serve
# closed it with. closed_with ARGS...: the same on $WS.
closed_with_at() {
	local url=$1
	shift
	"$BIN/wsclient" --exit-on-close --connect-timeout 5000 --duration 10000 "$@" "$url" 2>&1 |
		grep -o 'closed client=0 code=[0-9]*' | cut -d= -f3
}
closed_with() { closed_with_at "$WS" "$@"; }

@test "RFC 6455: unmasked frames and invalid close codes close with 1002, a header announcing more than 4 KiB with 1009" {
	start_serve
	[ "$(closed_with --unmasked -s '{"op":"ping"}')" = 1002 ]
	for code in 0 999 1004 1005 1006 1015 1016 2999 5000 65535; do
		[ "$(closed_with --send-close "$code")" = 1002 ] || { echo "close code $code"; return 1; }
	done
	# a close frame of one byte (no room for a code)
	[ "$(closed_with --send-raw '8881 37fa213d 00')" = 1002 ]
	# valid codes are echoed, 1012..1014 included (libwebsockets 4.1 would answer 1002)
	for code in 1000 1001 1003 1007 1011 1012 1013 1014 3000 4999; do
		[ "$(closed_with --send-close "$code")" = "$code" ] || { echo "close code $code"; return 1; }
	done
	# 1 GiB announced, nothing sent after the header: closed at once, not held open
	local t0=$SECONDS
	[ "$(closed_with --send-raw '81ff0000000040000000 37fa213d')" = 1009 ]
	[ $((SECONDS - t0)) -lt 3 ]
	# 5000 bytes announced in a 16-bit length, and a fragmented message over 4 KiB
	[ "$(closed_with --send-raw '81fe1388 37fa213d')" = 1009 ]
	[ "$(closed_with --send-raw "01fe0800 00000000 $(head -c 2048 /dev/zero | od -An -v -tx1 | tr -d ' \n') 80fe0801 00000000")" = 1009 ]
	[ "$(serve_metric 'exchange_serve_protocol_errors_total{code="1002"}')" -eq 12 ]
	[ "$(serve_metric 'exchange_serve_protocol_errors_total{code="1009"}')" -eq 3 ]
	# well-formed clients are unaffected
	run "$BIN/wsclient" --count 1 -s '{"op":"ping"}' "$WS"
	[[ "$output" == *'"type":"pong"'* ]]
}

@test "RFC 6455: a client that sends frames before the upgrade is answered is closed with 1002" {
	start_serve
	local key=dGhlIHNhbXBsZSBub25jZQ==
	{
		printf 'GET /ws/exchange HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
		printf 'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' "$key"
		printf '\x81\x8d\x00\x00\x00\x00{"op":"ping"}'
		sleep 1
	} | timeout 5 nc -q 1 127.0.0.1 "$PORT" >"$TMP/raw" || true
	grep -q '^HTTP/1.1 101' "$TMP/raw"
	# the answer holds a close frame with 1002 (0x03ea), and no pong
	od -An -v -tx1 "$TMP/raw" | tr -d ' \n' | grep -Eq '88[0-7][0-9a-f]03ea'
	run ! grep -q pong "$TMP/raw"
}

@test "RFC 6455 checks hold over TLS too" {
	make_certs
	start_serve --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key"
	local wss="wss://localhost:$PORT/ws/exchange"
	[ "$(closed_with_at "$wss" --ca "$TMP/tls/ca.crt" --unmasked -s '{"op":"ping"}')" = 1002 ]
	[ "$(closed_with_at "$wss" --ca "$TMP/tls/ca.crt" --send-close 5000)" = 1002 ]
	[ "$(closed_with_at "$wss" --ca "$TMP/tls/ca.crt" --send-raw '81ff0000000040000000 37fa213d')" = 1009 ]
	run "$BIN/wsclient" --ca "$TMP/tls/ca.crt" --count 1 -s '{"op":"ping"}' "$wss"
	[[ "$output" == *'"type":"pong"'* ]]
}

@test "the upstream ending does not drop clients; /ready tells" {
	start_serve --ready-timeout 500
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready"
	[ "$output" = 503 ]
	start c1 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 1
	line trade upbit BTC-KRW 1 | feed
	wait_until 10 grep -q '"type":"trade"' "$TMP/c1.out"
	run curl -s "http://127.0.0.1:$PORT/ready"
	[ "$output" = "receiving data" ]
	sleep 0.7
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready"
	[ "$output" = 503 ]
	exec 8>&- # the writer goes away
	sleep 0.5
	alive "$(pid_of serve)"
	alive "$(pid_of c1)"
	serve_clients_eq 1
}

@test "SIGTERM: no new clients, 1001 to everyone, exit well within 10 s" {
	start_serve
	start c1 "$BIN/wsclient" --exit-on-close "$WS"
	start c2 "$BIN/wsclient" --exit-on-close "$WS?types=trade"
	wait_until 10 serve_clients_eq 2
	pid=$(pid_of serve)
	t0=$SECONDS
	kill -TERM "$pid"
	wait "$pid"
	[ $((SECONDS - t0)) -lt 10 ]
	wait_until 5 grep -q 'code=1001' "$TMP/c1.err"
	wait_until 5 grep -q 'code=1001' "$TMP/c2.err"
	run ! curl -fs "http://127.0.0.1:$PORT/health"
}

@test "--max-clients refuses upgrades beyond the limit with 503" {
	start_serve --max-clients 2
	start c1 "$BIN/wsclient" "$WS"
	start c2 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 2
	run "$BIN/wsclient" --exit-on-close --connect-timeout 3000 "$WS"
	[[ "$output" == *"status=503"* ]]
	run "$BIN/wsclient" --exit-on-close --connect-timeout 3000 "ws://127.0.0.1:$PORT/elsewhere"
	[[ "$output" == *"status=404"* ]]
}

@test "HTTP: /health, /metrics with every tool's textfile, /api/status, the web UI" {
	mkdir -p "$TMP/run"
	printf '# HELP exchange_ingest_frames_total Frames.\n# TYPE exchange_ingest_frames_total counter\nexchange_ingest_frames_total{exchange="binance"} 42\n# HELP exchange_process_resident_memory_bytes Resident memory of each tool'"'"'s process.\n# TYPE exchange_process_resident_memory_bytes gauge\nexchange_process_resident_memory_bytes{tool="ingest"} 1000\n' >"$TMP/run/ingest.prom"
	start_serve --run-dir "$TMP/run" --node-id test-node
	[ "$(curl -fs "http://127.0.0.1:$PORT/health")" = ok ]
	curl -fs "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
	grep -q '^exchange_ingest_frames_total{exchange="binance"} 42$' "$TMP/metrics"
	grep -q '^exchange_process_resident_memory_bytes{tool="serve"} ' "$TMP/metrics"
	grep -q '^exchange_process_resident_memory_bytes{tool="ingest"} 1000$' "$TMP/metrics"
	# One HELP and TYPE per family, even when several tools share a name.
	[ "$(grep -c '^# TYPE exchange_process_resident_memory_bytes ' "$TMP/metrics")" -eq 1 ]
	promtool check metrics <"$TMP/metrics"
	line trade upbit BTC-KRW 1 | feed
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/api/status | jq -e '.messages.received == 1' >/dev/null"
	curl -fs "http://127.0.0.1:$PORT/api/status" | jq -e '.node == "test-node" and .role == "leader" and .mode == "direct" and (.stages | map(.name)) == ["ingest","convert","distribute","serve","elect"] and .exchanges[0].exchange == "binance" and .exchanges[0].frames == 42'
	curl -fs "http://127.0.0.1:$PORT/" | grep -qi '<html'
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope.html")" = 404 ]
}

@test "wss:// with a certificate" {
	make_certs
	start_serve --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key"
	start c1 "$BIN/wsclient" --ca "$TMP/tls/ca.crt" "wss://localhost:$PORT/ws/exchange"
	wait_until 10 serve_clients_eq 1
	line trade upbit BTC-KRW 1 | feed
	wait_until 10 grep -q '"type":"trade"' "$TMP/c1.out"
	curl -fs --cacert "$TMP/tls/ca.crt" "https://localhost:$PORT/health"
	# caught up now: the next line goes through libwebsockets, which encrypts, as expected
	line trade upbit BTC-KRW 2 | feed
	wait_until 10 grep -q '"id":"2"' "$TMP/c1.out"
	[ "$(serve_metric 'exchange_serve_fast_path_refused_total{reason="tls"}')" -ge 1 ]
	[ "$(serve_metric exchange_serve_direct_sends_total)" -eq 0 ]
	run ! grep -q 'should not happen' "$TMP/serve.err"
}

@test "--check validates the files and addresses the options name (exit 2, naming the option and why)" {
	make_certs
	mkdir -p "$TMP/www" "$TMP/empty"
	echo '<html></html>' >"$TMP/www/index.html"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" \
		-keyout "$TMP/other.key" -out "$TMP/other.crt" 2>/dev/null
	echo "not a certificate" >"$TMP/garbage.pem"
	: >"$TMP/empty-secret"
	check_fails() { # check_fails TEXT ARGS...: --check exits 2 and says TEXT
		local want=$1 out rc=0
		shift
		out=$("$BIN/serve" "$@" --check 2>&1) || rc=$?
		if [ "$rc" -ne 2 ] || [[ "$out" != *"$want"* ]]; then
			echo "serve $* --check: $rc $out"
			return 1
		fi
	}
	check_fails '--bind takes an IPv4 or IPv6 address' --bind 1.2.3.4.5
	check_fails '--bind takes an IPv4 or IPv6 address' --bind localhost
	check_fails "--www $TMP/nope: No such file or directory" --www "$TMP/nope"
	check_fails "--www $TMP/empty: no readable index.html in it" --www "$TMP/empty"
	check_fails "--www $TMP/www/index.html: not a directory" --www "$TMP/www/index.html"
	check_fails "--tls-cert $TMP/nope.crt: No such file or directory" --tls-cert "$TMP/nope.crt" --tls-key "$TMP/tls/server.key"
	check_fails "--tls-key $TMP/nope.key: No such file or directory" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/nope.key"
	check_fails "--tls-cert $TMP/garbage.pem: not a PEM certificate" --tls-cert "$TMP/garbage.pem" --tls-key "$TMP/tls/server.key"
	check_fails "--tls-key $TMP/garbage.pem: not a PEM private key" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/garbage.pem"
	check_fails "--tls-key $TMP/other.key is not the key of the certificate in --tls-cert" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/other.key"
	check_fails "--auth-secret $TMP/empty-secret: the secret must have at least 16 bytes" --auth-secret "$TMP/empty-secret"
	run "$BIN/serve" --bind 127.0.0.1 --www "$TMP/www" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key" --check
	[ "$status" -eq 0 ]
	run "$BIN/serve" --bind ::1 --check
	[ "$status" -eq 0 ]
	# the same checks before a real start: exit 2, not a failure at run time
	run "$BIN/serve" --port "$(free_port)" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/other.key"
	[ "$status" -eq 2 ]
}

# opt_error TEXT ARGS...: serve ARGS --check exits 2 and says TEXT.
opt_error() {
	local want=$1 out rc=0
	shift
	out=$("$BIN/serve" "$@" --check 2>&1) || rc=$?
	if [ "$rc" -ne 2 ] || [[ "$out" != *"$want"* ]]; then
		echo "serve $*: $rc $out"
		return 1
	fi
}

@test "option errors name the option and the valid range" {
	opt_error '--port: 99999 is out of range (0-65535)' --port 99999
	opt_error '--max-clients: -1 is out of range (0-1000000)' --max-clients -1
	opt_error '--ring: 12 is out of range (64-16777216)' --ring 12
	opt_error '--send-threads: "x" is not a whole number (0-16)' --send-threads x
	opt_error '--send-path takes direct or lws, not "kernel"' --send-path kernel
	opt_error '--ready-timeout: 5 is out of range (100-86400000)' --ready-timeout 5
	opt_error '--path must start with /, not "ws"' --path ws
	opt_error '--admin-allow takes a network such as 10.0.0.0/8 (16 at most), not "10.0.0.0/33"' --admin-allow 10.0.0.0/33
}

@test "a metrics file whose tool stopped rewriting it is left out of /metrics and counted" {
	mkdir -p "$TMP/run"
	printf '# TYPE exchange_ingest_frames_total counter\nexchange_ingest_frames_total{exchange="binance"} 42\n' >"$TMP/run/ingest.prom"
	printf '# TYPE exchange_elect_leader gauge\nexchange_elect_leader 1\n' >"$TMP/run/elect.prom"
	touch -d '2 days ago' "$TMP/run/elect.prom"
	start_serve --run-dir "$TMP/run"
	curl -fs "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
	grep -q '^exchange_ingest_frames_total{exchange="binance"} 42$' "$TMP/metrics"
	run ! grep -q 'exchange_elect_leader' "$TMP/metrics"
	[ "$(metric "$TMP/metrics" exchange_serve_stale_textfiles_total)" -eq 1 ]
	grep -q 'metrics file not rewritten for a while, left out of /metrics.*elect.prom' "$TMP/serve.err"
	# /api/status shows the stale stage as down, with its age, and none of its numbers
	curl -fs "http://127.0.0.1:$PORT/api/status" | jq -e '(.stages[] | select(.name == "elect") | .up == false and .metrics_age_s > 86400) and (.stages[] | select(.name == "ingest") | .up == true)'
	# rewritten, it is back
	touch "$TMP/run/elect.prom"
	curl -fs "http://127.0.0.1:$PORT/metrics" | grep -q '^exchange_elect_leader 1$'
}

# status_lines N EXCHANGE EVENT [FIRST]: N status lines numbered FIRST.. in their detail
# ("incident K" and padding to about 300 bytes), one local_ts apart each.
status_lines() {
	local ts
	ts=$(date +%s%6N)
	awk -v n="$1" -v ex="$2" -v ev="$3" -v first="${4:-1}" -v ts="$ts" 'BEGIN {
		pad = sprintf("%240s", ""); gsub(/ /, "x", pad)
		for (i = first; i < first + n; i++)
			printf "{\"type\":\"status\",\"exchange\":\"%s\",\"symbol\":\"BTC-KRW\",\"local_ts\":%d,\"event\":\"%s\",\"detail\":\"incident %d %s\"}\n", ex, ts + i, ev, i, pad
	}'
}

# A status line: status EXCHANGE EVENT [DETAIL [SYMBOL]]
status() {
	local sym=""
	[ -n "${4:-}" ] && sym=",\"symbol\":\"$4\""
	printf '{"type":"status","exchange":"%s"%s,"local_ts":%s,"event":"%s","detail":"%s"}\n' "$1" "$sym" "$(date +%s%6N)" "$2" "${3:-}"
}

events() { curl -fs "http://127.0.0.1:$PORT/api/events$1"; }

# json_match PATH FILTER: GET PATH answers JSON for which the jq FILTER is true (jq -e alone
# passes on empty input, so a failed request must fail here first).
json_match() {
	local body
	body=$(curl -fs "http://127.0.0.1:$PORT$1") && [ -n "$body" ] && jq -e "$2" <<<"$body" >/dev/null
}

@test "the latest status line of each exchange comes first too, whatever its symbol" {
	start_serve
	{
		status upbit connected wss://upbit
		status binance connected wss://binance
		status upbit resync "sequence gap" BTC-KRW
		status upbit disconnected "idle timeout"
		line ticker upbit BTC-KRW 100
	} | feed
	wait_until 10 json_match /api/status '.messages.received == 5'
	start c1 "$BIN/wsclient" "$WS"
	start c2 "$BIN/wsclient" "$WS?exchanges=binance"
	wait_until 10 at_least 3 "$TMP/c1.out" '"type"'
	wait_until 10 at_least 1 "$TMP/c2.out" '"type"'
	sleep 0.2
	# One status per exchange (Upbit's latest, its disconnection), oldest position first.
	[ "$(jq -c 'select(.type == "status") | [.exchange, .event]' "$TMP/c1.out" | tr '\n' ' ')" = '["binance","connected"] ["upbit","disconnected"] ' ]
	[ "$(jq -c '[.type, .exchange, .event]' "$TMP/c2.out" | tr '\n' ' ')" = '["status","binance","connected"] ' ]
}

@test "/api/events: status lines and serve's own start, newest first, filtered by exchange and kind" {
	start_serve --run-dir "$TMP/run" --node-id ev-node
	{
		status upbit connected wss://upbit
		status binance connected wss://binance
		status upbit resync "sequence gap 1041 -> 1043" BTC-KRW
		status upbit disconnected "idle timeout"
		line trade upbit BTC-KRW 1
	} | feed
	wait_until 10 json_match /api/events '.held == 5'
	events >"$TMP/all.json"
	jq -e '.node == "ev-node" and .capacity == 4096 and .matched == 5' "$TMP/all.json"
	[ "$(jq -c '[.events[] | [.exchange, .event]]' "$TMP/all.json")" = '[["upbit","disconnected"],["upbit","resync"],["binance","connected"],["upbit","connected"],["relay","start"]]' ]
	jq -e '.events[1] | .symbol == "BTC-KRW" and .detail == "sequence gap 1041 -> 1043" and (.local_ts | type) == "number"' "$TMP/all.json"
	jq -e '[.per_hour[].total] | add == 5' "$TMP/all.json"
	[ "$(events '?exchange=upbit' | jq -c '[.events[].event]')" = '["disconnected","resync","connected"]' ]
	[ "$(events '?kind=connected,resync' | jq -c '[.events[] | .exchange + " " + .event]')" = '["upbit resync","binance connected","upbit connected"]' ]
	[ "$(events '?exchange=upbit&kind=connected%2Cdisconnected&limit=1' | jq -c '[.matched, [.events[].event]]')" = '[2,["disconnected"]]' ]
	[ "$(events '?kind=resync' | jq -c '.per_hour | map(.kinds)')" = '[{"resync":1}]' ]
	run curl -s -w '%{http_code}' "http://127.0.0.1:$PORT/api/events?limit=0"
	[ "$output" = '{"error":"limit must be a whole number from 1 to 4096"}
400' ]
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/events?limit=abc"
	[ "$output" = 400 ]
	# Serve's own: a role change in the run directory, and a slow client cut.
	echo follower >"$TMP/run/role"
	echo "node-2 ws://node-2:8080/ws/exchange" >"$TMP/run/leader"
	wait_until 10 json_match '/api/events?kind=role' '.events[0].detail == "follower, leader node-2 ws://node-2:8080/ws/exchange"'
}

@test "/api/events follows the access rule of /api/status" {
	start_serve --admin-allow 10.0.0.0/8 --run-dir "$TMP/run"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/events")" = 403 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/status")" = 403 ]
	wait_until 5 grep -q '^exchange_serve_admin_rejected_total 2$' "$TMP/run/serve.prom"
}

@test "/api/events records a slow client cut off" {
	start_serve --max-backlog 2000 --max-backlog-bytes 1000000
	start slow "$BIN/wsclient" --no-read "$WS"
	wait_until 10 serve_clients_eq 1
	many_trades 500 binance BTC-USDT >"$TMP/lines"
	for _ in $(seq 1 60); do feed "$TMP/lines"; sleep 0.05; done
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_slow_clients_closed_total 1'"
	wait_until 5 json_match '/api/events?kind=slow_client' '.events[0] | .exchange == "relay" and .detail == "1 client closed with 1013: too slow to keep up"'
}

@test "/api/events survives a restart of serve" {
	start_serve --run-dir "$TMP/run"
	{
		status kraken connected wss://kraken
		status kraken resync "checksum mismatch" BTC-USD
	} | feed
	wait_until 10 json_match /api/events '.held == 3'
	kill -TERM "$(pid_of serve)"
	wait "$(pid_of serve)" || true
	exec 8>&-
	start_serve --run-dir "$TMP/run"
	events >"$TMP/after.json"
	[ "$(jq -c '[.events[] | [.exchange, .event]]' "$TMP/after.json")" = '[["relay","start"],["kraken","resync"],["kraken","connected"],["relay","start"]]' ]
	jq -e '.events[1].detail == "checksum mismatch" and .events[1].symbol == "BTC-USD"' "$TMP/after.json"
}

@test "/api/events is bounded: 4096 in memory, two files of at most 1 MiB, the newest kept across a restart" {
	start_serve --run-dir "$TMP/run"
	# 5250 incidents of about 380 bytes, 750 a second: well within the 1000 a second serve
	# records, also on a busy machine.
	for b in 0 1 2 3 4 5 6; do
		status_lines 750 upbit resync $((b * 750 + 1)) | feed
		sleep 1.05
	done
	wait_until 10 json_match '/api/events?limit=1' '.events[0].detail | startswith("incident 5250 ")'
	events '?limit=4096' >"$TMP/all.json"
	jq -e '.held == 4096 and .matched == 4096 and (.events | length) == 4096 and .dropped_total == 0' "$TMP/all.json"
	# Newest first, consecutive: incident 5250 down to 1155.
	[ "$(jq -r '.events[0].detail, .events[4095].detail' "$TMP/all.json" | cut -d' ' -f2 | tr '\n' ' ')" = '5250 1155 ' ]
	[ "$(stat -c %s "$TMP/run/events.ndjson")" -le 1048576 ]
	[ "$(stat -c %s "$TMP/run/events.ndjson.1")" -le 1048576 ]
	[ "$(stat -c %s "$TMP/run/events.ndjson.1")" -gt 1000000 ]
	kill -TERM "$(pid_of serve)"
	wait "$(pid_of serve)" || true
	exec 8>&-
	start_serve --run-dir "$TMP/run"
	events '?kind=resync&limit=4096' >"$TMP/after.json"
	# What the two files held: all of .1 and the newer file, up to incident 5000.
	jq -e '.matched > 2700 and (.events[0].detail | startswith("incident 5250 "))' "$TMP/after.json"
	[ "$(jq '[.events[].detail | split(" ")[1] | tonumber] | . == (sort | reverse)' "$TMP/after.json")" = true ]
}

@test "/api/events: a flood of status lines is recorded up to 1000 a second, the rest counted" {
	start_serve --run-dir "$TMP/run"
	status_lines 3000 okx error | feed
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | awk '\$1 == \"exchange_serve_lines_total\" && \$2 == 3000 { ok = 1 } END { exit !ok }'"
	recorded=$(serve_metric exchange_serve_events_total)
	dropped=$(serve_metric 'exchange_serve_events_dropped_total{reason="rate"}')
	echo "recorded=$recorded dropped=$dropped"
	[ "$dropped" -gt 0 ]
	[ "$recorded" -lt 3000 ]
	# Every status line is either recorded or counted (plus serve's own start).
	[ $((recorded + dropped)) -eq 3001 ]
	[ "$(wc -l <"$TMP/run/events.ndjson")" -eq "$recorded" ]
	grep -q 'msg="status lines arrive faster than the event history records them' "$TMP/serve.err"
}

@test "/api/status: a node without Kafka or ZooKeeper says not configured, not down" {
	mkdir -p "$TMP/run"
	printf '# TYPE exchange_kafka_up gauge\nexchange_kafka_up 0\n# TYPE exchange_distribute_kafka_configured gauge\nexchange_distribute_kafka_configured 0\n' >"$TMP/run/distribute.prom"
	start_serve --run-dir "$TMP/run"
	curl -fs "http://127.0.0.1:$PORT/api/status" >"$TMP/status.json"
	jq -e '.kafka == {"configured": false}' "$TMP/status.json"
	jq -e '.stages[] | select(.name == "elect") | .configured == false and .up == false' "$TMP/status.json"
	# With --kafka, a Kafka that is down is down.
	printf '# TYPE exchange_kafka_up gauge\nexchange_kafka_up 0\n# TYPE exchange_distribute_kafka_configured gauge\nexchange_distribute_kafka_configured 1\n' >"$TMP/run/distribute.prom"
	printf '# TYPE exchange_elect_leader gauge\nexchange_elect_leader 1\n' >"$TMP/run/elect.prom"
	wait_until 5 json_match /api/status '.kafka.up == false and (.stages[] | select(.name == "elect") | has("configured") | not)'
}

@test "/api/events: a long detail is cut between characters; a status line without a usable event is counted, not recorded" {
	start_serve --run-dir "$TMP/run"
	# 396 and 399 ASCII bytes, then é (escaped, 6 bytes; raw, 2) straddling the 400-byte cut.
	pad=$(printf '%396s' '' | tr ' ' x)
	pad399=$(printf '%399s' '' | tr ' ' x)
	long=$(printf '%100s' '' | tr ' ' y)
	{
		printf '{"type":"status","exchange":"okx","local_ts":%s,"event":"error","detail":"%s\\u00e9\\"%s"}\n' "$(date +%s%6N)" "$pad" "$long"
		printf '{"type":"status","exchange":"okx","local_ts":%s,"event":"error","detail":"%s\xc3\xa9%s"}\n' "$(date +%s%6N)" "$pad399" "$long"
		printf '{"type":"status","exchange":"okx","local_ts":%s,"detail":"no event"}\n' "$(date +%s%6N)"
		printf '{"type":"status","exchange":"okx","local_ts":%s,"event":"%s"}\n' "$(date +%s%6N)" "$long"
	} | feed
	wait_until 10 json_match '/api/events?exchange=okx' '.matched == 2'
	events '?exchange=okx' >"$TMP/okx.json"
	# A character straddling the cut is left out whole, escaped or not.
	[ "$(jq -r '.events[1].detail' "$TMP/okx.json")" = "$pad..." ]
	[ "$(jq -r '.events[0].detail' "$TMP/okx.json")" = "$pad399..." ]
	# The file holds the same valid JSON lines.
	jq -e -s 'map(select(.exchange == "okx")) | length == 2' "$TMP/run/events.ndjson"
	wait_until 5 grep -q '^exchange_serve_events_dropped_total{reason="shape"} 2$' "$TMP/run/serve.prom"
}
