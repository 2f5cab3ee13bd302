#!/usr/bin/env bats
# ingest against the fake exchange (tests/tools/fakex/), over ws:// and wss://.

load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
	# Recordings as ingest would have made them: Binance combined streams, Upbit frames.
	"$ROOT/bench/gen-trades" 400 >"$TMP/binance.rec"
	cp "$FIXTURES/recordings/upbit.ndjson" "$TMP/upbit.rec"
}
teardown() { teardown_tmp; }

data_lines() { grep -c '"data":' "$1" 2>/dev/null || true; }

@test "binance: the URL names exactly the subscribed streams, data arrives byte for byte" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 0
	start ingest "$BIN/ingest" -x binance:BTC-USDT,ETH-USDT -c trade,ticker,book --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 grep -q '"event":"connect"' "$TMP/fx.events"
	grep -qF '"path":"/stream?streams=btcusdt@trade/btcusdt@ticker/btcusdt@depth20@100ms/ethusdt@trade/ethusdt@ticker/ethusdt@depth20@100ms"' "$TMP/fx.events"
	# Every recorded BTC and ETH frame, and nothing else, in order and unchanged.
	grep -E '"stream":"(btc|eth)usdt@trade"' "$TMP/binance.rec" | sed 's/.*"data":\({"stream".*}\)}$/\1/' >"$TMP/want"
	wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -ge $(wc -l <"$TMP/want") ]"
	grep '"data":' "$TMP/ingest.out" | sed 's/.*"data":\({"stream".*}\)}$/\1/' >"$TMP/got"
	diff "$TMP/want" "$TMP/got"
	head -1 "$TMP/ingest.out" | grep -q '^{"exchange":"binance","local_ts":[0-9]\{16\},"event":"connected","detail":"ws://127.0.0.1:'
	grep '"data":' "$TMP/ingest.out" | head -1 | grep -q '^{"exchange":"binance","local_ts":[0-9]\{16\},"data":{"stream":'
}

@test "fakex --retime: the exchange's own times move to now by one offset, the rest is unchanged" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 0 --retime
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=ws://127.0.0.1:$FX_PORT"
	grep '"stream":"btcusdt@trade"' "$TMP/binance.rec" | jq -c .data.data >"$TMP/want"
	n=$(wc -l <"$TMP/want")
	wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -ge $n ]"
	grep '"data":' "$TMP/ingest.out" | jq -c .data.data >"$TMP/got"
	now=$(date +%s%3N)
	# The recording is from the past; its frames arrive carrying times of now (each line moved
	# by its own local_ts to the moment it is sent, so E may lead now by the recorded gap).
	jq -e --argjson now "$now" '.E < $now - 86400000' <(head -1 "$TMP/want")
	jq -s -e --argjson now "$now" 'all(.[]; .E > $now - 60000 and .E < $now + 1000 and .T > $now - 60000)' "$TMP/got"
	# One offset for the whole frame (T - E kept), and nothing but E and T touched.
	diff <(jq -c '[.T - .E, del(.E, .T)]' "$TMP/want") <(jq -c '[.T - .E, del(.E, .T)]' "$TMP/got")
}

@test "fakex --tick-us: what falls due goes out in bursts, one frame per line" {
	"$ROOT/bench/gen-trades" 5000 >"$TMP/many.rec"
	start_fakex fx binance --recording "$TMP/many.rec" --rate 1000 --live --loop --tick-us 100000
	start ingest "$BIN/ingest" -x binance:BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT,BNB-BTC -c trade --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -ge 600 ]"
	# Gaps between arrivals: within a burst well under a millisecond, between bursts near
	# the 100 ms tick; at 1000 lines/s without a tick they would all be about 1 ms.
	grep '"data":' "$TMP/ingest.out" | jq -s '[.[].local_ts] | [range(1; length) as $i | .[$i] - .[$i - 1]]' >"$TMP/gaps"
	jq -e '([.[] | select(. < 500)] | length) >= 0.9 * length' "$TMP/gaps"
	jq -e '[.[] | select(. > 50000)] | length >= 4' "$TMP/gaps"
	jq -e '[.[] | select(. >= 2000 and . <= 50000)] | length <= 2' "$TMP/gaps"
}

@test "fakex --loop: each pass moves every trade id of a frame on by 10^9, however many it holds" {
	# One Kraken frame of 40 trades with ids 1..40: each id grows by up to 9 digits a pass.
	jq -nc '{exchange:"kraken",local_ts:1732223022000000,data:{channel:"trade",type:"update",data:[range(1;41) | {symbol:"BTC/USD",side:"buy",price:95000.1,qty:0.001,ord_type:"market",trade_id:.,timestamp:"2024-11-21T21:03:42.000000Z"}]}}' >"$TMP/kraken.rec"
	start_fakex fx kraken --recording "$TMP/kraken.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x kraken:BTC-USD -c trade --url "kraken=ws://127.0.0.1:$FX_PORT/v2"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"channel":"trade","type":"update"'
	jq -c 'select(.data.channel == "trade") | [.data.data[].trade_id]' "$TMP/ingest.out" | head -3 >"$TMP/got"
	for pass in 0 1 2; do jq -nc --argjson p "$pass" '[range(1;41) | . + $p * 1000000000]'; done >"$TMP/want"
	diff "$TMP/want" "$TMP/got"
}

