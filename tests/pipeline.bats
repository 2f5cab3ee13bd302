#!/usr/bin/env bats
# The whole pipeline: fake exchange -> ingest -> convert -> distribute -> serve -> client,
# as plain pipes and under the supervisor (restarts, shutdown).

load helpers

setup() {
	setup_tmp
	mkdir -p "$TMP/run"
	"$ROOT/bench/gen-trades" 2000 >"$TMP/binance.rec"
}
teardown() {
	[ -f "$TMP/run/exchanged.pid" ] && kill -TERM "$(cat "$TMP/run/exchanged.pid")" 2>/dev/null
	teardown_tmp
}

# The trade ids the recording holds for SYMBOLS (Binance lower-case stream names), in order.
recorded_ids() {
	grep -E "\"stream\":\"($1)@trade\"" "$TMP/binance.rec" | grep -o '"t":[0-9]*' | cut -d: -f2
}

pid_alive_file() { # the pid in FILE is alive and differs from OLD
	local p
	p=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$p" ] && [ "$p" != "$2" ] && kill -0 "$p" 2>/dev/null
}

@test "end to end with pipes: every trade of the recording arrives once and in order" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 2000
	PORT=$(free_port)
	mkfifo "$TMP/pipe"
	start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/pipe"
	wait_until 10 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	bash -c "'$BIN/ingest' -x binance:BTC-USDT,ETH-USDT -c trade --url binance=ws://127.0.0.1:$FX_PORT 2>'$TMP/ingest.err' \
		| '$BIN/convert' 2>'$TMP/convert.err' | '$BIN/distribute' 2>'$TMP/distribute.err' >'$TMP/pipe'" 3>&- &
	echo "$! pipeline" >>"$PIDS_FILE"
	recorded_ids 'btcusdt|ethusdt' >"$TMP/want"
	n=$(wc -l <"$TMP/want")
	[ "$n" -gt 500 ]
	wait_until 30 at_least "$n" "$TMP/client.out" '"type":"trade"'
	sleep 0.3
	jq -r .id "$TMP/client.out" >"$TMP/got"
	diff "$TMP/want" "$TMP/got"
	pkill -TERM -f "$BIN/ingest -x binance:BTC-USDT,ETH-USDT" || true
}

@test "an exchange out of reach: clients get the cause in the feed's status line" {
	PORT=$(free_port)
	mkfifo "$TMP/pipe"
	start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/pipe"
	wait_until 10 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=status"
	wait_until 10 serve_clients_eq 1
	start pipeline bash -c "'$BIN/ingest' -x binance:BTC-USDT -c trade --url binance=ws://stream.relay-test.invalid:9443 2>'$TMP/ingest.err' \
		| '$BIN/convert' 2>'$TMP/convert.err' | '$BIN/distribute' 2>'$TMP/distribute.err' >'$TMP/pipe'"
	wait_until 15 grep -q '^{"type":"status","exchange":"binance","local_ts":[0-9]*,"event":"error","detail":"cannot resolve stream.relay-test.invalid: ' "$TMP/client.out"
	grep -q 'level=warn tool=ingest msg="cannot connect" exchange=binance reason=dns' "$TMP/ingest.err"
}

@test "supervisor: every trade arrives once and in order; the page and status are served" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 500
	fx fx pause # until the client is connected
	PORT=$(free_port)
	ZOOKEEPER_CONNECT='' EXCHANGES="binance:BTC-USDT,SOL-USDT" CHANNELS=trade \
		EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" RUN_DIR="$TMP/run" PORT=$PORT BIND=127.0.0.1 \
		start node "$ROOT/scripts/exchanged"
	wait_until 15 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	wait_until 10 grep -q '"event":"connect"' "$TMP/fx.events"
	fx fx play
	recorded_ids 'btcusdt|solusdt' >"$TMP/want"
	n=$(wc -l <"$TMP/want")
	wait_until 30 at_least "$n" "$TMP/client.out" '"type":"trade"'
	sleep 0.3
	jq -r .id "$TMP/client.out" | diff "$TMP/want" -
	curl -fs "http://127.0.0.1:$PORT/api/status" | jq -e '[.stages[] | select(.up) | .name] == ["ingest","convert","distribute","serve"]'
	curl -fs "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
	grep -q '^exchange_ingest_frames_total{exchange="binance"}' "$TMP/metrics"
	# Every stage's metrics, one family each, valid for Prometheus.
	for tool in ingest convert distribute serve; do
		grep -q "^exchange_process_resident_memory_bytes{tool=\"$tool\"}" "$TMP/metrics"
	done
	grep -q '^exchange_feed_latency_seconds_bucket' "$TMP/metrics"
	grep -q '^exchange_pipeline_latency_seconds_bucket' "$TMP/metrics"
	promtool check metrics <"$TMP/metrics"
}

