#!/usr/bin/env bats
# Real nginx on loopback, running the project's deploy/nginx.conf (and nginx-tls.conf) with
# test ports, in front of two real nodes (scripts/exchanged, standalone, direct mode) fed by
# the fake exchange: clients spread by least connections, and a node that stops hands its
# clients to the other one through nginx.

load helpers

setup() {
	setup_tmp
	"$ROOT/bench/gen-trades" 2000 >"$TMP/binance.rec"
}
teardown() {
	# Clients and nginx first, then the nodes: wait until each node has stopped its stages
	# (serve may drain for up to 10 s), then sweep its process group, so that no stage loop
	# outlives the run directory (it would restart its stage there forever).
	if [ -f "${PIDS_FILE:-/nonexistent}" ]; then
		local name p deadline=$((SECONDS + 15))
		for name in client first nginx node-a node-b; do
			p=$(pid_of "$name")
			[ -z "$p" ] || kill -TERM "$p" 2>/dev/null || true
		done
		for name in node-a node-b; do
			p=$(pid_of "$name")
			[ -n "$p" ] || continue
			while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
			kill -KILL -- "-$p" 2>/dev/null || true
		done
	fi
	teardown_tmp
}

# start_node NAME [PORT]: a standalone node fed by the fake exchange "fx"; its port in
# $PORT_NAME. The node leads its own process group (setsid execs, so the recorded pid is
# exchanged's), which teardown sweeps.
start_node() {
	local port=${2:-}
	[ -n "$port" ] || port=$(free_port)
	mkdir -p "$TMP/$1"
	ZOOKEEPER_CONNECT= KAFKA_BOOTSTRAP_SERVERS= EXCHANGES="binance:BTC-USDT,ETH-USDT" CHANNELS=trade \
		EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" NODE_ID="$1" RUN_DIR="$TMP/$1" PORT="$port" BIND=127.0.0.1 \
		start "node-$1" "$ROOT/scripts/exchanged"
	eval "PORT_$1=$port"
}

node_port() { local p="PORT_$1"; echo "${!p}"; }
node_up() { curl -fs "http://127.0.0.1:$(node_port "$1")/ready" -o /dev/null; }
node_clients() {
	curl -fs "http://127.0.0.1:$(node_port "$1")/metrics" 2>/dev/null | awk '$1 == "exchange_serve_clients" { print $2 }'
}
node_clients_eq() { [ "$(node_clients "$1")" = "$2" ]; }
clients_sum_eq() { [ "$(($(node_clients a) + $(node_clients b)))" = "$1" ]; }

# Two nodes with data flowing.
start_nodes() {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node a
	start_node b
	[ "$PORT_a" != "$PORT_b" ]
	wait_until 20 node_up a
	wait_until 20 node_up b
}

# got_after N FILE: every client index listed in FILE printed a message after line N of
# the client's output (wsclient --prefix: "<index> <message>").
got_after() {
	tail -n +"$(($1 + 1))" "$TMP/client.out" | awk -v want="$2" '
		BEGIN { while ((getline i < want) > 0) need[i] = 1 }
		$1 in need { delete need[$1] }
		END { for (i in need) exit 1 }'
}