@test "upbit: one request with ticket, types and QUOTE-BASE codes; binary frames become lines" {
	start_fakex fx upbit --recording "$TMP/upbit.rec" --rate 0
	start ingest "$BIN/ingest" -x upbit:BTC-KRW,USDT-KRW -c trade,book --url "upbit=ws://127.0.0.1:$FX_PORT/websocket/v1"
	wait_until 10 grep -q '"event":"subscribe"' "$TMP/fx.events"
	msg=$(grep '"event":"message"' "$TMP/fx.events" | head -1 | jq -r .text)
	echo "$msg" | jq -e '.[0].ticket | startswith("relay-")'
	echo "$msg" | jq -e '.[1] == {"type":"trade","codes":["KRW-BTC","KRW-USDT"]}'
	echo "$msg" | jq -e '.[2] == {"type":"orderbook","codes":["KRW-BTC","KRW-USDT"]}'
	echo "$msg" | jq -e '.[3] == {"format":"DEFAULT"}'
	echo "$msg" | jq -e 'length == 4'
	wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -ge 20 ]"
	# Only subscribed types and codes, as JSON text.
	grep '"data":' "$TMP/ingest.out" | jq -e -s 'all(.[]; (.data.type == "trade" or .data.type == "orderbook") and (.data.code == "KRW-BTC" or .data.code == "KRW-USDT"))'
}

@test "wss://: verified against the CA given with --ca, refused without it" {
	make_certs
	start_fakex fx binance --recording "$TMP/binance.rec" --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key"
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=wss://localhost:$FX_PORT" --ca "$TMP/tls/ca.crt"
	wait_until 10 at_least 5 "$TMP/ingest.out" '"data":'
	grep -q '"tls":true' "$TMP/fx.events"
	start bad "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=wss://localhost:$FX_PORT"
	wait_until 10 at_least 1 "$TMP/bad.out" '"event":"error"'
	[ "$(count "$TMP/bad.out" '"data":')" -eq 0 ]
}

@test "reconnects after a drop, with growing back-off while the exchange is away" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 50 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"data":'
	fx fx refuse on
	fx fx drop
	wait_until 10 at_least 1 "$TMP/ingest.out" '"event":"disconnected"'
	wait_until 15 at_least 4 "$TMP/ingest.err" 'msg="reconnecting"'
	# The delays grow: 0.5 s, 1 s, 2 s, ... (each with up to 20 % jitter).
	delays=$(grep -o 'in_ms=[0-9]*' "$TMP/ingest.err" | cut -d= -f2 | head -4 | tr '\n' ' ')
	read -r d1 d2 d3 d4 <<<"$delays"
	[ "$d1" -ge 500 ] && [ "$d1" -lt 700 ]
	[ "$d2" -gt "$d1" ] && [ "$d3" -gt "$d2" ] && [ "$d4" -gt "$d3" ]
	fx fx refuse off
	n=$(data_lines "$TMP/ingest.out")
	wait_until 20 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -gt $((n + 3)) ]"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 2 ]
}

@test "a stalled (half-open) exchange is noticed by the idle timeout and replaced" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 50 --loop --ping-interval 0
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --idle-timeout 1000 --keepalive 300 --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"data":'
	fx fx stall
	wait_until 10 grep -q '"event":"disconnected","detail":"idle timeout' "$TMP/ingest.out"
	fx fx resume
	wait_until 15 at_least 2 "$TMP/ingest.out" '"event":"connected"'
}

@test "keep-alive: Binance server pings are answered; Upbit gets PING and its UP answers stay inside" {
	start_fakex bx binance --recording "$TMP/binance.rec" --rate 1 --ping-interval 200 --pong-timeout 1000
	start_fakex ux upbit --recording "$TMP/upbit.rec" --rate 1 --status-interval 200
	ux_port=$FX_PORT
	bx_port=$(awk '/^listening/ { print $2 }' "$TMP/bx.out")
	start ingest "$BIN/ingest" -x binance:BTC-USDT -x upbit:BTC-KRW -c trade --keepalive 300 \
		--url "binance=ws://127.0.0.1:$bx_port" --url "upbit=ws://127.0.0.1:$ux_port/websocket/v1"
	wait_until 10 at_least 5 "$TMP/bx.events" '"event":"pong"'
	wait_until 10 at_least 2 "$TMP/ux.events" '"text":"PING"'
	wait_until 10 fx_stat_ge ux status_sent 3
	# Heartbeats are counted, not forwarded; no connection was lost on the way.
	[ "$(count "$TMP/ingest.out" '"status":"UP"')" -eq 0 ]
	[ "$(count "$TMP/bx.events" 'pong_timeout')" -eq 0 ]
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 2 ]
}

