# shellcheck shell=bash
# The no-loss run shared by tests/nolost.bats and bench/ha: three supervised nodes with real
# ZooKeeper (and librdkafka's mock cluster in Kafka mode), real nginx in front of two of
# them, the fake exchange live with consecutive trade ids, a resuming client on every node
# and one through nginx, and every failure in turn. After each failure the feed pauses until
# every client holds the same newest trade, and each client's trades lost (missing between
# its first and that newest) and got twice are counted; the figures go to fd 3.
# Needs tests/helpers.bash loaded.

NODES="n1 n2 n3"

# Wakes anything a run left stopped, before teardown_tmp ends it.
nolost_wake() {
	local n p
	for n in $NODES; do
		p=$(pid_of "node-$n")
		[ -n "$p" ] && kill -CONT -- "-$p" 2>/dev/null
	done
	p=$(pid_of c-ngx)
	[ -n "$p" ] && kill -CONT "$p" 2>/dev/null
	return 0
}

CLIENTS="c-n1 c-n2 c-n3 c-ngx"

role_of() { cat "$TMP/$1/role" 2>/dev/null; }
leader_node() { for n in $NODES; do [ "$(role_of "$n")" = leader ] && echo "$n"; done; return 0; }
port_of() { cat "$TMP/$1.port"; }
# Another node than $1 leads (a node killed outright still says leader in its role file).
leader_is_not() { [ "$(leader_node | grep -vcx "$1")" = 1 ]; }
node_gone() { ! kill -0 "$(pid_of "node-$1")" 2>/dev/null; }
# A standby is ready to take over: its exchange connection is up.
standby_ready() {
	for n in $NODES; do
		[ "$(role_of "$n")" = standby ] &&
			grep -qs '^exchange_ingest_connected{exchange="binance"} 1' "$TMP/$n/ingest.prom" && return 0
	done
	return 1
}
kafka_mode_is() {
	for n in $NODES; do
		[ "$(awk '$1 == "exchange_distribute_kafka_mode" { print $2 }' "$TMP/$n/distribute.prom" 2>/dev/null)" = "$1" ] || return 1
	done
}

# start_node N: one supervised node; its port stays the same across restarts.
start_node() {
	local n=$1 port
	[ -f "$TMP/$n.port" ] || free_port >"$TMP/$n.port"
	port=$(port_of "$n")
	mkdir -p "$TMP/$n"
	env ZOOKEEPER_CONNECT="$ZK" ZK_SESSION_TIMEOUT_MS=2000 ZK_ELECTION_PATH="/nolost/${BATS_TEST_NUMBER:-1}" \
		KAFKA_BOOTSTRAP_SERVERS="${KAFKA:-}" KAFKA_FALLBACK_AFTER=2 \
		EXCHANGES="binance:BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT,BNB-BTC" CHANNELS=trade \
		EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" NODE_ID="$n" RUN_DIR="$TMP/$n" PORT="$port" \
		BIND=127.0.0.1 ADVERTISED_URL="ws://127.0.0.1:$port/ws/exchange" \
		setsid "$ROOT/scripts/exchanged" >>"$TMP/$n.node.out" 2>>"$TMP/$n.node.err" 3>&- &
	echo "$! node-$n" >>"$PIDS_FILE"
	wait_until 20 curl -fs "http://127.0.0.1:$port/health" -o /dev/null
}

trades() { count "$TMP/$1.out" '"type":"trade"'; }
# Every client gets 20 more trades.
settle() {
	local c want
	for c in $CLIENTS; do
		want=$(($(trades "$c") + 20))
		wait_until 30 at_least "$want" "$TMP/$c.out" '"type":"trade"'
	done
}
ready_for_failover() {
	wait_until 20 standby_ready
	settle
}

# The backend nginx has the client through it on: the port of its upstream connection.
ngx_backend() {
	ss -Htnp state established 2>/dev/null | grep nginx |
		awk -v a="$(port_of n1)" -v b="$(port_of n2)" '{ split($4, p, ":"); if (p[2] == a) print "n1"; else if (p[2] == b) print "n2" }' | head -1
}

# The figures so far: the feed pauses until every client holds the newest trade any of
# them has; per client, the trades missing between its first and that one, and the ones it
# got twice (in LOST and DUPS, all clients; per client in $TMP/<client>.fig).
newest_of() { jq -r 'select(.type == "trade") | .id' "$TMP/$1.out" | sort -n | tail -1; }
same_newest() {
	local m=0 c v
	for c in $CLIENTS; do v=$(newest_of "$c"); [ "${v:-0}" -gt "$m" ] && m=$v; done
	for c in $CLIENTS; do [ "$(newest_of "$c")" = "$m" ] || return 1; done
}
count_so_far() {
	local c total unique first last
	fx fx pause >/dev/null
	wait_until 30 same_newest
	sleep 1
	wait_until 10 same_newest
	LOST=0
	DUPS=0
	for c in $CLIENTS; do
		jq -r 'select(.type == "trade") | .id' "$TMP/$c.out" >"$TMP/$c.ids"
		total=$(wc -l <"$TMP/$c.ids")
		unique=$(sort -u "$TMP/$c.ids" | wc -l)
		first=$(sort -n "$TMP/$c.ids" | head -1)
		last=$(sort -n "$TMP/$c.ids" | tail -1)
		echo "$total $first $last $((last - first + 1 - unique)) $((total - unique))" >"$TMP/$c.fig"
		LOST=$((LOST + last - first + 1 - unique))
		DUPS=$((DUPS + total - unique))
	done
}
# checkpoint NAME: the figures after a failure, as the change since the previous one.
checkpoint() {
	local was_lost=$LOST was_dups=$DUPS
	count_so_far
	printf '#   %-66s lost %5d  duplicated %5d%s\n' "$1" $((LOST - was_lost)) $((DUPS - was_dups)) "${FAILOVER_NOTE:-}" >&3
	FAILOVER_NOTE=
	fx fx play >/dev/null
}
# The time from T0 (ms) to the new leader's "leading" line (it publishes from then on).
leading_after() { # leading_after NODE T0: the ms of NODE's first "leading" line after T0
	grep 'tool=distribute msg="leading"' "$TMP/$1.node.err" | sed 's/^ts=\([^ ]*\) .*/\1/' |
		while read -r t; do
			ms=$(date -d "$t" +%s%3N)
			if [ "$ms" -ge "$2" ]; then echo "$ms"; break; fi
		done
	return 0
}
note_failover() {
	local t0=$1 l t
	l=$(leader_node | grep -vx "$2" | head -1)
	wait_until 10 bash -c "grep -q 'tool=distribute msg=\"leading\"' '$TMP/$l.node.err'" || return 0
	for _ in $(seq 1 100); do
		t=$(leading_after "$l" "$t0" || true)
		[ -n "$t" ] && break
		sleep 0.05
	done
	[ -n "$t" ] && FAILOVER_NOTE=$(printf '  (new leader %s publishing %d ms after)' "$l" $((t - t0)))
	return 0
}

