#!/usr/bin/env bats
# High availability: three nodes on one machine (own ports and run directories), real
# ZooKeeper for the election, librdkafka's mock cluster for Kafka, the fake exchange
# feeding whoever leads, and a WebSocket client on every node.

load helpers

NODES="n1 n2 n3"

setup() {
	setup_tmp
	"$ROOT/bench/gen-trades" 3000 >"$TMP/binance.rec"
	"$ROOT/bench/gen-trades" 30000 >"$TMP/long.rec"
}
teardown() {
	for n in $NODES; do
		[ -f "$TMP/$n/exchanged.pid" ] && kill -CONT "$(cat "$TMP/$n/exchanged.pid")" 2>/dev/null
	done
	teardown_tmp
}

# start_nodes [VAR=VALUE...]: three supervised nodes; node N's port in $PORT_N.
start_nodes() {
	for n in $NODES; do
		local port
		port=$(free_port)
		eval "PORT_$n=$port"
		mkdir -p "$TMP/$n"
		env ZOOKEEPER_CONNECT="$ZK" ZK_SESSION_TIMEOUT_MS=2000 ZK_ELECTION_PATH="/relay-test/$BATS_TEST_NUMBER" \
			KAFKA_BOOTSTRAP_SERVERS="${KAFKA:-}" KAFKA_FALLBACK_AFTER=2 \
			EXCHANGES="binance:BTC-USDT,ETH-USDT" CHANNELS=trade EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" \
			NODE_ID="$n" RUN_DIR="$TMP/$n" PORT="$port" BIND=127.0.0.1 ADVERTISED_URL="ws://127.0.0.1:$port/ws/exchange" \
			"$@" setsid "$ROOT/scripts/exchanged" >"$TMP/$n.node.out" 2>"$TMP/$n.node.err" 3>&- &
		echo "$! node-$n" >>"$PIDS_FILE"
	done
	for n in $NODES; do
		local p="PORT_$n"
		PORT=${!p} wait_until 20 curl -fs "http://127.0.0.1:${!p}/health" -o /dev/null
	done
	wait_until 20 one_leader
}

role_of() { cat "$TMP/$1/role" 2>/dev/null; }
leaders() { local c=0; for n in $NODES; do [ "$(role_of "$n")" = leader ] && c=$((c + 1)); done; echo $c; }
one_leader() { [ "$(leaders)" = 1 ]; }
leader_node() { for n in $NODES; do [ "$(role_of "$n")" = leader ] && echo "$n"; done; return 0; }
standby_node() { for n in $NODES; do [ "$(role_of "$n")" = standby ] && echo "$n"; done; return 0; }
prom() { awk -v k="$2" '$1 == k { print $2 }' "$TMP/$1/$3.prom" 2>/dev/null; }

# Clients on every node, and wait until every consumer reads the topic.
start_clients() {
	for n in $NODES; do
		local p="PORT_$n"
		start "client-$n" "$BIN/wsclient" --reconnect "ws://127.0.0.1:${!p}/ws/exchange?types=trade"
	done
	for n in $NODES; do
		local p="PORT_$n"
		PORT=${!p} wait_until 10 serve_clients_eq 1
		[ -z "${KAFKA:-}" ] || wait_until 20 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_consumer_ready\" { print \$2 }' '$TMP/$n/distribute.prom' 2>/dev/null)\" = 1 ]"
	done
}

trade_ids() { jq -r 'select(.type == "trade") | .id' "$TMP/client-$1.out"; }
dup_count() { trade_ids "$1" | sort | uniq -d | wc -l; }

