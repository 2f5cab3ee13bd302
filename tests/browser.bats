#!/usr/bin/env bats
# The web page in a real headless chromium, driven over the DevTools protocol by
# tests/tools/browser-run with the scenarios of tests/tools/browser/monitor.js, against the
# demo pipeline (fake Binance and Upbit replaying the bundled recordings -> exchanged), or
# against serve alone for lines today's feeds do not send. Every run also fails when the
# page throws or logs an error. Screenshots (1400x900, 390x844) go to $TMP/page; KEEP_TMP=1
# keeps them, passed or not.

load helpers

setup() {
	[ -x /usr/bin/chromium ] || { echo "chromium is not installed (make deps)"; return 1; }
	command -v node >/dev/null || { echo "node is not installed (make deps: nodejs, node-ws)"; return 1; }
	setup_tmp
}
teardown() {
	if [ -n "${KEEP_TMP:-}" ] && [ -d "${TMP:-}/page" ]; then
		echo "# screenshots kept in $TMP/page" >&3
		BATS_TEST_COMPLETED="" teardown_tmp
	else
		teardown_tmp
	fi
}

start_demo() {
	PORT=$(free_port)
	RUN_DIR="$TMP/run" PORT=$PORT BIND=127.0.0.1 start demo "$ROOT/scripts/demo"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	# serve has the latest ticker and book of all nine markets, which a new page gets at once.
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | awk '\$1 == \"exchange_serve_cached_streams\" && \$2 >= 18 { ok = 1 } END { exit !ok }'"
}

# The demo with /metrics, /api/status and /api/events refused to this host.
start_demo_restricted() {
	PORT=$(free_port)
	RUN_DIR="$TMP/run" PORT=$PORT BIND=127.0.0.1 start demo "$ROOT/scripts/demo"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	wait_until 20 grep -q '^exchange_serve_cached_streams 2[0-9]' "$TMP/run/serve.prom"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/events")" = 403 ]
}

# page SCENARIO [browser-run options] -- [ARGS...]: runs a scenario of $SCENARIOS
# (default monitor.js in tests/tools/browser) on the page at $PORT.
page() {
	local scenario=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	"$ROOT/tests/tools/browser-run" --out "$TMP/page" "${opts[@]}" "http://127.0.0.1:$PORT/" \
		"$ROOT/tests/tools/browser/${SCENARIOS:-monitor.js}" "$scenario" "$@"
}

# serve alone, reading $TMP/serve.in (a FIFO this shell also holds open on fd 8, so a
# writer that comes and goes is never an end of input).
start_serve_fifo() {
	PORT=$(free_port)
	mkfifo "$TMP/serve.in"
	exec 8<>"$TMP/serve.in"
	start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/serve.in"
	echo "$LAST_PID" >"$TMP/serve.cur"
	wait_until 10 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
}

@test "browser: markets of both exchanges with spread, range, volumes in units, sparklines; search and watchlist" {
	start_demo
	page monitor
	[ -s "$TMP/page/monitor-1400x900.png" ]
}

@test "browser: a click opens the order book: 20 levels a side, cumulative, depth bars, spread, mid, age, live" {
	start_demo
	page book
	[ -s "$TMP/page/book-1400x900.png" ]
}

@test "browser: one formatter: the same price reads the same in the table, the book, the tape and the cross view" {
	start_demo
	page numbers -- "$TMP/run"
}

@test "browser: a page opened late shows each feed's state from serve's cache" {
	start_demo
	# Long after the feeds' connected lines went by.
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/api/status | jq -e '.uptime_s > 8' >/dev/null"
	page late
}

@test "browser: a stopped feed dims its rows within the 10 s threshold, the banner names it, data clears both" {
	start_demo
	page stale -- "$TMP/run"
	[ -s "$TMP/page/stale-1400x900.png" ]
}

@test "browser: a lost connection dims every row without a blank, and the page reconnects by itself" {
	start_demo
	page reconnect --allow 'WebSocket connection to .* failed' --allow 'ERR_CONNECTION_REFUSED' -- "$TMP/run"
}

@test "browser: the trade tape pauses (button and hover) and filters by symbol and minimum value" {
	start_demo
	page tape
}

@test "browser: on a phone (390x844) nothing overflows, the tape shows full symbols, the book opens" {
	start_demo
	page mobile --size 390,844
	[ -s "$TMP/page/monitor-390x844.png" ]
	[ -s "$TMP/page/book-390x844.png" ]
}

@test "browser: the cross view has the age of every price and the premium's history" {
	start_demo
	page cross
	[ -s "$TMP/page/cross-1400x900.png" ]
}

@test "browser: the dashboard of a standalone node says Kafka and elect are not configured" {
	start_demo
	page dashboard
}

@test "browser: the Events page lists a feed's disconnection and reconnection, newest first, with filters and counts per hour" {
	start_demo
	page events -- "$TMP/run"
	[ -s "$TMP/page/events-1400x900.png" ]
}

@test "browser: where serve restricts /api/events, the Events page lists the status lines the page saw" {
	SERVE_ARGS="--admin-allow 10.0.0.0/8" start_demo_restricted
	page restricted --allow 'status of 403'
}

@test "browser: perps and futures after their spot market with mark, basis, funding and countdown, OI; their book; liquidations on the tape; cross view; a dashboard row per venue; type filters" {
	start_serve_fifo
	SCENARIOS=perps.js page desktop -- "$TMP/serve.in"
	exec 8>&-
	for shot in perps perps-book perps-cross perps-dashboard; do [ -s "$TMP/page/$shot-1400x900.png" ]; done
}

@test "browser: perps on a phone (390x844): funding over its countdown, nothing overflows, symbols whole, the perp's book and the cross view" {
	start_serve_fifo
	SCENARIOS=perps.js page phone --size 390,844 -- "$TMP/serve.in"
	exec 8>&-
	for shot in perps perps-book perps-cross; do [ -s "$TMP/page/$shot-390x844.png" ]; done
}

@test "browser: stream positions resumed after a restart of serve, gaps noted" {
	start_serve_fifo
	# Restarts serve on the same port: SIGTERM (clients get 1001), then a new one.
	cat >"$TMP/restart" <<-EOF
		#!/bin/sh
		old=\$(cat '$TMP/serve.cur')
		kill -TERM "\$old"
		while kill -0 "\$old" 2>/dev/null; do sleep 0.05; done
		setsid '$BIN/serve' --port $PORT --bind 127.0.0.1 --input '$TMP/serve.in' >'$TMP/serve2.out' 2>'$TMP/serve2.err' </dev/null &
		echo "\$! serve2" >>'$PIDS_FILE'
		echo \$! >'$TMP/serve.cur'
	EOF
	chmod +x "$TMP/restart"
	page synthetic --allow 'WebSocket connection to .* failed' --allow 'ERR_CONNECTION_REFUSED' -- "$TMP/serve.in" "$TMP/restart"
	exec 8>&-
}
