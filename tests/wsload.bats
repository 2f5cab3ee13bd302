#!/usr/bin/env bats
# wsload: the light load client counts what serve sends exactly as wsclient does, whole
# messages of any size, close codes, refused upgrades, pings.

load helpers

setup() { setup_tmp; }
teardown() {
	exec 8>&- 2>/dev/null
	teardown_tmp
}

# many_trades N [FIRST]: N numbered trade lines stamped with the current local_ts, at
# stream positions FIRST.. (serve sends a line that carries its position as it is).
many_trades() {
	local ts
	ts=$(date +%s%6N)
	awk -v n="$1" -v first="${2:-1}" -v ts="$ts" 'BEGIN {
		for (i = first; i < first + n; i++)
			printf "{\"type\":\"trade\",\"exchange\":\"binance\",\"symbol\":\"BTC-USDT\",\"ts\":1,\"local_ts\":%s,\"id\":\"%d\",\"price\":1.5,\"amount\":2,\"side\":\"buy\",\"seq\":%d}\n", ts, i, i
	}'
}

# connected_ge FILE N: the stats file says at least N clients are connected.
connected_ge() {
	local v
	v=$(jq -r .connected "$1" 2>/dev/null)
	[ -n "$v" ] && [ "$v" != null ] && [ "$v" -ge "$2" ]
}

# sent_eq N: serve has sent N messages in all.
sent_eq() { [ "$(serve_metric exchange_serve_messages_sent_total)" = "$1" ]; }

@test "200 clients each receive every line, with a latency sample for each" {
	start_serve
	start load "$BIN/wsload" -n 200 -p --count 2000 --duration 60000 --stats "$TMP/stats.json" "$WS?types=trade"
	wait_until 30 serve_clients_eq 200
	many_trades 2000 >"$TMP/lines"
	feed "$TMP/lines"
	wait "$LAST_PID"
	jq -e '.connected_ever == 200 and .connects == 200 and .failed == 0 and .closed == 0
		and .per_client_min == 2000 and .per_client_max == 2000 and .messages == 400000
		and .latency_us.count == 400000 and .latency_us.p50 <= .latency_us.p99
		and .latency_us.p99 <= .latency_us.max and .connect_ms != null and .first_ms != null' "$TMP/stats.json"
	# client 0 printed the lines as fed (they carry their positions, so serve sends them as they are)...
	cmp "$TMP/lines" "$TMP/load.out"
	# ...and the payload bytes are those lines without their newlines, 200 times
	[ "$(jq -r .bytes "$TMP/stats.json")" -eq $((200 * ($(wc -c <"$TMP/load.out") - 2000))) ]
	grep -q 'msg="all connected" clients=200 ' "$TMP/load.err"
	grep -q 'msg=done clients=200 .* status=0' "$TMP/load.err"
}

@test "a message bigger than the read buffer arrives whole and counts once" {
	start_serve
	start load "$BIN/wsload" -n 3 -p --count 3 --duration 30000 --stats "$TMP/stats.json" "$WS"
	wait_until 10 serve_clients_eq 3
	pad=$(head -c 1048576 /dev/zero | tr '\0' x)
	{
		many_trades 1 1
		printf '{"type":"trade","exchange":"binance","symbol":"BTC-USDT","ts":1,"local_ts":%s,"id":"big","price":1.5,"amount":2,"side":"buy","pad":"%s","seq":2}\n' "$(date +%s%6N)" "$pad"
		many_trades 1 3
	} >"$TMP/lines"
	feed "$TMP/lines"
	wait "$LAST_PID"
	# client 0 printed each message whole, one a line
	cmp "$TMP/lines" "$TMP/load.out"
	jq -e '.messages == 9 and .per_client_min == 3 and .per_client_max == 3 and .too_big == 0
		and .latency_us.count == 9' "$TMP/stats.json"
	[ "$(jq -r .bytes "$TMP/stats.json")" -eq $((3 * ($(wc -c <"$TMP/load.out") - 3))) ]
}

@test "serve's SIGTERM reaches every client as close code 1001" {
	start_serve
	start load "$BIN/wsload" -n 20 --stats "$TMP/stats.json" --stats-interval 100 "$WS"
	load=$LAST_PID
	wait_until 10 serve_clients_eq 20
	many_trades 10 | feed
	wait_until 10 bash -c "jq -e '.per_client_min == 10' '$TMP/stats.json' >/dev/null 2>&1"
	kill -TERM "$(pid_of serve)"
	# no connection left: wsload ends by itself
	wait "$load"
	jq -e '.closed == 20 and .close_codes == {"1001": 20} and .connected == 0 and .messages == 200' "$TMP/stats.json"
	grep -q 'msg=closed client=0 code=1001 reason="going away"' "$TMP/load.err"
}