@test "SIGUSR2 disconnects and idles, SIGUSR1 reconnects and resubscribes; a follower starts idle" {
	echo follower >"$TMP/run/role"
	start_fakex fx upbit --recording "$TMP/upbit.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x upbit:BTC-KRW --run-dir "$TMP/run" --url "upbit=ws://127.0.0.1:$FX_PORT/websocket/v1"
	pid=$LAST_PID
	wait_until 10 test -S "$TMP/run/ingest.sock"
	[ "$(fx fx stats | jq .accepted)" -eq 0 ]
	kill -USR1 "$pid"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"data":'
	kill -USR1 "$pid" # idempotent: no second connection
	wait_until 10 grep -q 'msg="role unchanged" role=leader' "$TMP/ingest.err"
	kill -USR2 "$pid"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"event":"disconnected"'
	wait_until 10 fx_stat_eq fx connections 0
	[ "$(fx fx stats | jq .accepted)" -eq 1 ]
	kill -USR1 "$pid"
	wait_until 10 at_least 2 "$TMP/fx.events" '"event":"subscribe"'
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 2 ]
}

@test "a stalled reader costs dropped lines, never the connection" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 0 --loop --ping-interval 200 --pong-timeout 2000
	mkfifo "$TMP/out.fifo"
	exec 7<>"$TMP/out.fifo" # holds the FIFO open and never reads it
	"$BIN/ingest" -x binance:BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT -c trade --buffer 65536 --run-dir "$TMP/run" \
		--url "binance=ws://127.0.0.1:$FX_PORT" >"$TMP/out.fifo" 2>"$TMP/ingest.err" 3>&- &
	echo "$! ingest" >>"$PIDS_FILE"
	wait_until 15 bash -c "[ \$(awk '/^exchange_ingest_dropped_total/ { print \$2 }' '$TMP/run/ingest.prom' 2>/dev/null || echo 0) -gt 1000 ]"
	# Meanwhile pings keep being answered and the one connection stays.
	n=$(count "$TMP/fx.events" '"event":"pong"')
	wait_until 5 at_least $((n + 3)) "$TMP/fx.events" '"event":"pong"'
	[ "$(fx fx stats | jq .accepted)" -eq 1 ]
	[ "$(count "$TMP/fx.events" pong_timeout)" -eq 0 ]
	[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_connected 'exchange="binance"')" = 1 ]
	exec 7<&-
}

# The last local_ts in FILE is later than T (µs): a line ingest received after T got through.
fresh_after() {
	grep -o '"local_ts":[0-9]*' "$1" 2>/dev/null | tail -1 | cut -d: -f2 | awk -v t="$2" '$1 > t { ok = 1 } END { exit !ok }'
}

@test "after its queue overflowed, ingest writes again once a slow reader is back" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 5000 --loop
	mkfifo "$TMP/out.fifo"
	# stdout as the supervisor gives it: a FIFO opened read-write. The reader takes 4 KiB at a
	# time, as a busy consumer would, so the first writable moment after the stall cannot
	# take the whole queue and ingest has to wait for the FIFO once more.
	start reader bash -c "while dd bs=4096 count=1 status=none; do :; done <'$TMP/out.fifo'"
	reader=$LAST_PID
	wait_until 5 kill -0 -- "-$reader" # its own process group, once setsid ran
	kill -STOP -- "-$reader"
	setsid "$BIN/ingest" -x binance:BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT -c trade --buffer 65536 --max-frame 65536 \
		--run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT" 1<>"$TMP/out.fifo" 2>"$TMP/ingest.err" 3>&- &
	echo "$! ingest" >>"$PIDS_FILE"
	wait_until 20 bash -c "[ \$(awk '/^exchange_ingest_dropped_total/ { print \$2 }' '$TMP/run/ingest.prom' 2>/dev/null || echo 0) -gt 100 ]"
	t0=$(date +%s%6N)
	kill -CONT -- "-$reader"
	wait_until 20 fresh_after "$TMP/reader.out" "$t0"
	echo "recovered in $(( ($(date +%s%6N) - t0) / 1000 )) ms"
	# And it goes on: lines keep coming, newer each time.
	t1=$(date +%s%6N)
	wait_until 20 fresh_after "$TMP/reader.out" "$t1"
	[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_connected 'exchange="binance"')" = 1 ]
}

@test "two exchanges, one down: the other flows, the down one keeps retrying" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	dead=$(free_port)
	start ingest "$BIN/ingest" -x binance:BTC-USDT -x upbit:BTC-KRW -c trade \
		--url "binance=ws://127.0.0.1:$FX_PORT" --url "upbit=ws://127.0.0.1:$dead/websocket/v1"
	wait_until 10 at_least 20 "$TMP/ingest.out" '"exchange":"binance","local_ts":'
	wait_until 10 at_least 3 "$TMP/ingest.out" '"exchange":"upbit","local_ts":'
	grep '"exchange":"upbit"' "$TMP/ingest.out" | jq -e -s 'all(.[]; .event == "error")'
	n=$(grep -c '"exchange":"binance".*"data":' "$TMP/ingest.out")
	wait_until 10 bash -c "[ \$(grep -c '\"exchange\":\"binance\".*\"data\":' '$TMP/ingest.out') -gt $((n + 20)) ]"
}