# start_node [VAR=VALUE...]: a supervised node on a free port, fed by the fake exchange "fx".
start_node() {
	PORT=$(free_port)
	env ZOOKEEPER_CONNECT= EXCHANGES="binance:BTC-USDT,ETH-USDT" CHANNELS=trade \
		EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" RUN_DIR="$TMP/run" PORT="$PORT" BIND=127.0.0.1 "$@" \
		"$ROOT/scripts/exchanged" >"$TMP/node.out" 2>"$TMP/node.err" 3>&- &
	echo "$! node" >>"$PIDS_FILE"
	wait_until 15 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
}

# status_row_matches_prom EXCHANGE: /api/status's row for EXCHANGE reads what ingest's own
# metrics file says: frames (some), connected, reconnects and drops.
status_row_matches_prom() {
	local prom=$TMP/run/ingest.prom lab="exchange=\"$1\"" frames connected reconnects dropped
	frames=$(metric "$prom" exchange_ingest_frames_total "$lab")
	connected=$(metric "$prom" exchange_ingest_connected "$lab")
	reconnects=$(metric "$prom" exchange_ingest_reconnects_total "$lab")
	dropped=$(metric "$prom" exchange_ingest_dropped_total "$lab")
	[ "$frames" != missing ] && [ "$frames" -gt 0 ] || return 1
	curl -fs "http://127.0.0.1:$PORT/api/status" >"$TMP/status.json" || return 1
	jq -e --arg ex "$1" --argjson frames "$frames" --argjson connected "$connected" \
		--argjson reconnects "$reconnects" --argjson dropped "$dropped" \
		'[.exchanges[] | select(.exchange == $ex)] | length == 1 and .[0].frames == $frames
		 and .[0].connected == ($connected == 1) and .[0].reconnects == $reconnects
		 and .[0].dropped == $dropped' "$TMP/status.json" >/dev/null
}

# ingest's metrics file holds at least N frames of EXCHANGE.
prom_frames_ge() {
	local v
	v=$(metric "$TMP/run/ingest.prom" exchange_ingest_frames_total "exchange=\"$1\"" 2>/dev/null)
	[ -n "$v" ] && [ "$v" != missing ] && [ "${v%.*}" -ge "$2" ]
}

@test "/api/status: an exchange's row reads what ingest's metrics say, from the stage's own file" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 200 --loop
	start_node
	wait_until 20 prom_frames_ge binance 50
	# while frames flow: a rate, and every stage the node runs is up
	has_rate() { curl -fs "http://127.0.0.1:$PORT/api/status" | jq -e '.exchanges[] | select(.exchange == "binance") | .rate > 0 and .frames > 0 and .connected' >/dev/null; }
	wait_until 10 has_rate
	curl -fs "http://127.0.0.1:$PORT/api/status" |
		jq -e '[.stages[] | select(.up) | .name] == ["ingest","convert","distribute","serve"] and .mode == "direct"'
	# a dropped connection: ingest reconnects, so every figure compared below is not zero
	fx fx drop
	reconnected() {
		local lab='exchange="binance"'
		[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_reconnects_total "$lab")" = 1 ] &&
			[ "$(metric "$TMP/run/ingest.prom" exchange_ingest_connected "$lab")" = 1 ]
	}
	wait_until 15 reconnected
	# the feed stops: both sides settle on the same figures
	fx fx pause
	wait_until 15 status_row_matches_prom binance
	jq -e '.exchanges[0].frames >= 50 and .exchanges[0].reconnects == 1 and .exchanges[0].connected
		and .exchanges[0].last_frame_age_s >= 0' "$TMP/status.json"
}

@test "supervisor: kill -9 of convert, ingest or distribute; the client stays and data comes back" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node
	start client "$BIN/wsclient" --exit-on-close "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	wait_until 15 at_least 5 "$TMP/client.out" '"type":"trade"'
	for stage in convert ingest distribute; do
		old=$(cat "$TMP/run/$stage.pid")
		kill -9 "$old"
		wait_until 15 pid_alive_file "$TMP/run/$stage.pid" "$old"
		n=$(count "$TMP/client.out" '"type":"trade"')
		wait_until 15 at_least $((n + 20)) "$TMP/client.out" '"type":"trade"'
		alive "$(pid_of client)"
		serve_clients_eq 1
	done
	grep -q 'msg="stage exited, restarting" stage=convert status=137' "$TMP/node.err"
	grep -q 'msg="stage exited, restarting" stage=ingest status=137' "$TMP/node.err"
	grep -q 'msg="stage exited, restarting" stage=distribute status=137' "$TMP/node.err"
	[ "$(count "$TMP/client.err" 'code=')" = 0 ]
}