@test "an upgrade answered with another status counts as rejected and failed" {
	head -c 32 /dev/urandom | base64 >"$TMP/secret"
	start_serve --auth-secret "$TMP/secret"
	run "$BIN/wsload" -n 3 --connect-timeout 5000 --stats "$TMP/stats.json" "$WS"
	[ "$status" -eq 1 ]
	[[ "$output" == *"rejected client=0 status=401"* ]]
	jq -e '.rejected == 3 and .failed == 3 and .connected_ever == 0 and .connect_ms == null and .messages == 0' "$TMP/stats.json"
	# with a token the same clients get through
	good=$("$ROOT/scripts/mint-token" "$TMP/secret" --ttl 60)
	run "$BIN/wsload" -n 3 --duration 300 --stats "$TMP/stats.json" "$WS?token=$good"
	[ "$status" -eq 0 ]
	jq -e '.rejected == 0 and .failed == 0 and .connected_ever == 3' "$TMP/stats.json"
}

@test "pings get pongs; a message over 16 MiB is dropped as too_big and the stream goes on" {
	start_fakex fx binance --ping-interval 100 --pong-timeout 1000
	start load "$BIN/wsload" --stats "$TMP/stats.json" --stats-interval 100 "ws://127.0.0.1:$FX_PORT/ws"
	load=$LAST_PID
	wait_until 10 connected_ge "$TMP/stats.json" 1
	wait_until 10 fx_stat_ge fx pongs_received 5
	fx fx huge 17000000
	fx fx huge 3000000
	fx fx send '{"after":"huge","local_ts":0}'
	wait_until 20 bash -c "jq -e '.messages == 2' '$TMP/stats.json' >/dev/null 2>&1"
	fx fx close
	wait "$load"
	[ "$(count "$TMP/fx.events" pong_timeout)" -eq 0 ]
	jq -e '.too_big == 1 and .messages == 2 and .bytes == 3000000 + 29 and .latency_us.count == 0
		and .close_codes == {"1001": 1}' "$TMP/stats.json"
	grep -q 'msg="message too big" client=0 bytes=17000000 ' "$TMP/load.err"
}

@test "usage errors exit 2; a refused connection counts as failed and exits 1" {
	run "$BIN/wsload" --reconnect ws://127.0.0.1:1/
	[ "$status" -eq 2 ]
	run "$BIN/wsload" wss://127.0.0.1:1/
	[ "$status" -eq 2 ]
	run "$BIN/wsload" -n 0 ws://127.0.0.1:1/
	[ "$status" -eq 2 ]
	run "$BIN/wsload" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit status: 0 ok"* ]]
	port=$(free_port)
	run "$BIN/wsload" -n 2 --stats "$TMP/stats.json" "ws://127.0.0.1:$port/"
	[ "$status" -eq 1 ]
	[[ "$output" == *'failed client=0 error="Connection refused"'* ]]
	jq -e '.failed == 2 and .rejected == 0 and .connected_ever == 0' "$TMP/stats.json"
}

@test "SIGTERM closes every connection and exits 0 with the stats written" {
	start_serve
	start load "$BIN/wsload" -n 5 --stats "$TMP/stats.json" "$WS"
	load=$LAST_PID
	wait_until 10 serve_clients_eq 5
	many_trades 3 | feed
	wait_until 10 sent_eq 15
	kill -TERM "$load"
	wait "$load"
	jq -e '.messages == 15 and .closed == 0 and .connected == 5' "$TMP/stats.json"
	grep -q 'msg=stopping reason="SIGTERM"' "$TMP/load.err"
	wait_until 10 serve_clients_eq 0
}

# keys_of_done FILE: the keys of the "done" log line in FILE, in order.
keys_of_done() { grep 'msg=done ' "$1" | sed 's/.* msg=done //' | grep -o '[a-z_]*=' | tr -d '\n'; }

@test "wsclient and wsload write the same stats fields and the same done line" {
	start_serve
	start client "$BIN/wsclient" -q --count 3 --duration 30000 --stats "$TMP/client.json" "$WS?types=trade"
	client=$LAST_PID
	start load "$BIN/wsload" --count 3 --duration 30000 --stats "$TMP/load.json" "$WS?types=trade"
	load=$LAST_PID
	wait_until 10 serve_clients_eq 2
	many_trades 3 | feed
	wait "$client"
	wait "$load"
	for f in client load; do
		jq -e '.messages == 3 and .per_client_min == 3 and .latency_us.count == 3
			and .reconnects == 0 and .stalled == 0 and .resumes == 0 and .gaps == 0
			and .seq_repeats == 0' "$TMP/$f.json"
	done
	[ "$(jq -c keys_unsorted "$TMP/client.json")" = "$(jq -c keys_unsorted "$TMP/load.json")" ]
	[ "$(keys_of_done "$TMP/client.err")" = "$(keys_of_done "$TMP/load.err")" ]
	[ "$(keys_of_done "$TMP/load.err")" = "clients=connected_ever=failed=rejected=closed=reconnects=messages=bytes=too_big=per_client_min=per_client_max=elapsed_ms=status=" ]
}