@test "a host lookup that hangs holds up only its own exchange: the other flows, and it connects once the resolver answers" {
	start_fakex ux upbit --recording "$TMP/upbit.rec" --rate 20 --loop
	local up=$FX_PORT
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	# Every lookup of a name hangs while $TMP/stall exists (tests/tools/slowdns).
	touch "$TMP/stall"
	start ingest env LD_PRELOAD="$BIN/slowdns.so" SLOWDNS_FILE="$TMP/stall" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$BIN/ingest" --run-dir "$TMP/run" -x binance:BTC-USDT -x upbit:BTC-KRW -c trade \
		--url "binance=ws://127.0.0.1:$FX_PORT" --url "upbit=ws://localhost:$up/websocket/v1"
	# Before: lws looked localhost up on ingest's loop, which hung in it, Binance's frames unread.
	wait_until 10 bash -c "[ \$(grep -c '\"exchange\":\"binance\".*\"data\":' '$TMP/ingest.out') -ge 20 ]"
	wait_until 10 grep -q 'msg="looking the exchange.s host up is slow.*exchange=upbit host=localhost' "$TMP/ingest.err"
	wait_until 5 grep -q '^exchange_ingest_lookups_slow_total{exchange="upbit"} 1' "$TMP/run/ingest.prom"
	! grep -q '"exchange":"upbit".*"data":' "$TMP/ingest.out"
	[ -s "$TMP/stall.count" ]
	# The resolver answers: Upbit connects, by the address, with the name as its host.
	rm "$TMP/stall"
	wait_until 10 grep -q '"exchange":"upbit".*"data":' "$TMP/ingest.out"
	grep -q '"exchange":"upbit","local_ts":[0-9]*,"event":"connected","detail":"ws://localhost:' "$TMP/ingest.out"
}

@test "garbage is skipped and counted; a frame within --max-frame passes; the connection and later frames are fine" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --max-frame 100000 --run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"data":'
	fx fx garbage
	fx fx huge 99000
	wait_until 10 grep -q '"detail":"frame of [0-9]* bytes is not JSON' "$TMP/ingest.out"
	wait_until 10 grep -q '"data":{"huge":' "$TMP/ingest.out" # within the limit
	n=$(data_lines "$TMP/ingest.out")
	wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -gt $((n + 3)) ]"
	wait_until 5 bash -c "grep -q '^exchange_ingest_invalid_frames_total{exchange=\"binance\"} 1' '$TMP/run/ingest.prom'"
	grep -q '^exchange_ingest_oversize_frames_total{exchange="binance"} 0' "$TMP/run/ingest.prom"
	grep -q 'msg="frame is not JSON, skipped"' "$TMP/ingest.err"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
	"$BIN/convert" <"$TMP/ingest.out" >/dev/null 2>"$TMP/convert.err"
	[ "$(count "$TMP/convert.err" 'line skipped')" -le 1 ] # only the {"huge":...} frame
}

# oversize_is N: ingest's metrics count N messages past --max-frame.
oversize_is() { grep -q "^exchange_ingest_oversize_frames_total{exchange=\"binance\"} $1\$" "$TMP/run/ingest.prom"; }

@test "a message past --max-frame closes the connection, counted, and ingest reconnects: a 2^63-byte frame, endless fragments, a plain big frame" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 20 --loop --ping-interval 0
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --max-frame 100000 --run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"data":'
	n=1
	for fault in "endless length 1000000" "endless fragments 1000000" "huge 300000"; do
		run fx fx "$fault"
		[[ "$output" =~ ^ok\ (endless\ [a-z]+\ on|sent)\ 1( |$) ]] # it went to the one connection
		wait_until 10 at_least "$n" "$TMP/ingest.out" '"event":"disconnected","detail":"message larger than 100000 bytes (--max-frame), connection closed"'
		wait_until 5 oversize_is "$n"
		# Reconnected (after the back-off), and data flows again.
		n=$((n + 1))
		wait_until 10 at_least "$n" "$TMP/ingest.out" '"event":"connected"'
		d=$(data_lines "$TMP/ingest.out")
		wait_until 10 bash -c "[ \$(grep -c '\"data\":' '$TMP/ingest.out') -gt $((d + 2)) ]"
	done
	[ "$(count "$TMP/ingest.err" 'msg="message larger than --max-frame, closing the connection" exchange=binance limit=100000')" -eq 3 ]
	wait_until 5 bash -c "grep -q '^exchange_ingest_reconnects_total{exchange=\"binance\"} 3\$' '$TMP/run/ingest.prom'"
	grep -q '"endless_bytes":[1-9]' <(fx fx stats)
	[ "$(count "$TMP/ingest.out" '"data":{"huge":')" -eq 0 ]
}

@test "idleness is time without a complete message: a slow endless message is cut, pongs or not" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 20 --loop --ping-interval 0
	# Keep-alive pings every 300 ms: their pongs come back between the fragments.
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --idle-timeout 1500 --keepalive 300 --run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"data":'
	fx fx endless fragments 200
	wait_until 10 grep -q '"event":"disconnected","detail":"idle timeout (a message unfinished after 1500 ms)"' "$TMP/ingest.out"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"event":"connected"'
	wait_until 10 at_least 2 "$TMP/fx.events" '"event":"connect"'
	# A 2^63-byte frame trickling in: lws answers no ping inside it, so no message at all.
	fx fx endless length 200
	wait_until 10 grep -q '"event":"disconnected","detail":"idle timeout (1500 ms without a complete message)"' "$TMP/ingest.out"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"event":"connected"'
	grep -q 'msg="a message is taking too long, reconnecting" exchange=binance idle_ms=1500' "$TMP/ingest.err"
	grep -q 'msg="no message from the exchange, reconnecting" exchange=binance idle_ms=1500' "$TMP/ingest.err"
	oversize_is 0
}