# ids_lost FILE: trades missing from a client's consecutive trade ids (the gaps' total).
ids_lost() {
	jq -r 'select(.type == "trade") | .id' "$1" | awk 'NR > 1 && $1 > prev + 1 { lost += $1 - prev - 1 } { prev = $1 } END { print lost + 0 }'
}

# log_us FILE PATTERN: the ts of FILE's last log line holding PATTERN, in µs since the epoch.
log_us() {
	local ts
	ts=$(grep -F -- "$2" "$1" | tail -1 | sed -n 's/^ts=\([^ ]*\)Z .*/\1/p')
	[ -n "$ts" ] && echo $(($(date -ud "$ts" +%s%6N)))
}

@test "supervisor: a crashed ingest is restarted at once; trades lost across a kill -9 are measured" {
	# A live exchange at 200 trades/s with consecutive ids over the five symbols the node
	# subscribes: a client's gaps are the trades lost while ingest was away. The loss also
	# depends on the reconnect to the exchange; the supervisor's part is the restart delay.
	"$ROOT/bench/gen-trades" 40000 >"$TMP/live.rec"
	start_fakex fx binance --recording "$TMP/live.rec" --rate 200 --live
	start_node EXCHANGES="binance:BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT,BNB-BTC"
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	wait_until 15 at_least 200 "$TMP/client.out" '"type":"trade"'
	[ "$(ids_lost "$TMP/client.out")" = 0 ]
	old=$(cat "$TMP/run/ingest.pid")
	t_kill=$(date +%s%6N)
	kill -9 "$old"
	wait_until 15 pid_alive_file "$TMP/run/ingest.pid" "$old"
	t_pid=$(date +%s%6N)
	n=$(count "$TMP/client.out" '"type":"trade"')
	wait_until 15 at_least $((n + 200)) "$TMP/client.out" '"type":"trade"'
	lost=$(ids_lost "$TMP/client.out")
	t_exit=$(log_us "$TMP/node.err" 'msg="stage exited, restarting" stage=ingest')
	t_start=$(log_us "$TMP/node.err" 'msg="stage started" stage=ingest')
	echo "# kill -9 of ingest at 200 trades/s: $lost trades lost; supervisor restarted it $(((t_start - t_exit) / 1000)) ms after it exited, new pid file $(((t_pid - t_kill) / 1000)) ms after the kill" >&3
	# What the supervisor controls: no back-off the first time, and a relaunch at once
	# (a fork and an exec: a few ms; 300 ms leaves room for a loaded machine, and is still
	# below the 0.5 s the first back-off used to be).
	grep -q 'msg="stage exited, restarting" stage=ingest status=137 up_s=[0-9.]* in_s=0$' "$TMP/node.err"
	[ $((t_start - t_exit)) -lt 300000 ]
}