@test "HA: one leader publishes, one standby ingests too; in Kafka mode every client gets every trade once, in order" {
	start_zk
	start_kafka
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 600 --live
	fx fx pause
	start_nodes
	start_clients
	leader=$(leader_node)
	# The leader and one standby (the next in line, ZK_STANDBYS's default 1) connect to the exchange;
	# the third node keeps no connection.
	wait_until 10 fx_stat_eq fx connections 2
	standby=$(standby_node)
	[ "$(echo "$standby" | wc -w)" = 1 ]
	for n in $NODES; do
		[ "$(prom "$n" exchange_ingest_active ingest)" = "$([ "$n" = "$leader" ] || [ "$n" = "$standby" ] && echo 1 || echo 0)" ]
	done
	# Only the leader publishes: the standby keeps its lines.
	wait_until 10 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_produced_total\" { print \$2 }' '$TMP/$standby/distribute.prom')\" = 0 ]"
	fx fx play
	# The fake exchange is live: its feed had moved on a little before the pause, so the
	# stream starts at the first trade the leader received; from there nothing may be missing.
	wait_until 10 at_least 1 "$TMP/client-$leader.out" '"type":"trade"'
	first=$(trade_ids "$leader" | head -1)
	grep -E '"stream":"(btcusdt|ethusdt)@trade"' "$TMP/binance.rec" | grep -o '"t":[0-9]*' | cut -d: -f2 |
		sed -n "/^$first\$/,\$p" >"$TMP/want"
	n=$(wc -l <"$TMP/want")
	[ "$n" -gt 1000 ]
	for node in $NODES; do
		wait_until 40 at_least "$n" "$TMP/client-$node.out" '"type":"trade"'
	done
	sleep 0.5
	for node in $NODES; do
		trade_ids "$node" | diff "$TMP/want" -
		[ "$(prom "$node" exchange_distribute_kafka_mode distribute)" = 1 ]
	done
	# With Kafka and ZooKeeper every tool's metrics are there, valid for Prometheus.
	p="PORT_$leader"
	curl -fs "http://127.0.0.1:${!p}/metrics" >"$TMP/metrics"
	for m in exchange_elect_leader exchange_elect_epoch exchange_zookeeper_connected exchange_kafka_up \
		exchange_distribute_consumer_lag exchange_distribute_produced_total exchange_distribute_consumed_total; do
		grep -q "^$m " "$TMP/metrics" || { echo "missing $m"; return 1; }
	done
	promtool check metrics <"$TMP/metrics"
	wait_until 5 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_produced_total\" { print \$2 }' '$TMP/$leader/distribute.prom')\" -ge $n ]"
}

@test "HA: direct mode (no Kafka): followers relay the leader; every client gets every trade once, in order" {
	start_zk
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 600 --live
	fx fx pause
	start_nodes
	leader=$(leader_node)
	for n in $NODES; do
		[ "$n" = "$leader" ] && continue
		wait_until 10 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_relay_connected\" { print \$2 }' '$TMP/$n/distribute.prom')\" = 1 ]"
	done
	# A client on every node (the leader's serve also counts the followers' relays).
	for n in $NODES; do
		p="PORT_$n"
		c=$(PORT=${!p} serve_metric exchange_serve_clients)
		start "client-$n" "$BIN/wsclient" --reconnect "ws://127.0.0.1:${!p}/ws/exchange?types=trade"
		PORT=${!p} wait_until 10 serve_clients_eq $((c + 1))
	done
	fx fx play
	wait_until 10 at_least 1 "$TMP/client-$leader.out" '"type":"trade"'
	first=$(trade_ids "$leader" | head -1)
	grep -E '"stream":"(btcusdt|ethusdt)@trade"' "$TMP/binance.rec" | grep -o '"t":[0-9]*' | cut -d: -f2 |
		sed -n "/^$first\$/,\$p" >"$TMP/want"
	n=$(wc -l <"$TMP/want")
	[ "$n" -gt 1000 ]
	for node in $NODES; do
		wait_until 40 at_least "$n" "$TMP/client-$node.out" '"type":"trade"'
	done
	sleep 1
	for node in $NODES; do
		trade_ids "$node" | diff "$TMP/want" -
	done
	# The leader relays nothing: it feeds its serve from its own pipeline only.
	[ "$(prom "$leader" exchange_distribute_relayed_total distribute)" = 0 ]
	[ "$(prom "$leader" exchange_distribute_relay_connected distribute)" = 0 ]
}