@test "an exchange that accepts TCP but never answers the upgrade: timed out, counted, retried; ingest lives and the other exchange flows" {
	start_fakex bx binance --recording "$TMP/binance.rec" --rate 100 --loop
	bx_port=$FX_PORT
	start_fakex ux upbit --recording "$TMP/upbit.rec" --rate 20 --loop
	fx ux hang on
	start ingest "$BIN/ingest" -x binance:BTC-USDT -x upbit:BTC-KRW -c trade --run-dir "$TMP/run" \
		--url "binance=ws://127.0.0.1:$bx_port" --url "upbit=ws://127.0.0.1:$FX_PORT/websocket/v1" \
		--connect-timeout 3000
	pid=$LAST_PID
	wait_until 10 at_least 1 "$TMP/ux.events" '"event":"hang"'
	wait_until 10 at_least 20 "$TMP/ingest.out" '"exchange":"binance","local_ts":'
	# After --connect-timeout the attempt is given up: said, counted, and made again.
	wait_until 10 grep -q "\"exchange\":\"upbit\",.*\"event\":\"error\",\"detail\":\"no WebSocket connection to 127.0.0.1:$FX_PORT within 3 s\"" "$TMP/ingest.out"
	grep -q 'level=warn tool=ingest msg="cannot connect" exchange=upbit reason=timeout' "$TMP/ingest.err"
	wait_until 10 at_least 2 "$TMP/ux.events" '"event":"hang"'
	alive "$pid"
	wait_until 5 bash -c "grep -q '^exchange_ingest_connect_failures_total{exchange=\"upbit\",reason=\"timeout\"} 1\$' '$TMP/run/ingest.prom'"
	[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_reconnects_total 'exchange="upbit"')" -ge 1 ]
	[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_connected 'exchange="binance"')" = 1 ]
	n=$(grep -c '"exchange":"binance".*"data":' "$TMP/ingest.out")
	wait_until 10 bash -c "[ \$(grep -c '\"exchange\":\"binance\".*\"data\":' '$TMP/ingest.out') -gt $((n + 20)) ]"
	# Once the exchange answers again, the next attempt gets through.
	fx ux hang off
	wait_until 15 grep -q '"exchange":"upbit","local_ts":[0-9]*,"data":' "$TMP/ingest.out"
	grep -q "msg=\"cannot connect\" exchange=upbit reason=closed detail=\"127.0.0.1:$FX_PORT closed the connection before the WebSocket upgrade completed" "$TMP/ingest.err"
	alive "$pid"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 2 ]
}

@test "a failed attempt says why (DNS, refused, HTTP status, TLS) at warn level and in its event, counted by reason" {
	make_certs
	start_fakex okx okx
	okx_port=$FX_PORT
	fx okx refuse on
	start_fakex tls bybit --tls-cert "$TMP/tls/server.crt" --tls-key "$TMP/tls/server.key"
	dead=$(free_port)
	start ingest "$BIN/ingest" -x binance:BTC-USDT -x upbit:BTC-KRW -x okx:BTC-USDT -x bybit:BTC-USDT -c trade --run-dir "$TMP/run" \
		--url "binance=ws://stream.relay-test.invalid:9443" --url "upbit=ws://127.0.0.1:$dead/websocket/v1" \
		--url "okx=ws://127.0.0.1:$okx_port" --url "bybit=wss://localhost:$FX_PORT"
	# The back-off runs 0.5, 1, 2 s...: three failures each within some 5 s.
	for ex in binance upbit okx bybit; do
		wait_until 15 at_least 3 "$TMP/ingest.out" "\"exchange\":\"$ex\""
	done
	grep -q '"exchange":"binance",.*"event":"error","detail":"cannot resolve stream.relay-test.invalid: ' "$TMP/ingest.out"
	grep -q "\"exchange\":\"upbit\",.*\"event\":\"error\",\"detail\":\"cannot connect to 127.0.0.1:$dead: refused or unreachable\"" "$TMP/ingest.out"
	grep -q "\"exchange\":\"okx\",.*\"event\":\"error\",\"detail\":\"127.0.0.1:$okx_port answered the WebSocket upgrade with HTTP 503\"" "$TMP/ingest.out"
	grep -q '"exchange":"bybit",.*"event":"error","detail":"TLS: certificate of localhost not trusted: ' "$TMP/ingest.out"
	for pair in binance:dns upbit:refused okx:http bybit:tls; do
		ex=${pair%:*} reason=${pair#*:}
		grep -q "level=warn tool=ingest msg=\"cannot connect\" exchange=$ex reason=$reason detail=" "$TMP/ingest.err"
		wait_until 5 bash -c "awk '\$1 == \"exchange_ingest_connect_failures_total{exchange=\\\"$ex\\\",reason=\\\"$reason\\\"}\" && \$2 >= 3 { ok = 1 } END { exit !ok }' '$TMP/run/ingest.prom'"
		# Every failed attempt was retried, and counted so.
		[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_reconnects_total "exchange=\"$ex\"")" -ge 2 ]
		[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_connect_failures_total "exchange=\"$ex\",reason=\"timeout\"")" = 0 ]
	done
	# After a few failures to an endpoint off this machine, once: make demo needs no internet.
	wait_until 10 grep -q 'level=warn tool=ingest msg="exchange out of reach; without internet, make demo .*" exchange=binance' "$TMP/ingest.err"
	[ "$(count "$TMP/ingest.err" 'make demo')" -eq 1 ]
	# convert turns the events into status lines: what the page shows as each feed's state.
	"$BIN/convert" <"$TMP/ingest.out" >"$TMP/convert.out" 2>/dev/null
	grep -q '^{"type":"status","exchange":"okx","local_ts":[0-9]*,"event":"error","detail":"127.0.0.1:[0-9]* answered the WebSocket upgrade with HTTP 503"' "$TMP/convert.out"
	[ "$(count "$TMP/ingest.out" 'cannot start a connection')" -eq 0 ]
}

@test "an endpoint on this machine that is down gets no make demo hint" {
	dead=$(free_port)
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=ws://127.0.0.1:$dead"
	wait_until 15 at_least 4 "$TMP/ingest.out" '"event":"error"'
	[ "$(count "$TMP/ingest.err" 'msg="cannot connect" exchange=binance reason=refused')" -ge 4 ]
	[ "$(count "$TMP/ingest.err" 'make demo')" -eq 0 ]
}

@test "serverShutdown makes ingest reconnect at once" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"data":'
	fx fx send '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}'
	wait_until 5 grep -q '"event":"disconnected","detail":"server shutdown announced"' "$TMP/ingest.out"
	wait_until 5 at_least 2 "$TMP/ingest.out" '"event":"connected"'
	[ "$(count "$TMP/ingest.out" 'serverShutdown')" -eq 0 ]
}

