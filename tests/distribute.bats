#!/usr/bin/env bats
# distribute alone: its output to a slow reader, the stream positions it gives what it
# publishes, the trades it never passes on twice, and what a standby publishes when promoted.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

# trade ID [SYMBOL]: a normalized trade line, stamped with the time now.
trade() {
	printf '{"type":"trade","exchange":"binance","symbol":"%s","ts":1,"local_ts":%s,"id":"%s","price":1,"amount":1,"side":"buy"}\n' \
		"${2:-BTC-USDT}" "${EPOCHREALTIME/./}" "$1"
}
ticker() {
	printf '{"type":"ticker","exchange":"binance","symbol":"%s","local_ts":%s,"last":%s}\n' "$1" "${EPOCHREALTIME/./}" "$2"
}
dmetric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/run/distribute.prom" 2>/dev/null; }
dmetric_eq() { [ "$(dmetric "$1")" = "$2" ]; }

# start_dist ROLE [ARGS...]: distribute with its stdin on the FIFO $TMP/in (fd 7 writes it),
# run through the command in the array DIST_ENV when set (env VAR=VALUE...).
start_dist() {
	local role=$1
	shift
	mkdir -p "$TMP/run"
	echo "$role" >"$TMP/run/role"
	echo 0 >"$TMP/run/epoch"
	mkfifo "$TMP/in"
	exec 7<>"$TMP/in"
	start_in dist "$TMP/in" ${DIST_ENV[@]+"${DIST_ENV[@]}"} "$BIN/distribute" --run-dir "$TMP/run" --node-id me "$@"
	wait_until 10 test -s "$TMP/run/distribute.prom"
}

# The last local_ts in FILE is later than T (µs).
fresh_after() {
	grep -o '"local_ts":[0-9]*' "$1" 2>/dev/null | tail -1 | cut -d: -f2 | awk -v t="$2" '$1 > t { ok = 1 } END { exit !ok }'
}

@test "after its queue overflowed, distribute writes all it queued to a slow reader that is back, without new input" {
	mkdir -p "$TMP/run"
	mkfifo "$TMP/out.fifo"
	# stdout as the supervisor gives it, a FIFO opened read-write, read 4 KiB at a time: the
	# first writable moment after the stall cannot take the whole queue.
	start reader bash -c "while dd bs=4096 count=1 status=none; do :; done <'$TMP/out.fifo'"
	reader=$LAST_PID
	wait_until 5 kill -0 -- "-$reader"
	kill -STOP -- "-$reader"
	mkfifo "$TMP/in.fifo"
	# shellcheck disable=SC2016 # expanded by the writer's shell
	start writer bash -c 'exec >"$1"; i=0; while :; do i=$((i + 1)); printf "{\"type\":\"trade\",\"exchange\":\"binance\",\"symbol\":\"BTC-USDT\",\"local_ts\":%s,\"id\":\"%s\",\"price\":1,\"amount\":1,\"side\":\"buy\"}\n" "${EPOCHREALTIME/./}" "$i"; done' writer "$TMP/in.fifo"
	setsid "$BIN/distribute" --run-dir "$TMP/run" --buffer 65536 <"$TMP/in.fifo" 1<>"$TMP/out.fifo" 2>"$TMP/dist.err" 3>&- &
	echo "$! dist" >>"$PIDS_FILE"
	wait_until 20 bash -c "[ \$(awk '/^exchange_distribute_dropped_total/ { print \$2 }' '$TMP/run/distribute.prom' 2>/dev/null || echo 0) -gt 100 ]"
	# Input stops too: from now on only the reader's pace moves the queue, so whatever distribute
	# queued must reach it without the help of a new line.
	kill -STOP -- "-$(pid_of writer)"
	sleep 1.5 # the metrics file is a second behind
	out=$(dmetric exchange_distribute_lines_out_total)
	t0=$(date +%s%6N)
	kill -CONT -- "-$reader"
	wait_until 20 bash -c "[ \$(wc -l <'$TMP/reader.out') -ge $out ]"
	echo "queue of $out lines written in $(( ($(date +%s%6N) - t0) / 1000 )) ms"
	# And when input comes back, so do fresh lines.
	t1=$(date +%s%6N)
	kill -CONT -- "-$(pid_of writer)"
	wait_until 20 fresh_after "$TMP/reader.out" "$t1"
}