# distribute alone, as a follower, relaying a serve that the test feeds.
relay_metric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/d/distribute.prom" 2>/dev/null; }
relay_metric_eq() { [ "$(relay_metric "$1")" = "$2" ]; }

@test "distribute: a follower never relays its own node, and stops relaying the moment it leads" {
	start_serve
	mkdir -p "$TMP/d"
	echo follower >"$TMP/d/role"
	echo 0 >"$TMP/d/epoch"
	# RUN_DIR/leader names this node (a leader file left from when it led): nothing to relay.
	echo "me $WS" >"$TMP/d/leader"
	mkfifo "$TMP/d.in"
	exec 7<>"$TMP/d.in"
	start_in dist "$TMP/d.in" "$BIN/distribute" --run-dir "$TMP/d" --node-id me
	wait_until 10 relay_metric_eq exchange_distribute_relay_connected 0
	sleep 1.5
	serve_clients_eq 0
	relay_metric_eq exchange_distribute_relayed_total 0
	# Another leader: SIGUSR2 (follow), and its lines come through.
	echo "other $WS" >"$TMP/d/leader"
	kill -USR2 "$(pid_of dist)"
	wait_until 10 relay_metric_eq exchange_distribute_relay_connected 1
	wait_until 10 serve_clients_eq 1
	for i in 1 2 3; do line trade binance BTC-USDT "r$i"; done | feed
	wait_until 10 at_least 3 "$TMP/dist.out" '"type":"trade"'
	# This node leads: the relay closes and nothing it would carry reaches stdout.
	echo leader >"$TMP/d/role"
	echo "me ws://127.0.0.1:1/ws/exchange" >"$TMP/d/leader"
	kill -USR1 "$(pid_of dist)"
	wait_until 10 relay_metric_eq exchange_distribute_relay_connected 0
	wait_until 10 serve_clients_eq 0
	for i in 4 5 6; do line trade binance BTC-USDT "r$i"; done | feed
	echo '{"type":"trade","exchange":"binance","symbol":"BTC-USDT","ts":1,"local_ts":1,"id":"own","price":1,"amount":1,"side":"buy"}' >&7
	wait_until 10 at_least 1 "$TMP/dist.out" '"id":"own"'
	sleep 0.5
	[ "$(count "$TMP/dist.out" '"type":"trade"')" = 4 ]
	! grep -q '"id":"r4"' "$TMP/dist.out"
}

@test "HA: SIGTERM hands over fast, kill -9 within the session timeout; clients stay connected" {
	start_zk
	start_kafka
	start_fakex fx binance --recording "$TMP/long.rec" --rate 250 --live
	start_nodes
	start_clients
	first=$(leader_node)
	kill -TERM "$(pid_of "node-$first")"
	t0=$(date +%s%N)
	wait_until 10 bash -c "for n in $NODES; do [ \"\$(cat $TMP/\$n/role 2>/dev/null)\" = leader ] && [ \$n != $first ] && exit 0; done; exit 1"
	handover_ms=$((($(date +%s%N) - t0) / 1000000))
	echo "clean handover: ${handover_ms} ms"
	[ "$handover_ms" -lt 3000 ]
	second=$(leader_node)
	# The new leader ingests: data flows again to the clients of the surviving nodes.
	for n in $NODES; do
		[ "$n" = "$first" ] && continue
		c=$(count "$TMP/client-$n.out" '"type":"trade"')
		wait_until 15 at_least $((c + 20)) "$TMP/client-$n.out" '"type":"trade"'
	done
	# A crash of the whole node: supervisor, stages and elect (its own process group).
	kill -9 -- "-$(pid_of "node-$second")"
	t0=$(date +%s%N)
	third=
	wait_until 10 bash -c "for n in $NODES; do [ \"\$(cat $TMP/\$n/role 2>/dev/null)\" = leader ] && [ \$n != $first ] && [ \$n != $second ] && exit 0; done; exit 1"
	crash_ms=$((($(date +%s%N) - t0) / 1000000))
	echo "crash failover: ${crash_ms} ms (session timeout 2000 ms)"
	[ "$crash_ms" -lt 4000 ]
	# (The crashed node's role file still says leader: nobody was left to change it.)
	third=$(leader_node | grep -vx -e "$first" -e "$second")
	c=$(count "$TMP/client-$third.out" '"type":"trade"')
	wait_until 15 at_least $((c + 20)) "$TMP/client-$third.out" '"type":"trade"'
	# The last node's client never lost its connection through both failovers.
	[ "$(count "$TMP/client-$third.err" 'closed client')" -eq 0 ]
	[ "$(dup_count "$third")" -eq 0 ]
}