# run_failures MODE RATE
run_failures() {
	local mode=$1 rate=$2 label="$1 mode, $2 trades/s" l x t0 total first last lost dup
	start_zk
	KAFKA=
	[ "$mode" = kafka ] && start_kafka 1
	# Enough trades for the whole run without a loop: ids are consecutive and never repeat.
	"$ROOT/bench/gen-trades" $((rate * 240)) >"$TMP/live.rec"
	start_fakex fx binance --recording "$TMP/live.rec" --rate "$rate" --live --tick-us 1000
	for n in $NODES; do start_node "$n"; done
	wait_until 20 bash -c "[ \$(for n in $NODES; do cat $TMP/\$n/role 2>/dev/null; echo; done | grep -c leader) = 1 ]"
	start_nginx nginx.conf "$(port_of n1)" "$(port_of n2)"
	for n in $NODES; do
		start "c-$n" "$BIN/wsclient" --reconnect --stats "$TMP/c-$n.json" --stats-interval 500 \
			"ws://127.0.0.1:$(port_of "$n")/ws/exchange?types=trade"
	done
	start c-ngx "$BIN/wsclient" --reconnect --stats "$TMP/c-ngx.json" --stats-interval 500 \
		"ws://127.0.0.1:$NGX_PORT/ws/exchange?types=trade"
	ready_for_failover
	LOST=0
	DUPS=0
	echo "# $label:" >&3
	checkpoint "start (every client connected)"

	l=$(leader_node)
	t0=$(date +%s%3N)
	kill -TERM "$(pid_of "node-$l")"
	wait_until 15 leader_is_not "$l"
	note_failover "$t0" "$l"
	wait_until 20 node_gone "$l"
	start_node "$l"
	ready_for_failover
	checkpoint "SIGTERM of the leader node (restarted after)"

	l=$(leader_node)
	t0=$(date +%s%3N)
	kill -9 -- "-$(pid_of "node-$l")"
	wait_until 15 leader_is_not "$l"
	note_failover "$t0" "$l"
	start_node "$l"
	ready_for_failover
	checkpoint "kill -9 of the leader node's process group (restarted after)"

	l=$(leader_node)
	t0=$(date +%s%3N)
	kill -STOP -- "-$(pid_of "node-$l")"
	wait_until 15 leader_is_not "$l"
	note_failover "$t0" "$l"
	sleep 1
	kill -CONT -- "-$(pid_of "node-$l")"
	wait_until 15 bash -c "[ \"\$(cat $TMP/$l/role)\" != leader ]"
	ready_for_failover
	checkpoint "the leader frozen past its session (SIGSTOP), then resumed"

	if [ "$mode" = kafka ]; then
		kafka_cmd down >/dev/null
		wait_until 20 kafka_mode_is 0
		settle
		kafka_cmd up >/dev/null
		wait_until 30 kafka_mode_is 1
		ready_for_failover
		checkpoint "Kafka down (direct mode everywhere), then back"
	fi

	x=$(ngx_backend)
	[ -n "$x" ]
	kill -STOP "$(pid_of c-ngx)"
	kill -TERM "$(pid_of "node-$x")"
	wait_until 20 node_gone "$x"
	sleep 5
	kill -CONT "$(pid_of c-ngx)"
	wait_until 20 bash -c "[ \"\$(jq .resumes '$TMP/c-ngx.json' 2>/dev/null || echo 0)\" -ge 1 ]"
	wait_until 30 at_least $(($(trades c-ngx) + 20)) "$TMP/c-ngx.out" '"type":"trade"'
	[ -n "$(ngx_backend)" ] && [ "$(ngx_backend)" != "$x" ]
	start_node "$x"
	ready_for_failover
	checkpoint "a client away 5 s (its node stopped) comes back through nginx"

	kill -9 "$(cat "$TMP/n3/serve.pid")"
	wait_until 10 curl -fs "http://127.0.0.1:$(port_of n3)/health" -o /dev/null
	settle
	checkpoint "serve killed (kill -9) under its clients, restarted by the supervisor"

	local c
	for c in $CLIENTS; do
		read -r total first last lost dup <"$TMP/$c.fig"
		echo "#   client $c: trades=$total ids $first..$last lost=$lost duplicated=$dup gaps=$(jq .gaps "$TMP/$c.json" 2>/dev/null) resumes=$(jq .resumes "$TMP/$c.json" 2>/dev/null)" >&3
	done
	echo "# $label: lost=$LOST duplicated=$DUPS (all clients, whole run)" >&3
}

