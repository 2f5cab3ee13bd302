#!/usr/bin/env bats
# The web UI in a real headless chromium, served by the demo pipeline (fake exchanges
# replaying the bundled recordings -> exchanged).

load helpers

setup() {
	setup_tmp
	mkdir -p "$ROOT/tests/out"
}
teardown() { teardown_tmp; }

start_demo() {
	PORT=$(free_port)
	RUN_DIR="$TMP/run" PORT=$PORT BIND=127.0.0.1 start demo "$ROOT/scripts/demo"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	# Wait until serve has cached tickers of both exchanges, which a new page gets at once.
	wait_until 20 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | awk '\$1 == \"exchange_serve_cached_streams\" && \$2 >= 10 { ok = 1 } END { exit !ok }'"
}

@test "browser: the monitor fills with live prices from both exchanges" {
	[ -x /usr/bin/chromium ] || { echo "chromium is not installed (make deps)"; return 1; }
	start_demo
	"$ROOT/tests/tools/browser-check" "http://127.0.0.1:$PORT/" "$TMP/page" 5000
	cp "$TMP/page/screenshot.png" "$ROOT/tests/out/monitor.png"
	dom=$TMP/page/dom.html
	# Rows for streams of both exchanges, each with a last price that is a number.
	for stream in 'data-exchange="binance" data-symbol="BTC-USDT"' 'data-exchange="upbit" data-symbol="BTC-KRW"' \
		'data-exchange="upbit" data-symbol="USDT-KRW"'; do
		row=$(grep -o "<tr[^>]*$stream[^>]*>.*" "$dom" | sed 's#</tr>.*##')
		[ -n "$row" ] || { echo "no row for $stream"; return 1; }
		last=$(echo "$row" | grep -o '<td[^>]*class="[^"]*\blast\b[^"]*"[^>]*>[^<]*' | sed 's/.*>//' | tr -d ', ')
		[[ "$last" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "last price of $stream is '$last'"; return 1; }
	done
	[ "$(grep -o '<tr[^>]*data-exchange=' "$dom" | wc -l)" -ge 9 ]
	grep -q 'id="conn"[^>]*data-state="connected"' "$dom"
	[ -s "$ROOT/tests/out/monitor.png" ]
}

@test "browser: the dashboard shows role, mode and clients from /api/status" {
	[ -x /usr/bin/chromium ] || { echo "chromium is not installed (make deps)"; return 1; }
	start_demo
	BROWSER_CHECK_WAIT_MS=2500 "$ROOT/tests/tools/browser-check" "http://127.0.0.1:$PORT/#dashboard" "$TMP/dash"
	cp "$TMP/dash/screenshot.png" "$ROOT/tests/out/dashboard.png"
	dom=$TMP/dash/dom.html
	grep -q 'id="dash-role"[^>]*>leader<' "$dom"
	grep -q 'id="dash-mode"[^>]*>direct<' "$dom"
	grep -Eq 'id="dash-clients"[^>]*>[1-9][0-9]*<' "$dom"
}