@test "HA: Kafka down -> direct mode everywhere (followers via the leader); back -> Kafka mode" {
	start_zk
	start_kafka 1
	start_fakex fx binance --recording "$TMP/long.rec" --rate 250 --live
	start_nodes
	start_clients
	for n in $NODES; do wait_until 10 at_least 20 "$TMP/client-$n.out" '"type":"trade"'; done
	kafka_cmd down
	for n in $NODES; do
		wait_until 15 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_kafka_mode\" { print \$2 }' '$TMP/$n/distribute.prom')\" = 0 ]"
	done
	leader=$(leader_node)
	for n in $NODES; do
		[ "$n" = "$leader" ] && continue
		wait_until 10 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_relay_connected\" { print \$2 }' '$TMP/$n/distribute.prom')\" = 1 ]"
	done
	for n in $NODES; do
		c=$(count "$TMP/client-$n.out" '"type":"trade"')
		wait_until 15 at_least $((c + 50)) "$TMP/client-$n.out" '"type":"trade"'
		grep -q 'tool=distribute msg="direct mode"' "$TMP/$n.node.err"
	done
	kafka_cmd up
	for n in $NODES; do
		wait_until 20 bash -c "[ \"\$(awk '\$1 == \"exchange_distribute_kafka_mode\" { print \$2 }' '$TMP/$n/distribute.prom')\" = 1 ]"
	done
	for n in $NODES; do
		c=$(count "$TMP/client-$n.out" '"type":"trade"')
		wait_until 15 at_least $((c + 50)) "$TMP/client-$n.out" '"type":"trade"'
	done
	# Losses and duplicates across both switches, per node (duplicates must be none).
	for n in $NODES; do
		echo "$n: trades=$(trade_ids "$n" | wc -l) duplicates=$(dup_count "$n") switches=$(prom "$n" exchange_distribute_mode_switches_total distribute)"
		[ "$(dup_count "$n")" -eq 0 ]
		[ "$(count "$TMP/client-$n.err" 'closed client')" -eq 0 ]
	done
}

@test "HA: a zombie leader (stopped past its session, then resumed) gets no stale record to any client" {
	start_zk
	start_kafka
	start_fakex fx binance --recording "$TMP/long.rec" --rate 250 --live
	start_nodes
	start_clients
	zombie=$(leader_node)
	for n in $NODES; do wait_until 10 at_least 20 "$TMP/client-$n.out" '"type":"trade"'; done
	tools=""
	for f in ingest convert distribute serve; do tools="$tools $(cat "$TMP/$zombie/$f.pid")"; done
	zelect=$(cat "$TMP/$zombie/elect.pid")
	# The whole node freezes (a long pause) past its session timeout; another node leads.
	kill -STOP "$(pid_of "node-$zombie")" $zelect $tools
	wait_until 10 bash -c "for n in $NODES; do [ \$n != $zombie ] && [ \"\$(cat $TMP/\$n/role)\" = leader ] && exit 0; done; exit 1"
	sleep 1 # the new leader produces under its epoch
	# The zombie's pipeline wakes first and, still believing it leads, produces what its
	# exchange connection buffered, stamped with its old epoch; its elect wakes a second later.
	kill -CONT $tools
	sleep 1
	kill -CONT $zelect "$(pid_of "node-$zombie")"
	wait_until 15 bash -c "[ \"\$(cat $TMP/$zombie/role)\" = follower ]"
	sleep 1
	fenced=0
	for n in $NODES; do fenced=$((fenced + $(prom "$n" exchange_distribute_fenced_total distribute))); done
	echo "stale records fenced: $fenced"
	[ "$fenced" -gt 0 ]
	for n in $NODES; do
		echo "$n: duplicates=$(dup_count "$n")"
		[ "$(dup_count "$n")" -eq 0 ]
	done
	[ "$(leaders)" -eq 1 ]
}