@test "control socket: status, and resync resubscribes (Upbit sends its request again)" {
	start_fakex fx upbit --recording "$TMP/upbit.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x upbit:BTC-KRW --run-dir "$TMP/run" --url "upbit=ws://127.0.0.1:$FX_PORT/websocket/v1"
	wait_until 10 at_least 2 "$TMP/ingest.out" '"data":'
	run bash -c "echo status | nc -U -q 1 '$TMP/run/ingest.sock'"
	echo "$output" | jq -e '.role == "leader" and .exchanges[0].exchange == "upbit" and .exchanges[0].state == "open"'
	run bash -c "echo 'resync upbit BTC-KRW' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[ "$output" = "ok resync queued" ]
	wait_until 10 at_least 2 "$TMP/fx.events" '"event":"subscribe"'
	run bash -c "echo 'resync nowhere BTC-KRW' | nc -U -q 1 '$TMP/run/ingest.sock'"
	[[ "$output" == error* ]]
}

@test "control socket: reconnect makes no connection for a follower; a leader's is replaced at once" {
	echo follower >"$TMP/run/role"
	start_fakex fx upbit --recording "$TMP/upbit.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x upbit:BTC-KRW --run-dir "$TMP/run" --url "upbit=ws://127.0.0.1:$FX_PORT/websocket/v1"
	pid=$LAST_PID
	wait_until 10 test -S "$TMP/run/ingest.sock"
	run ctl reconnect upbit
	[[ "$output" == "error not active"* ]]
	ctl status | jq -e '.role == "follower" and .exchanges[0].state == "idle"'
	[ "$(fx fx stats | jq .accepted)" -eq 0 ]
	kill -USR1 "$pid"
	wait_until 10 at_least 3 "$TMP/ingest.out" '"data":'
	[ "$(ctl reconnect upbit)" = "ok" ]
	wait_until 10 at_least 2 "$TMP/ingest.out" '"event":"connected"'
	grep -q '"event":"disconnected","detail":"reconnect requested"' "$TMP/ingest.out"
	[ "$(count "$TMP/ingest.err" 'msg="reconnecting"')" -eq 0 ] # at once, no back-off
	[ "$(fx fx stats | jq .accepted)" -eq 2 ]
}

@test "SIGTERM stops ingest cleanly; usage errors exit 2" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c trade --url "binance=ws://127.0.0.1:$FX_PORT"
	pid=$LAST_PID
	wait_until 10 at_least 1 "$TMP/ingest.out" '"data":'
	kill -TERM "$pid"
	wait "$pid"
	tail -1 "$TMP/ingest.out" | grep -q '"event":"disconnected","detail":"stopped"'
	run "$BIN/ingest" -x nowhere
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x binance:BTCUSDT
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x binance -c trades
	[ "$status" -eq 2 ]
	run "$BIN/ingest" -x binance --url upbit=ws://x
	[ "$status" -eq 2 ]
	run "$BIN/ingest" --help
	[ "$status" -eq 0 ]
	run "$BIN/ingest" -x binance -x upbit --check
	[ "$status" -eq 0 ]
}