@test "positions: the leader numbers its lines consecutively from at least the clock, as the last key" {
	t0=$(date +%s%6N)
	start_dist leader
	{ trade 1; trade 2; ticker BTC-USDT 5; } >&7
	# a line that already carries a position is numbered again
	echo '{"type":"trade","exchange":"binance","symbol":"BTC-USDT","local_ts":1,"id":"3","price":1,"amount":1,"side":"buy","seq":7}' >&7
	wait_until 10 at_least 4 "$TMP/dist.out" '"seq":'
	mapfile -t seqs < <(grep -o '"seq":[0-9]*}$' "$TMP/dist.out" | grep -o '[0-9]*')
	[ "${#seqs[@]}" = 4 ]
	[ "${seqs[0]}" -ge "$t0" ]
	for i in 1 2 3; do [ "${seqs[$i]}" = $((seqs[0] + i)) ]; done
	# every line is still JSON, the position its last key
	jq -e -s 'length == 4 and all(.[]; (keys_unsorted | last) == "seq")' "$TMP/dist.out"
	[ "$(jq -r 'select(.id == "3") | .seq' "$TMP/dist.out")" = "${seqs[3]}" ]
	wait_until 5 dmetric_eq exchange_distribute_position "${seqs[3]}"
}

@test "positions: a restarted leader starts above every position it gave out" {
	start_dist leader
	trade 1 >&7
	wait_until 10 at_least 1 "$TMP/dist.out" '"seq":'
	first=$(jq -r .seq "$TMP/dist.out")
	kill "$(pid_of dist)"
	wait_until 10 bash -c "! kill -0 $(pid_of dist) 2>/dev/null"
	start_in dist2 "$TMP/in" "$BIN/distribute" --run-dir "$TMP/run" --node-id me
	trade 2 >&7
	wait_until 10 at_least 1 "$TMP/dist2.out" '"seq":'
	[ "$(jq -r .seq "$TMP/dist2.out")" -gt "$first" ]
}

@test "a trade passed on once is never passed on again, whatever its position" {
	start_dist leader
	{ trade 1; trade 1; trade 1 ETH-USDT; trade 2; } >&7
	wait_until 10 at_least 3 "$TMP/dist.out" '"type":"trade"'
	sleep 0.5
	[ "$(count "$TMP/dist.out" '"type":"trade"')" = 3 ]
	[ "$(jq -r '"\(.symbol) \(.id)"' "$TMP/dist.out" | sort | uniq -d | wc -l)" = 0 ]
	wait_until 5 dmetric_eq exchange_distribute_trade_duplicates_dropped_total 1
}

@test "standby: a follower keeps its own lines and, promoted, publishes the trades nobody passed on and the newest state of each stream" {
	start_dist follower
	# The old leader (not running: its leader file names an address nobody listens on).
	echo "old ws://127.0.0.1:1/ws/exchange" >"$TMP/run/leader"
	{ trade 1; ticker BTC-USDT 10; trade 2; ticker BTC-USDT 11; ticker ETH-USDT 20; trade 3; } >&7
	wait_until 10 dmetric_eq exchange_distribute_standby_lines 6
	[ ! -s "$TMP/dist.out" ] # a follower publishes nothing of its own
	echo leader >"$TMP/run/role"
	echo 1 >"$TMP/run/epoch"
	kill -USR1 "$(pid_of dist)"
	wait_until 10 at_least 5 "$TMP/dist.out" '"seq":'
	sleep 0.5
	# trades 1, 2, 3; the newest BTC-USDT ticker (11) and the ETH-USDT one, in the order kept
	[ "$(jq -r 'if .type == "trade" then "t\(.id)" else "\(.symbol)=\(.last)" end' "$TMP/dist.out" | tr '\n' ' ')" = \
		"t1 t2 BTC-USDT=11 ETH-USDT=20 t3 " ]
	wait_until 5 dmetric_eq exchange_distribute_standby_published_total 5
	wait_until 5 dmetric_eq exchange_distribute_standby_lines 0
	grep -q 'msg="leading"' "$TMP/dist.err"
	# then live: new input is published at once
	trade 4 >&7
	wait_until 5 grep -q '"id":"4"' "$TMP/dist.out"
}

@test "standby: kept trades the old leader got out (through the relay) are not published again" {
	start_serve
	start_dist follower
	echo "old $WS" >"$TMP/run/leader"
	kill -USR2 "$(pid_of dist)"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 1
	# The old leader published trades 1 and 2 (with its positions); the standby saw 1, 2 and 3.
	{
		trade 1 | sed 's/}$/,"seq":100}/'
		trade 2 | sed 's/}$/,"seq":101}/'
	} | feed
	wait_until 10 at_least 2 "$TMP/dist.out" '"type":"trade"'
	{ trade 1; trade 2; trade 3; } >&7
	wait_until 10 dmetric_eq exchange_distribute_standby_lines 3
	echo leader >"$TMP/run/role"
	kill -USR1 "$(pid_of dist)"
	wait_until 10 at_least 3 "$TMP/dist.out" '"type":"trade"'
	sleep 0.5
	[ "$(jq -r .id "$TMP/dist.out" | tr '\n' ' ')" = "1 2 3 " ]
	# the new leader's first position is above the old leader's
	[ "$(jq -r 'select(.id == "3") | .seq' "$TMP/dist.out")" -gt 101 ]
}