@test "HA: ZooKeeper stopped and restarted: never two leaders" {
	start_zk
	start_fakex fx binance --recording "$TMP/long.rec" --rate 250 --live
	start_nodes
	# Watch the role files every 20 ms for the whole test.
	bash -c "while :; do c=0; for n in $NODES; do [ \"\$(cat $TMP/\$n/role 2>/dev/null)\" = leader ] && c=\$((c+1)); done; echo \$c; sleep 0.02; done" >"$TMP/leaders.log" 2>/dev/null 3>&- &
	echo "$! watcher" >>"$PIDS_FILE"
	kill -TERM "$(pid_of zk)"
	wait "$(pid_of zk)" 2>/dev/null || true
	# Without ZooKeeper the leader demotes itself within 2/3 of the session timeout.
	wait_until 10 bash -c "[ \"\$(for n in $NODES; do cat $TMP/\$n/role; done | grep -c leader)\" = 0 ]"
	sleep 1
	start zk2 java -Dzookeeper.log.dir="$TMP/zk" -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
		org.apache.zookeeper.server.ZooKeeperServerMain "$TMP/zk/zoo.cfg"
	wait_until 30 zk_up
	wait_until 20 one_leader
	sleep 1
	kill "$(pid_of watcher)"
	[ -z "$(grep -x '[2-9]' "$TMP/leaders.log")" ]
	grep -qx 1 "$TMP/leaders.log"
	grep -qx 0 "$TMP/leaders.log"
}

@test "elect: a name lookup that hangs does not stall the session: no second leader, the lead kept" {
	start_zk
	# Node a's lookups hang while $TMP/a.stall exists (tests/tools/slowdns), as when the
	# container network's resolver stops answering for a while.
	local zk="localhost:${ZK#*:}" n
	for n in a b; do mkdir -p "$TMP/$n"; done
	start elect-a env LD_PRELOAD="$BIN/slowdns.so" SLOWDNS_FILE="$TMP/a.stall" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$BIN/elect" --zk "$zk" --path /relay-test/dns --node-id a --url ws://a --session-timeout 2000 --run-dir "$TMP/a"
	wait_until 10 bash -c "[ \"\$(cat $TMP/a/role 2>/dev/null)\" = leader ]"
	start elect-b "$BIN/elect" --zk "$zk" --path /relay-test/dns --node-id b --url ws://b --session-timeout 2000 --run-dir "$TMP/b"
	wait_until 10 bash -c "[ \"\$(cat $TMP/b/role 2>/dev/null)\" = standby ]"
	touch "$TMP/a.stall"
	# Three session timeouts with a's lookups hanging, the roles read every 20 ms.
	for _ in $(seq 300); do
		echo "$(cat "$TMP/a/role") $(cat "$TMP/b/role")" >>"$TMP/roles.log"
		sleep 0.02
	done
	rm "$TMP/a.stall"
	sort "$TMP/roles.log" | uniq -c
	# Before: a's ZooKeeper thread looked the name up on every turn and hung in it, its
	# session expired, and b led while a still said it led.
	[ "$(sort -u "$TMP/roles.log")" = "leader standby" ]
	[ ! -s "$TMP/a.stall.count" ]
	grep -q 'msg="leading"' "$TMP/elect-a.err"
	! grep -q 'msg="leading"' "$TMP/elect-b.err"
}