@test "binance book:full: diffs are buffered, ingest fetches the REST snapshot, convert bridges them" {
	# A recording with the REST snapshot (as ingest records one) and the diff stream after it.
	awk 'BEGIN {
		t = 1732222222000; lt = 1732222222000000
		printf "{\"exchange\":\"binance\",\"local_ts\":%.0f,\"data\":{\"stream\":\"btcusdt@depthSnapshot\",\"data\":{\"lastUpdateId\":107,\"bids\":[[\"100.00\",\"1.5\"],[\"99.00\",\"4.0\"]],\"asks\":[[\"101.00\",\"0.5\"],[\"102.00\",\"7.0\"]]}}}\n", lt
		u = 99
		for (i = 0; i < 60; i++) {
			U = u + 1; u = U + 2; t += 100; lt += 100000
			printf "{\"exchange\":\"binance\",\"local_ts\":%.0f,\"data\":{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":%.0f,\"s\":\"BTCUSDT\",\"U\":%d,\"u\":%d,\"b\":[[\"%.2f\",\"%d\"]],\"a\":[[\"%.2f\",\"%d\"]]}}}\n", lt, t, U, u, 95 + (i % 5), i % 3, 101 + (i % 4), (i + 1) % 4
		}
	}' >"$TMP/full.rec"
	start_fakex fx binance --recording "$TMP/full.rec" --rate 20
	start pipeline bash -c "'$BIN/ingest' -x binance:BTC-USDT -c book:full --run-dir '$TMP/run' \
		--url binance=ws://127.0.0.1:$FX_PORT 2>'$TMP/ingest.err' | '$BIN/convert' --run-dir '$TMP/run' >'$TMP/convert.out'"
	grep -qF '"path":"/stream?streams=btcusdt@depth@100ms"' "$TMP/fx.events" || wait_until 10 grep -qF 'btcusdt@depth@100ms"' "$TMP/fx.events"
	wait_until 20 grep -q '"event":"rest"' "$TMP/fx.events"
	wait_until 20 grep -q 'msg="snapshot received" exchange=binance symbol=BTC-USDT' "$TMP/ingest.err"
	wait_until 30 at_least 40 "$TMP/convert.out" '"type":"book"'
	[ "$(count "$TMP/convert.out" '"event":"resync"')" -eq 1 ]
	grep -q '"detail":"waiting for the order book snapshot"' "$TMP/convert.out"
	grep -q '^exchange_ingest_snapshots_total{exchange="binance"} 1' "$TMP/run/ingest.prom"
	# Once the stream is through, the live book equals the recording's book converted offline.
	wait_until 20 bash -c "[ \$(grep -c '\"type\":\"book\"' '$TMP/convert.out') -ge $("$BIN/convert" <"$TMP/full.rec" | grep -c '"type":"book"') ]"
	want=$("$BIN/convert" <"$TMP/full.rec" | grep '"type":"book"' | tail -1 | jq -c '{bids, asks}')
	got=$(grep '"type":"book"' "$TMP/convert.out" | tail -1 | jq -c '{bids, asks}')
	[ "$want" = "$got" ]
}

# snapshot_rec LEVELS: a Binance book:full recording whose REST snapshot has LEVELS levels a
# side, and a diff after it.
snapshot_rec() {
	awk -v n="$1" 'BEGIN {
		printf "{\"exchange\":\"binance\",\"local_ts\":1732222222000000,\"data\":{\"stream\":\"btcusdt@depthSnapshot\",\"data\":{\"lastUpdateId\":107,\"bids\":["
		for (i = 0; i < n; i++) printf "%s[\"%d.00\",\"1.5\"]", i ? "," : "", 1000 - i
		printf "],\"asks\":["
		for (i = 0; i < n; i++) printf "%s[\"%d.00\",\"0.5\"]", i ? "," : "", 1001 + i
		printf "]}}}\n"
		printf "{\"exchange\":\"binance\",\"local_ts\":1732222222100000,\"data\":{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1732222222100,\"s\":\"BTCUSDT\",\"U\":100,\"u\":102,\"b\":[[\"95.00\",\"1\"]],\"a\":[]}}}\n"
	}'
}

# ctl COMMAND: one command to ingest's control socket; prints the answer.
ctl() { printf '%s\n' "$*" | timeout 5 nc -U -q 1 "$TMP/run/ingest.sock"; }

@test "a REST snapshot whose host lookup hangs fails at --rest-timeout while the exchange's frames flow on; the next one is fetched" {
	snapshot_rec 2 >"$TMP/full.rec"
	start_fakex fx binance --recording "$TMP/full.rec" --rate 20 --loop
	start ingest env LD_PRELOAD="$BIN/slowdns.so" SLOWDNS_FILE="$TMP/stall" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$BIN/ingest" -x binance:BTC-USDT -c book:full --run-dir "$TMP/run" --url "binance=ws://localhost:$FX_PORT" \
		--rest-timeout 3000
	wait_until 10 at_least 1 "$TMP/ingest.out" '"event":"connected"'
	# From now on every lookup of a name hangs (tests/tools/slowdns): the snapshot's too.
	touch "$TMP/stall"
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ]
	n=$(data_lines "$TMP/ingest.out")
	wait_until 10 grep -q '"event":"error","detail":"snapshot for BTC-USDT failed: no answer from the resolver within 3 s"' "$TMP/ingest.out"
	# Before: the lookup hung ingest's loop, and the frames with it.
	[ "$(data_lines "$TMP/ingest.out")" -gt $((n + 20)) ]
	[ -s "$TMP/stall.count" ]
	wait_until 5 bash -c "grep -q '^exchange_ingest_snapshot_failures_total{exchange=\"binance\"} 1\$' '$TMP/run/ingest.prom'"
	rm "$TMP/stall"
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ]
	wait_until 10 grep -q '^{"exchange":"binance","local_ts":[0-9]*,"data":{"stream":"btcusdt@depthSnapshot","data":{"lastUpdateId":' "$TMP/ingest.out"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}