# ms_between FILE A B: ms from the first log line with msg=A to the first with msg=B.
ms_between() {
	awk -v a="msg=$2" -v b="msg=$3" '
		function ms(line,   t) {
			t = substr(line, index(line, "ts=") + 3, 23)	# 2026-12-04T20:27:45.672
			split(t, d, /[-T:.]/)
			return ((d[3] * 24 + d[4]) * 60 + d[5]) * 60000 + d[6] * 1000 + d[7]
		}
		index($0, a) && !ta { ta = ms($0) }
		index($0, b) && !tb { tb = ms($0) }
		END { print tb - ta }' "$1"
}

# sendq PORT: the most bytes an established TCP connection to PORT holds that its peer has
# not taken.
sendq() {
	local rem st q port max=0
	port=$(printf ':%04X' "$1")
	while read -r _ _ rem st q _; do
		[ "$st" = 01 ] && [[ $rem == *"$port" ]] && [ $((16#${q%%:*})) -gt "$max" ] &&
			max=$((16#${q%%:*}))
	done < <(tail -n +2 /proc/net/tcp)
	echo "$max"
}

# sendq_stuck PORT: bytes wait for PORT's peer and their number has not moved for 10 calls
# in a row (500 ms of wait_until): the sender's socket is full. SENDQ_SEEN keeps each new
# number, for the message when it never settles.
sendq_stuck() {
	local q
	q=$(sendq "$1")
	if [ "$q" -gt 0 ] && [ "$q" = "${SENDQ_LAST:-}" ]; then
		SENDQ_SAME=$((SENDQ_SAME + 1))
	else
		SENDQ_SAME=0
		SENDQ_SEEN="${SENDQ_SEEN:-} $q"
	fi
	SENDQ_LAST=$q
	[ "$SENDQ_SAME" -ge 10 ]
}

@test "a second SIGTERM ends the wait for the close handshakes at once (wsclient and wsload)" {
	# a server that reads nothing and closes nothing: each tool would wait 3 s for it
	start_fakex fx binance
	fx fx stall
	# wsclient's close frame waits behind what it sent; wsload's goes out but is not answered
	awk 'BEGIN { pad = sprintf("%4000s", ""); gsub(/ /, "x", pad)
		for (i = 0; i < 4000; i++) print "{\"pad\":\"" pad "\"}" }' >"$TMP/big"
	start client "$BIN/wsclient" -q --send-file "$TMP/big" --stats "$TMP/client.json" "ws://127.0.0.1:$FX_PORT/ws"
	client=$LAST_PID
	start load "$BIN/wsload" --stats "$TMP/load.json" "ws://127.0.0.1:$FX_PORT/ws"
	load=$LAST_PID
	wait_until 10 grep -q 'msg="all connected"' "$TMP/client.err"
	wait_until 10 grep -q 'msg="all connected"' "$TMP/load.err"
	wait_until 30 sendq_stuck "$FX_PORT" || { echo "unsent bytes seen:${SENDQ_SEEN: -300}"; return 1; }
	kill -TERM "$client" "$load"
	wait_until 10 grep -q 'msg=stopping reason="SIGTERM"' "$TMP/client.err"
	wait_until 10 grep -q 'msg=stopping reason="SIGTERM"' "$TMP/load.err"
	kill -TERM "$client" "$load"
	wait "$client"
	wait "$load"
	for f in client load; do
		grep -q 'msg="closing handshakes unfinished" open=1' "$TMP/$f.err"
		grep -q 'msg=done .* status=0' "$TMP/$f.err"
		[ "$(ms_between "$TMP/$f.err" stopping 'done')" -lt 3000 ]
		jq -e '.connected == 1 and .closed == 0' "$TMP/$f.json"
	done
}

@test "wsclient and wsload name the option and its range in a bad value, and refuse a bad URL" {
	for tool in wsclient wsload; do
		run "$BIN/$tool" -n 0 ws://127.0.0.1:1/
		[ "$status" -eq 2 ]
		[[ "$output" == *"$tool: --clients: 0 is out of range (1-1000000)"* ]]
		run "$BIN/$tool" --count x ws://127.0.0.1:1/
		[ "$status" -eq 2 ]
		[[ "$output" == *"$tool: --count: \"x\" is not a whole number"* ]]
		run "$BIN/$tool" --stats-interval 5 ws://127.0.0.1:1/
		[ "$status" -eq 2 ]
		[[ "$output" == *"--stats-interval: 5 is out of range (10-86400000)"* ]]
		# a path that would break the request line, a port out of range
		run "$BIN/$tool" 'ws://127.0.0.1:1/a b'
		[ "$status" -eq 2 ]
		[[ "$output" == *"bad URL"* ]]
		run "$BIN/$tool" ws://127.0.0.1:65536/
		[ "$status" -eq 2 ]
		run "$BIN/$tool"
		[ "$status" -eq 2 ]
		[[ "$output" == *"missing URL"* ]]
	done
	run "$BIN/wsclient" --send-raw 8x ws://127.0.0.1:1/
	[ "$status" -eq 2 ]
	[[ "$output" == *"--send-raw: '8x' is not whole bytes in hex"* ]]
}