@test "supervisor: a stage that keeps crashing backs off, and one that ran 10 s restarts at once" {
	mkdir -p "$TMP/bin"
	for t in "$BIN"/*; do ln -s "$t" "$TMP/bin/"; done
	# A convert that runs for $TMP/up seconds, then crashes (--check passes).
	rm "$TMP/bin/convert"
	cat >"$TMP/bin/convert" <<-EOF
		#!/bin/sh
		for a; do [ "\$a" = --check ] && exit 0; done
		sleep "\$(cat "$TMP/up")"
		exit 1
	EOF
	chmod +x "$TMP/bin/convert"
	echo 0 >"$TMP/up"
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node BIN="$TMP/bin"
	wait_until 15 at_least 4 "$TMP/node.err" 'stage=convert status=1'
	grep 'stage=convert status=1' "$TMP/node.err" | grep -o 'in_s=[0-9.]*' | head -4 | tr '\n' ' ' >"$TMP/delays"
	[ "$(cat "$TMP/delays")" = "in_s=0 in_s=0.5 in_s=1 in_s=2 " ]
	# Up for 10 s: the next crash restarts at once again.
	echo 10.5 >"$TMP/up"
	n=$(count "$TMP/node.err" 'stage=convert status=1')
	wait_until 30 at_least $((n + 1)) "$TMP/node.err" 'stage=convert status=1'
	grep 'stage=convert status=1' "$TMP/node.err" | sed -n "$((n + 1))p" | grep -q 'up_s=1[0-9.]* in_s=0$'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

@test "supervisor: a stage whose reader stops waits for it instead of spinning on its output" {
	# The supervisor gives each stage a FIFO opened read-write as its output; while the reader
	# does not take what was written, that descriptor reads as readable. A loop that watched
	# it would spin at full CPU, stealing the core the other stages need.
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	wait_until 15 at_least 5 "$TMP/client.out" '"type":"trade"'
	ingest=$(cat "$TMP/run/ingest.pid") convert=$(cat "$TMP/run/convert.pid")
	distribute=$(cat "$TMP/run/distribute.pid") serve=$(cat "$TMP/run/serve.pid")
	kill -STOP "$convert" "$serve"
	sleep 1 # output now waits unread in both FIFOs
	i0=$(cpu_ticks "$ingest") d0=$(cpu_ticks "$distribute")
	sleep 3
	i1=$(cpu_ticks "$ingest") d1=$(cpu_ticks "$distribute")
	kill -CONT "$convert" "$serve"
	hz=$(getconf CLK_TCK)
	echo "CPU over 3 s: ingest $((i1 - i0)) ticks, distribute $((d1 - d0)) ticks (HZ $hz)"
	[ $((i1 - i0)) -lt $((hz * 3 / 5)) ] # under 20% of a core
	[ $((d1 - d0)) -lt $((hz * 3 / 5)) ]
	n=$(count "$TMP/client.out" '"type":"trade"')
	wait_until 15 at_least $((n + 20)) "$TMP/client.out" '"type":"trade"'
}

holds_qos() {
	local fd
	for fd in "/proc/$1/fd"/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = /dev/cpu_dma_latency ] && return 0
	done
	return 1
}

@test "supervisor: CPU_DMA_LATENCY_US is held while the node runs, by the supervisor alone" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node CPU_DMA_LATENCY_US=0
	wait_until 10 test -s "$TMP/run/exchanged.pid"
	sup=$(cat "$TMP/run/exchanged.pid")
	if [ -w /dev/cpu_dma_latency ]; then
		holds_qos "$sup"
		grep -q 'msg="holding a CPU wake-up latency request" cpu_dma_latency_us=0' "$TMP/node.err"
		# The kernel's effective target (the lowest request held) is now 0 us.
		[ "$(od -An -td4 /dev/cpu_dma_latency | tr -d ' ')" = 0 ]
	else
		# Without the device (or the right to it) the node runs all the same, and says so.
		grep -q 'msg="cannot hold a CPU wake-up latency request, going on without"' "$TMP/node.err"
	fi
	for stage in ingest convert distribute serve; do
		wait_until 10 test -s "$TMP/run/$stage.pid"
		if holds_qos "$(cat "$TMP/run/$stage.pid")"; then return 1; fi
	done
	kill -TERM "$sup"
	wait_until 15 bash -c "! kill -0 $sup 2>/dev/null"
	run env CPU_DMA_LATENCY_US=fast RUN_DIR="$TMP/run2" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'CPU_DMA_LATENCY_US must be a number of microseconds'* ]]
}

@test "supervisor: SIGTERM closes clients with 1001 and stops every stage" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node
	start client "$BIN/wsclient" --exit-on-close "ws://127.0.0.1:$PORT/ws/exchange"
	wait_until 10 serve_clients_eq 1
	for stage in ingest convert distribute serve; do wait_until 10 test -s "$TMP/run/$stage.pid"; done
	pids=$(cat "$TMP/run"/{ingest,convert,distribute,serve}.pid)
	node=$(pid_of node)
	t0=$SECONDS
	kill -TERM "$node"
	wait "$node"
	[ $((SECONDS - t0)) -lt 12 ]
	wait_until 5 grep -q 'code=1001' "$TMP/client.err"
	for p in $pids; do ! kill -0 "$p" 2>/dev/null; done
	grep -q 'msg="stopped"' "$TMP/node.err"
}

@test "supervisor: a bad configuration fails fast with status 2" {
	run env EXCHANGES="nowhere" RUN_DIR="$TMP/run" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'bad configuration for ingest'* ]]
	run env PORT=notaport RUN_DIR="$TMP/run" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
}

@test "option errors name the option and the valid range or choices, and exit 2" {
	run "$BIN/serve" --port 99999
	[ "$status" -eq 2 ]
	[ "$output" = "serve: --port: 99999 is out of range (0-65535)" ]
	run "$BIN/serve" --max-clients lots
	[ "$status" -eq 2 ]
	[ "$output" = 'serve: --max-clients: "lots" is not a whole number (0-1000000)' ]
	run "$BIN/distribute" --fallback-after 0
	[ "$status" -eq 2 ]
	[ "$output" = "distribute: --fallback-after: 0 is out of range (1-3600)" ]
	run "$BIN/ingest" -x binance --max-frame 10
	[ "$status" -eq 2 ]
	[ "$output" = "ingest: --max-frame: 10 is out of range (1024-67108864)" ]
	run "$BIN/ingest" -x binance --connect-timeout 500
	[ "$status" -eq 2 ]
	[ "$output" = "ingest: --connect-timeout: 500 is out of range (1000-600000)" ]
	run "$BIN/ingest" -x binance --rest-timeout 10s
	[ "$status" -eq 2 ]
	[ "$output" = 'ingest: --rest-timeout: "10s" is not a whole number (1000-600000)' ]
	run "$BIN/ingest" -x binance --channels trades
	[ "$status" -eq 2 ]
	[ "$output" = 'ingest: --channels: "trades" is not a list of trade, ticker, book, book:full, derivative, liquidation' ]
	run "$BIN/ingest" -x nowhere
	[ "$status" -eq 2 ]
	[[ "$output" == 'ingest: --exchange: unknown exchange "nowhere" (one of binance upbit '* ]]
	run "$BIN/elect" --zk 127.0.0.1:2181 --node-id a --url ws://a --session-timeout 100
	[ "$status" -eq 2 ]
	[ "$output" = "elect: --session-timeout: 100 is out of range (400-120000)" ]
	run "$BIN/elect" --zk 127.0.0.1:2181 --node-id a --url ws://a --path relay/
	[ "$status" -eq 2 ]
	[ "$output" = 'elect: --path: "relay/" must start with / and not end with one' ]
	run "$BIN/ingest" -x binance:btcusdt
	[ "$status" -eq 2 ]
	[ "$output" = 'ingest: --exchange: "btcusdt": symbols are BASE-QUOTE (BTC-USDT), BASE-QUOTE-PERP (BTC-USDT-PERP) or BASE-QUOTE-YYYYMMDD' ]
	run "$BIN/ingest" -x binance -x binance
	[ "$status" -eq 2 ]
	[ "$output" = 'ingest: --exchange: binance is listed twice' ]
}

# node_env PORT RUN_DIR: the environment of a node fed by the fake exchange "fx".
node_env() {
	echo ZOOKEEPER_CONNECT= "EXCHANGES=binance:BTC-USDT,ETH-USDT" CHANNELS=trade \
		"EXCHANGE_URLS=binance=ws://127.0.0.1:$FX_PORT" "RUN_DIR=$2" "PORT=$1" BIND=127.0.0.1
}

stage_pids() { for s in ingest convert distribute serve; do cat "$1/$s.pid"; done; }

@test "supervisor: a second node on the same run directory exits 2 naming the first, and touches nothing" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node
	start client "$BIN/wsclient" "ws://127.0.0.1:$PORT/ws/exchange?types=trade"
	wait_until 10 serve_clients_eq 1
	wait_until 15 at_least 5 "$TMP/client.out" '"type":"trade"'
	for s in ingest convert distribute serve; do wait_until 10 test -s "$TMP/run/$s.pid"; done
	first=$(cat "$TMP/run/exchanged.pid")
	before=$(stage_pids "$TMP/run")
	port2=$(free_port)
	# shellcheck disable=SC2046 # node_env's words are assignments
	run timeout 20 env $(node_env "$port2" "$TMP/run") "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'level=error tool=exchanged msg="the run directory is in use" run_dir='"$TMP/run pid=$first "* ]]
	# The first node's pid files and control socket are its own still, and it serves on.
	[ "$(stage_pids "$TMP/run")" = "$before" ]
	test -S "$TMP/run/ingest.sock"
	printf 'status\n' | timeout 5 nc -U -q 1 "$TMP/run/ingest.sock" | grep -q binance
	n=$(count "$TMP/client.out" '"type":"trade"')
	wait_until 15 at_least $((n + 20)) "$TMP/client.out" '"type":"trade"'
	run curl -fs "http://127.0.0.1:$port2/health" -o /dev/null
	[ "$status" -ne 0 ]
	# make demo says so before it starts its fake exchanges (whose files would go there).
	run timeout 20 env RUN_DIR="$TMP/run" PORT="$port2" "$ROOT/scripts/demo"
	[ "$status" -eq 2 ]
	[ "$output" = "demo: $TMP/run is in use by another node (pid $first); stop it or set RUN_DIR" ]
	[ -z "$(find "$TMP/run" -name 'fake-*')" ]
	[ "$(count "$TMP/node.err" 'stage exited')" = 0 ]
}

@test "supervisor: a port in use stops a node before any stage starts, naming the listener" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_node
	wait_until 10 test -s "$TMP/run/serve.pid"
	# shellcheck disable=SC2046
	run timeout 20 env $(node_env "$PORT" "$TMP/run2") "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'msg="the port is in use" port='"$PORT pid=$(cat "$TMP/run/serve.pid") process=serve "* ]]
	[ -z "$(find "$TMP/run2" -name '*.pid' -o -name '*.sock' -o -name '*.fifo')" ]
	# Another address on the same port is no conflict.
	# shellcheck disable=SC2046
	run timeout 5 env $(node_env "$PORT" "$TMP/run3") BIND=127.0.0.2 "$ROOT/scripts/exchanged"
	[[ "$output" != *'the port is in use'* ]]
}

@test "supervisor: an ingest left on the run directory keeps its socket; the new node stops with status 2" {
	# An ingest left running on the run directory (its node was killed) holds ingest.sock:
	# the new node's ingest must neither take it over nor be restarted forever.
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start other "$BIN/ingest" --run-dir "$TMP/run" -x binance --url "binance=ws://127.0.0.1:$FX_PORT"
	other=$LAST_PID
	wait_until 10 test -s "$TMP/run/ingest.pid"
	port=$(free_port)
	# shellcheck disable=SC2046
	run timeout 30 env $(node_env "$port" "$TMP/run") "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'level=error tool=ingest msg="another ingest runs on this run directory"'*"pid=$other"* ]]
	[[ "$output" == *'level=error tool=exchanged msg="stage exited with a configuration error, stopping the node" stage=ingest status=2'* ]]
	[[ "$output" == *'msg="stopped: a stage'"'"'s configuration is wrong" stage=ingest'* ]]
	[[ "$output" != *'stage exited, restarting'* ]]
	# The other ingest still owns its socket and its pid file.
	alive "$other"
	test -S "$TMP/run/ingest.sock"
	[ "$(cat "$TMP/run/ingest.pid")" = "$other" ]
	printf 'status\n' | timeout 5 nc -U -q 1 "$TMP/run/ingest.sock" | grep -q binance
	# Once it is gone, a stale socket file is no obstacle.
	kill -9 "$other"
	wait_until 5 bash -c "! kill -0 $other 2>/dev/null"
	test -S "$TMP/run/ingest.sock"
	start_node
	wait_until 10 pid_alive_file "$TMP/run/ingest.pid" "$other"
}

@test "supervisor: a stage that exits 2 at run time stops the node with status 2, not a restart loop" {
	mkdir -p "$TMP/bin"
	for t in "$BIN"/*; do ln -s "$t" "$TMP/bin/"; done
	# A distribute whose --check passes but which finds its configuration wrong once it runs.
	rm "$TMP/bin/distribute"
	cat >"$TMP/bin/distribute" <<-'EOF'
		#!/bin/sh
		for a; do [ "$a" = --check ] && exit 0; done
		echo "distribute: configuration refused at start" >&2
		exit 2
	EOF
	chmod +x "$TMP/bin/distribute"
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	port=$(free_port)
	run timeout 30 env ZOOKEEPER_CONNECT='' EXCHANGES=binance:BTC-USDT CHANNELS=trade \
		EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" RUN_DIR="$TMP/run" PORT="$port" BIND=127.0.0.1 \
		BIN="$TMP/bin" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'level=error tool=exchanged msg="stage exited with a configuration error, stopping the node" stage=distribute status=2'* ]]
	[[ "$output" == *'level=error tool=exchanged msg="stopped: a stage'"'"'s configuration is wrong" stage=distribute'* ]]
	[[ "$output" != *'stage exited, restarting'* ]]
	# Every other stage was stopped with it.
	for s in ingest convert serve; do
		p=$(cat "$TMP/run/$s.pid" 2>/dev/null) || continue
		if kill -0 "$p" 2>/dev/null; then return 1; fi
	done
}

@test "supervisor: --check refuses a bad CA file, -X property or ZooKeeper string, naming the option" {
	make_certs
	run "$BIN/ingest" -x binance --ca /nonexistent --check
	[ "$status" -eq 2 ]
	[ "$output" = "ingest: --ca /nonexistent: No such file or directory" ]
	run "$BIN/ingest" -x binance --ca "$TMP/tls/ca.key" --check
	[ "$status" -eq 2 ]
	[ "$output" = "ingest: --ca $TMP/tls/ca.key: holds no PEM certificate" ]
	run "$BIN/ingest" -x binance --ca "$TMP/tls/ca.crt" --check
	[ "$status" -eq 0 ]
	run "$BIN/distribute" -X no.such.property=1 --check
	[ "$status" -eq 2 ]
	[ "$output" = 'distribute: -X no.such.property=1: No such configuration property: "no.such.property"' ]
	run "$BIN/distribute" -X linger.ms=soon --check
	[ "$status" -eq 2 ]
	[[ "$output" == 'distribute: -X linger.ms=soon: Invalid value for configuration property'* ]]
	# Refused only when a client is made from the whole configuration.
	run "$BIN/distribute" --kafka 127.0.0.1:9 -X security.protocol=sasl_plaintext -X sasl.mechanisms=NOPE --check
	[ "$status" -eq 2 ]
	[ "$output" = "distribute: -X: Unsupported SASL mechanism: NOPE" ]
	run "$BIN/distribute" --kafka 127.0.0.1:9 -X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN --check
	[ "$status" -eq 2 ]
	[ "$output" = "distribute: -X: sasl.username and sasl.password must be set" ]
	run "$BIN/distribute" --kafka 127.0.0.1:9 -X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN \
		-X sasl.username=relay -X sasl.password=secret --check
	[ "$status" -eq 0 ]
	for zk in localhost zk1:2181,,zk2:2181 zk1:0 'zk1:2181,' "zk 1:2181" zk1:2181/relay/; do
		run "$BIN/elect" --zk "$zk" --node-id a --url ws://a --check
		[ "$status" -eq 2 ]
		[[ "$output" == 'elect: --zk: "'*'; the form is HOST:PORT[,HOST:PORT]...[/CHROOT]' ]]
	done
	# The syntax alone: no server needs to answer.
	run "$BIN/elect" --zk '127.0.0.1:9,[::1]:9' --node-id a --url ws://a --check
	[ "$status" -eq 2 ]
	run "$BIN/elect" --zk 127.0.0.1:9,zk-2.example:2181/relay --node-id a --url ws://a --check
	[ "$status" -eq 0 ]
	# The supervisor runs each --check before it starts anything.
	port=$(free_port)
	run timeout 20 env CA_FILE=/nonexistent RUN_DIR="$TMP/run" PORT="$port" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'msg="bad configuration for ingest" detail="ingest: --ca /nonexistent: No such file or directory'* ]]
	run timeout 20 env DISTRIBUTE_ARGS="-X no.such.property=1" RUN_DIR="$TMP/run" PORT="$port" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'msg="bad configuration for distribute" detail="distribute: -X no.such.property=1: No such configuration property'* ]]
	run timeout 20 env ZOOKEEPER_CONNECT=zk1:2181,,zk2:2181 RUN_DIR="$TMP/run" PORT="$port" "$ROOT/scripts/exchanged"
	[ "$status" -eq 2 ]
	[[ "$output" == *'msg="bad configuration for elect" detail="elect: --zk: \"\" is not HOST:PORT'* ]]
	[ -z "$(find "$TMP/run" -name '*.pid')" ]
}

@test "supervisor: Ctrl-C in a terminal (SIGINT to the node's process group) stops it without a restart" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	port=$(free_port)
	# setsid (in start): the node leads a process group, as a foreground job in a terminal,
	# and takes SIGINT as one does (a background job starts ignoring it).
	# shellcheck disable=SC2016,SC2046 # perl's code; node_env's words are assignments
	start node perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' env $(node_env "$port" "$TMP/run") "$ROOT/scripts/exchanged"
	node=$LAST_PID
	for s in ingest convert distribute serve; do wait_until 10 test -s "$TMP/run/$s.pid"; done
	stages=$(stage_pids "$TMP/run")
	wait_until 10 grep -q 'tool=ingest msg="connected"' "$TMP/node.err"
	kill -INT -- "-$node"
	wait_until 15 demo_stopped "$node" "$stages"
	grep -q 'tool=exchanged msg="stopped"' "$TMP/node.err"
	[ "$(count "$TMP/node.err" 'stage exited')" = 0 ]
}


# fake_apt DIR: dpkg-query that finds nothing installed and an apt-get that records what it
# was asked to install (in DIR/installed), first in PATH.
fake_apt() {
	mkdir -p "$1"
	printf '#!/bin/sh\nexit 1\n' >"$1/dpkg-query"
	# shellcheck disable=SC2016 # the fake's own code
	printf '#!/bin/sh\n[ "$1" = install ] && shift 4 && echo "$@" >>"%s/installed"\nexit 0\n' "$1" >"$1/apt-get"
	printf '#!/bin/sh\necho 0\n' >"$1/id"
	chmod +x "$1"/*
}

@test "make run and make demo install only what a node needs; make deps everything" {
	fake_apt "$TMP/apt"
	PATH="$TMP/apt:$PATH" "$ROOT/scripts/install-deps" run
	run cat "$TMP/apt/installed"
	for p in gcc make libwebsockets-dev librdkafka-dev libzookeeper-mt-dev libcjson-dev libssl-dev ca-certificates; do
		[[ " $output " == *" $p "* ]]
	done
	for p in chromium zookeeper default-jre-headless nginx prometheus clang bats nodejs kcat; do
		[[ " $output " != *" $p "* ]]
	done
	rm "$TMP/apt/installed"
	PATH="$TMP/apt:$PATH" "$ROOT/scripts/install-deps"
	run cat "$TMP/apt/installed"
	for p in gcc libwebsockets-dev chromium zookeeper default-jre-headless nginx prometheus clang bats shellcheck; do
		[[ " $output " == *" $p "* ]]
	done
	# The make targets: run and demo ask for the node's packages, the test targets for all.
	for t in run demo; do
		make -n -C "$ROOT" "$t" | grep -qx 'scripts/install-deps run'
	done
	for t in deps test asan tsan bench; do
		make -n -C "$ROOT" "$t" | grep -qx 'scripts/install-deps'
	done
}

# demo_stopped: the demo and every stage it ran are gone.
demo_stopped() {
	! kill -0 "$1" 2>/dev/null || return 1
	for p in $2; do ! kill -0 "$p" 2>/dev/null || return 1; done
}

# listens_on PORT: the addresses listening on TCP PORT, as /proc/net/tcp writes them
# (IPv4 127.0.0.1 is 0100007F, every address 00000000).
listens_on() {
	local hex
	printf -v hex '%04X' "$1"
	awk -v p=":$hex" '$4 == "0A" && $2 ~ p"$" { print $2 }' /proc/net/tcp /proc/net/tcp6
}

@test "make run and make demo listen on 127.0.0.1 unless BIND says otherwise, and print the address" {
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	PORT=$(free_port)
	RUN_DIR="$TMP/run" PORT=$PORT EXCHANGES=binance:BTC-USDT EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" \
		start run env -u BIND "$ROOT/scripts/run"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	grep -qx "run: open http://127.0.0.1:$PORT/ (listening on 127.0.0.1 port $PORT; Ctrl-C stops)" "$TMP/run.out"
	[ "$(listens_on "$PORT")" = "$(printf '0100007F:%04X' "$PORT")" ]
	kill -TERM "$(pid_of run)"
	wait_until 15 demo_stopped "$(pid_of run)" ""

	PORT=$(free_port)
	RUN_DIR="$TMP/run-demo" PORT=$PORT start demo env -u BIND "$ROOT/scripts/demo"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	grep -qx "demo: open http://127.0.0.1:$PORT/ (listening on 127.0.0.1 port $PORT; Ctrl-C stops)" "$TMP/demo.out"
	[ "$(listens_on "$PORT")" = "$(printf '0100007F:%04X' "$PORT")" ]
	kill -TERM "$(pid_of demo)"
	wait_until 15 demo_stopped "$(pid_of demo)" ""

	# BIND=0.0.0.0 exposes it, and the address printed is one a browser here can open.
	PORT=$(free_port)
	RUN_DIR="$TMP/run-demo2" PORT=$PORT BIND=0.0.0.0 start demo2 "$ROOT/scripts/demo"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	grep -qx "demo: open http://localhost:$PORT/ (listening on 0.0.0.0 port $PORT; Ctrl-C stops)" "$TMP/demo2.out"
	[ "$(listens_on "$PORT")" = "$(printf '00000000:%04X' "$PORT")" ]
}

@test "demo: Ctrl-C and SIGTERM stop it without a restart" {
	for how in INT TERM; do
		rm -rf "$TMP/run"
		PORT=$(free_port)
		# setsid (in start): the demo leads a process group, as a job does in a terminal,
		# and takes SIGINT as a foreground job does (a background one starts ignoring it).
		# shellcheck disable=SC2016 # perl's code, not the shell's
		RUN_DIR="$TMP/run" PORT=$PORT start demo-$how perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' \
			"$ROOT/scripts/demo"
		demo=$LAST_PID
		wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
		for s in ingest convert distribute serve; do wait_until 10 test -s "$TMP/run/$s.pid"; done
		stages=$(stage_pids "$TMP/run")
		if [ "$how" = INT ]; then
			kill -INT -- "-$demo" # Ctrl-C: SIGINT to the terminal's foreground process group
		else
			kill -TERM "$demo"
		fi
		wait_until 15 demo_stopped "$demo" "$stages"
		grep -q 'tool=exchanged msg="stopped"' "$TMP/demo-$how.err"
		[ "$(count "$TMP/demo-$how.err" 'stage exited')" = 0 ]
	done
}