@test "a REST snapshot not done within --rest-timeout fails: said at warn level and in an event, counted; the next one is fetched" {
	snapshot_rec 2 >"$TMP/full.rec"
	start_fakex fx binance --recording "$TMP/full.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c book:full --run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT" \
		--rest-timeout 3000
	wait_until 10 at_least 1 "$TMP/ingest.out" '"event":"connected"'
	# The exchange takes the request's TCP connection and never answers it.
	fx fx hang on
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ]
	t0=$SECONDS
	wait_until 1 at_least 1 "$TMP/ingest.err" 'msg="fetching a snapshot" exchange=binance symbol=BTC-USDT'
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ] # the same one, still on its way
	wait_until 10 grep -q '"event":"error","detail":"snapshot for BTC-USDT failed: no complete answer within 3 s"' "$TMP/ingest.out"
	[ $((SECONDS - t0)) -ge 2 ]
	grep -q 'level=warn tool=ingest msg="snapshot request failed" exchange=binance symbol=BTC-USDT url=http://127.0.0.1:[0-9]*/api/v3/depth?symbol=BTCUSDT&limit=1000 error="no complete answer within 3 s"' "$TMP/ingest.err"
	[ "$(count "$TMP/ingest.err" 'msg="fetching a snapshot"')" -eq 1 ]
	wait_until 5 bash -c "grep -q '^exchange_ingest_snapshot_failures_total{exchange=\"binance\"} 1\$' '$TMP/run/ingest.prom'"
	# The exchange connection was never in question, and the next request gets through.
	fx fx hang off
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ]
	wait_until 10 grep -q '^{"exchange":"binance","local_ts":[0-9]*,"data":{"stream":"btcusdt@depthSnapshot","data":{"lastUpdateId":107,' "$TMP/ingest.out"
	wait_until 5 bash -c "grep -q '^exchange_ingest_snapshots_total{exchange=\"binance\"} 1\$' '$TMP/run/ingest.prom'"
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
	[ "$(count "$TMP/ingest.out" '"event":"disconnected"')" -eq 0 ]
}

@test "a REST snapshot longer than an envelope line may be fails, counted; the connection stays" {
	snapshot_rec 400 >"$TMP/full.rec" # some 16 KiB of body, for lines of 1 KiB + 4 KiB
	start_fakex fx binance --recording "$TMP/full.rec" --rate 20 --loop
	start ingest "$BIN/ingest" -x binance:BTC-USDT -c book:full --max-frame 1024 --run-dir "$TMP/run" --url "binance=ws://127.0.0.1:$FX_PORT"
	wait_until 10 at_least 1 "$TMP/ingest.out" '"event":"connected"'
	[ "$(ctl resync binance BTC-USDT)" = "ok snapshot requested" ]
	wait_until 10 grep -q '"event":"error","detail":"snapshot for BTC-USDT failed: body too large"' "$TMP/ingest.out"
	grep -q 'level=warn tool=ingest msg="snapshot request failed" exchange=binance symbol=BTC-USDT .*error="body too large"' "$TMP/ingest.err"
	wait_until 5 bash -c "grep -q '^exchange_ingest_snapshot_failures_total{exchange=\"binance\"} 1\$' '$TMP/run/ingest.prom'"
	[ "$(count "$TMP/ingest.out" 'depthSnapshot')" -eq 0 ]
	[ "$(count "$TMP/ingest.out" '"event":"connected"')" -eq 1 ]
}

@test "control socket: a resync asked for once the last one's messages are out is not lost" {
	start_fakex fx okx --recording "$FIXTURES/recordings/okx.ndjson" --rate 5 --loop
	start ingest "$BIN/ingest" -x okx:BTC-USDT -c book --run-dir "$TMP/run" --url "okx=ws://127.0.0.1:$FX_PORT/ws/v5/public"
	wait_until 10 at_least 1 "$TMP/fx.events" '"event":"subscribe"'
	[ "$(ctl resync okx BTC-USDT)" = "ok resync queued" ]
	# Its unsubscribe and subscribe went out; the symbol's turn is not over until the pause
	# after them. A new gap now needs messages of its own.
	wait_until 5 at_least 2 "$TMP/fx.events" '"event":"subscribe"'
	[ "$(ctl resync okx BTC-USDT)" = "ok resync queued" ]
	wait_until 5 at_least 3 "$TMP/fx.events" '"event":"subscribe"'
	[ "$(count "$TMP/fx.events" '"event":"unsubscribe"')" -eq 2 ]
}