# The node that answered a request through nginx (its NODE_ID, from /api/status).
answered_by() { [ "$(curl -fs "http://127.0.0.1:$NGX_PORT/api/status" | jq -r .node)" = "$1" ]; }

@test "nginx: least_conn sends new clients to the node with fewer; health, page and data go through" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	# Only node a at first: nginx finds backend2 refusing and uses a for everything.
	PORT_b=$(free_port)
	start_node a
	wait_until 20 node_up a
	start_nginx nginx.conf "$PORT_a" "$PORT_b"
	start first "$BIN/wsclient" -n 10 --reconnect -q "ws://127.0.0.1:$NGX_PORT/ws/exchange?types=trade"
	wait_until 20 node_clients_eq a 10
	# Node b comes up. Once nginx tries it again (fail_timeout), it has the fewest
	# connections, so every new request goes there.
	start_node b "$PORT_b"
	wait_until 20 node_up b
	wait_until 20 answered_by b
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGX_PORT/ready")" = 200 ]
	curl -fs "http://127.0.0.1:$NGX_PORT/" | grep -qi '<html'
	# Ten more clients: least connections puts all of them on b (round-robin would split
	# them), and the nodes end even.
	start client "$BIN/wsclient" -n 10 --reconnect -p --prefix "ws://127.0.0.1:$NGX_PORT/ws/exchange?types=trade"
	wait_until 20 clients_sum_eq 20
	echo "clients: a=$(node_clients a) b=$(node_clients b)"
	node_clients_eq a 10
	node_clients_eq b 10
	# Every new client receives trades.
	seq 0 9 >"$TMP/all"
	wait_until 20 got_after 0 "$TMP/all"
	[ "$(count "$TMP/client.err" 'code=')" -eq 0 ]
	[ "$(count "$TMP/first.err" 'code=')" -eq 0 ]
	# The clients close (1000): the nodes see them go, and nginx logs the 20 upgrades, each
	# when its connection ends.
	for c in first client; do
		pid=$(pid_of "$c")
		kill -TERM "$pid"
		wait "$pid"
	done
	wait_until 10 clients_sum_eq 0
	wait_until 10 at_least 20 "$TMP/nginx.out" '"GET /ws/exchange?types=trade HTTP/1.1" 101'
}

@test "nginx: SIGTERM of a node: its clients get 1001, reconnect through nginx to the other node and get data again" {
	start_nodes
	start_nginx nginx.conf "$PORT_a" "$PORT_b"
	start client "$BIN/wsclient" -n 20 --reconnect -p --prefix "ws://127.0.0.1:$NGX_PORT/ws/exchange?types=trade"
	wait_until 20 clients_sum_eq 20
	seq 0 19 >"$TMP/all"
	wait_until 20 got_after 0 "$TMP/all"
	on_a=$(node_clients a)
	echo "clients on a: $on_a"
	[ "$on_a" -ge 1 ] && [ "$on_a" -lt 20 ]
	node=$(pid_of node-a)
	t0=$SECONDS
	kill -TERM "$node"
	wait "$node" || true
	[ $((SECONDS - t0)) -lt 12 ]
	# Exactly node a's clients were closed, with 1001 (going away).
	wait_until 10 at_least "$on_a" "$TMP/client.err" 'code=1001'
	sed -n 's/.*closed client=\([0-9]*\) code=1001.*/\1/p' "$TMP/client.err" | sort -un >"$TMP/moved"
	[ "$(wc -l <"$TMP/moved")" -eq "$on_a" ]
	[ "$(count "$TMP/client.err" 'code=')" -eq "$on_a" ]
	# They reconnect through nginx; the surviving node holds every client.
	wait_until 20 node_clients_eq b 20
	n=$(wc -l <"$TMP/client.out")
	wait_until 20 got_after "$n" "$TMP/moved"
	wait_until 20 got_after "$(wc -l <"$TMP/client.out")" "$TMP/all"
	# New requests never reach the stopped node: nginx moves on to the live one.
	for _ in $(seq 1 10); do
		curl -fs "http://127.0.0.1:$NGX_PORT/health" -o /dev/null
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGX_PORT/ready")" = 200 ]
	done
	node_clients_eq b 20
}

@test "nginx-tls.conf: http:// redirects to https://; wss:// and https:// reach both nodes" {
	make_certs
	start_nodes
	start_nginx nginx-tls.conf "$PORT_a" "$PORT_b"
	run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$NGX_PORT/ws/exchange?types=trade"
	[ "$output" = "301 https://127.0.0.1/ws/exchange?types=trade" ]
	curl -fsS --cacert "$TMP/tls/ca.crt" -D "$TMP/headers" "https://localhost:$NGX_TLS_PORT/ready" -o /dev/null
	grep -qi '^strict-transport-security: max-age=' "$TMP/headers"
	start client "$BIN/wsclient" --ca "$TMP/tls/ca.crt" -n 4 -p --prefix "wss://localhost:$NGX_TLS_PORT/ws/exchange?types=trade"
	wait_until 20 clients_sum_eq 4
	[ "$(node_clients a)" -ge 1 ] && [ "$(node_clients b)" -ge 1 ]
	seq 0 3 >"$TMP/all"
	wait_until 20 got_after 0 "$TMP/all"
	[ "$(count "$TMP/client.err" 'code=')" -eq 0 ]
}