@test "relay: a follower that reconnects to the leader asks to resume after the newest position it has" {
	start_serve
	start_dist follower
	echo "old $WS" >"$TMP/run/leader"
	kill -USR2 "$(pid_of dist)"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 1
	{
		trade 1 | sed 's/}$/,"seq":100}/'
		trade 2 | sed 's/}$/,"seq":101}/'
		trade 3 | sed 's/}$/,"seq":101}/' # a position already had: dropped
	} | feed
	wait_until 10 at_least 2 "$TMP/dist.out" '"type":"trade"'
	# The leader's serve goes away and comes back on the same port.
	kill "$(pid_of serve)"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 0
	start serve2 "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/serve.in"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 1
	grep -q 'msg="relaying from the leader".* since=101' "$TMP/dist.err"
	[ "$(count "$TMP/dist.out" '"type":"trade"')" = 2 ]
	wait_until 5 dmetric_eq exchange_distribute_duplicates_dropped_total 1
}

@test "relay: while the leader's name lookup hangs the standby goes on keeping its lines, connects once it resolves, and publishes at once when promoted" {
	start_serve
	# Every lookup of a name hangs while $TMP/stall exists (tests/tools/slowdns), as when
	# the old leader's container is gone and the network's resolver stops answering.
	touch "$TMP/stall"
	DIST_ENV=(env LD_PRELOAD="$BIN/slowdns.so" SLOWDNS_FILE="$TMP/stall"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	start_dist follower
	echo "old ws://localhost:$PORT/ws/exchange" >"$TMP/run/leader"
	kill -USR2 "$(pid_of dist)"
	# Before: lws looked the name up on distribute's loop, which hung in it: nothing kept,
	# no metrics, a promotion unheard.
	t1=$(trade 1)
	{ echo "$t1"; trade 2; } >&7
	wait_until 10 dmetric_eq exchange_distribute_standby_lines 2
	wait_until 10 dmetric_eq exchange_distribute_relay_lookups_slow_total 1
	grep -q 'msg="looking the leader.s name up is slow.*host=localhost' "$TMP/dist.err"
	[ -s "$TMP/stall.count" ]
	# The resolver answers: the relay connects by the address, with the name as the host.
	rm "$TMP/stall"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 1
	# the old leader got trade 1 out, as the standby saw it
	echo "$t1" | sed 's/}$/,"seq":100}/' | feed
	wait_until 10 at_least 1 "$TMP/dist.out" '"type":"trade"'
	# Lookups hang again; the leader is gone; this node leads at once.
	touch "$TMP/stall"
	kill "$(pid_of serve)"
	wait_until 10 dmetric_eq exchange_distribute_relay_connected 0
	trade 3 >&7
	wait_until 10 dmetric_eq exchange_distribute_standby_lines 3
	echo leader >"$TMP/run/role"
	echo 1 >"$TMP/run/epoch"
	kill -USR1 "$(pid_of dist)"
	wait_until 5 at_least 3 "$TMP/dist.out" '"type":"trade"'
	[ "$(jq -r .id "$TMP/dist.out" | tr '\n' ' ')" = "1 2 3 " ]
	rm "$TMP/stall"
}

# start_follower NAME: a distribute of another node ($TMP/b), following in Kafka mode, its
# stdin on the FIFO $TMP/b.in (fd 6 holds it open); its output stands for what its serve got.
start_follower() {
	if [ ! -p "$TMP/b.in" ]; then
		mkdir -p "$TMP/b"
		echo follower >"$TMP/b/role"
		echo 0 >"$TMP/b/epoch"
		mkfifo "$TMP/b.in"
		exec 6<>"$TMP/b.in"
	fi
	local name=$1
	shift
	start_in "$name" "$TMP/b.in" "$BIN/distribute" --run-dir "$TMP/b" --node-id b --kafka "$KAFKA" "$@"
}
bmetric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/b/distribute.prom" 2>/dev/null; }
bmetric_eq() { [ "$(bmetric "$1")" = "$2" ]; }
bmetric_gt() { [ "$(bmetric "$1")" -gt "$2" ] 2>/dev/null; }
# leader_and_follower [ARGS...]: the mock cluster, a leader (dist) and a follower (b1) that reads the topic.
leader_and_follower() {
	start_kafka 1
	start_dist leader --kafka "$KAFKA" "$@"
	start_follower b1 "$@"
	wait_until 20 bmetric_eq exchange_distribute_consumer_ready 1
}
# The follower noted that it read the topic up to offset $1.
marked() { grep -qsE " $1( -?[0-9]+)?\$" "$TMP/b/kafka.offset"; }

@test "Kafka: a distribute that stops before its serve took the last lines it read reads the topic on from what serve's journal holds" {
	leader_and_follower
	for i in 1 2 3 4; do trade "$i"; done >&7
	wait_until 20 marked 4
	for i in 5 6 7 8 9 10; do trade "$i"; done >&7
	wait_until 20 at_least 10 "$TMP/b1.out" '"type":"trade"'
	# It had read all ten, but its serve took in only the first four before the node stopped.
	head -4 "$TMP/b1.out" >"$TMP/b/serve.journal"
	kill "$(pid_of b1)"
	wait_until 10 bash -c "! kill -0 $(pid_of b1) 2>/dev/null"
	marked 10
	start_follower b2
	wait_until 20 grep -q 'msg="started"' "$TMP/b2.err"
	trade 11 >&7
	wait_until 20 grep -q '"id":"11"' "$TMP/b2.out"
	sleep 0.5
	# The six serve lacked come again, once each; the four it had do not.
	[ "$(jq -r .id "$TMP/b2.out" | tr '\n' ' ')" = "5 6 7 8 9 10 11 " ]
	grep -q 'msg="reading the topic on from where this node stopped".* offset=4 .* records_again=6$' "$TMP/b2.err"
}

@test "Kafka: a distribute whose serve's journal ends before every place it noted in the topic fills the rest from the leader's serve" {
	leader_and_follower
	for i in 1 2 3 4; do trade "$i"; done >&7
	wait_until 20 marked 4
	for i in 5 6; do trade "$i"; done >&7
	wait_until 20 at_least 6 "$TMP/b1.out" '"type":"trade"'
	kill "$(pid_of b1)"
	wait_until 10 bash -c "! kill -0 $(pid_of b1) 2>/dev/null"
	# Its serve took in only the first two; the leader's serve has all six.
	head -2 "$TMP/b1.out" >"$TMP/b/serve.journal"
	start_serve
	feed "$TMP/b1.out"
	echo "me $WS" >"$TMP/b/leader"
	start_follower b2
	wait_until 20 grep -q 'msg="started"' "$TMP/b2.err"
	trade 7 >&7
	wait_until 20 grep -q '"id":"7"' "$TMP/b2.out"
	sleep 0.5
	[ "$(jq -r 'select(.type == "trade") | .id' "$TMP/b2.out" | tr '\n' ' ')" = "3 4 5 6 7 " ]
	grep -q 'msg="serve.s journal ends before every place noted in the topic"' "$TMP/b2.err"
	grep -q 'msg="caught up through the relay; on with the topic" reason="the relay reached' "$TMP/b2.err"
}

@test "Kafka back: a follower whose topic is ahead of its relay waits for the relay to bring the lines the leader wrote directly" {
	start_serve # the leader's serve, fed by hand below
	leader_and_follower --fallback-after 1
	echo "a $WS" >"$TMP/b/leader"
	# Kafka mode: 1-3 through the topic, to the follower and the leader's serve alike.
	for i in 1 2 3; do trade "$i"; done >&7
	wait_until 20 at_least 3 "$TMP/b1.out" '"type":"trade"'
	wait_until 20 at_least 3 "$TMP/dist.out" '"type":"trade"'
	grep '"type":"trade"' "$TMP/dist.out" | feed
	# Kafka down: both in direct mode, the follower relaying the leader's serve.
	kafka_cmd down
	wait_until 20 dmetric_eq exchange_distribute_kafka_mode 0
	wait_until 20 bmetric_eq exchange_distribute_relay_connected 1
	# 4 and 5, written directly by the leader, reach its serve later (below).
	for i in 4 5; do trade "$i"; done >&7
	wait_until 20 at_least 5 "$TMP/dist.out" '"type":"trade"'
	# Kafka back: both in Kafka mode again; 6 goes through the topic, ahead of the relay.
	kafka_cmd up
	wait_until 30 dmetric_eq exchange_distribute_kafka_mode 1
	wait_until 30 bmetric_eq exchange_distribute_kafka_mode 1
	consumed=$(bmetric exchange_distribute_consumed_total)
	trade 6 >&7
	wait_until 20 at_least 6 "$TMP/dist.out" '"type":"trade"'
	wait_until 20 bmetric_gt exchange_distribute_consumed_total "$consumed"
	# Now the leader's serve gets 4, 5 and 6, and the relay brings them.
	grep '"type":"trade"' "$TMP/dist.out" | tail -n +4 | feed
	wait_until 20 grep -q '"id":"6"' "$TMP/b1.out"
	sleep 0.5
	[ "$(jq -r 'select(.type == "trade") | .id' "$TMP/b1.out" | tr '\n' ' ')" = "1 2 3 4 5 6 " ]
	# and the relay, no longer needed, stops
	wait_until 10 bmetric_eq exchange_distribute_relay_connected 0
	grep -q 'msg="the topic is ahead of the relay' "$TMP/b1.err"
}
