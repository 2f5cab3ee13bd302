#!/usr/bin/env bats
# serve's access control: signed tokens, origins, per-address limits, admin endpoints.
# Every rejection is an HTTP status before the upgrade: a refused client receives nothing.

load helpers

setup() {
	setup_tmp
	head -c 32 /dev/urandom | base64 >"$TMP/secret"
	head -c 32 /dev/urandom | base64 >"$TMP/other-secret"
}
teardown() {
	exec 8>&- 2>/dev/null
	teardown_tmp
}

# rejected_with STATUS ARGS...: a client with ARGS is refused with STATUS and gets nothing.
rejected_with() {
	local want=$1
	shift
	run "$BIN/wsclient" --exit-on-close --connect-timeout 5000 --duration 10000 --stats "$TMP/rej.json" "$@"
	[[ "$output" == *"rejected client=0 status=$want"* ]] || { echo "$output"; return 1; }
	jq -e '.messages == 0' "$TMP/rej.json" >/dev/null
}

@test "tokens: none, forged, expired, not HS256 -> 401 and nothing received; valid ones work" {
	start_serve --auth-secret "$TMP/secret"
	line ticker upbit BTC-KRW 1 | feed # cached: a connected client would get it at once
	wait_until 10 bash -c "curl -fs http://127.0.0.1:$PORT/metrics | grep -q '^exchange_serve_cached_streams 1'"
	rejected_with 401 "$WS"
	rejected_with 401 "$WS?token=$("$ROOT/scripts/mint-token" "$TMP/other-secret")"
	rejected_with 401 "$WS?token=$("$ROOT/scripts/mint-token" "$TMP/secret" --ttl -10)"
	rejected_with 401 "$WS?token=garbage.garbage.garbage"
	good=$("$ROOT/scripts/mint-token" "$TMP/secret" --sub alice --ttl 60)
	# A valid signature over an altered payload is refused too.
	forged="${good%%.*}.$(printf '{"sub":"mallory","exp":9999999999}' | openssl base64 -A | tr '+/' '-_' | tr -d '=').${good##*.}"
	rejected_with 401 "$WS?token=$forged"
	run "$BIN/wsclient" --count 1 "$WS?token=$good"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"ticker"'* ]]
	run "$BIN/wsclient" --count 1 -H "Authorization: Bearer $good" "$WS?types=ticker"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"ticker"'* ]]
	[ "$(serve_metric 'exchange_serve_rejected_total{reason="auth"}')" -eq 5 ]
}

# b64url: standard input as base64url without padding.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# sign PAYLOAD [HEADER]: a token over PAYLOAD (JSON text) signed with $TMP/secret, as
# scripts/mint-token does (the secret is the file's text without its trailing newline).
sign() {
	local hdr='{"alg":"HS256","typ":"JWT"}' h p key
	[ $# -lt 2 ] || hdr=$2
	h=$(printf '%s' "$hdr" | b64url)
	p=$(printf '%s' "$1" | b64url)
	key=$(printf '%s' "$(cat "$TMP/secret")" | od -An -v -tx1 | tr -d ' \n')
	printf '%s.%s.%s' "$h" "$p" "$(printf '%s' "$h.$p" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | b64url)"
}

@test "tokens: claims are checked strictly (nbf, numeric exp and iat), and the encoding too" {
	start_serve --auth-secret "$TMP/secret"
	local now exp good
	now=$(date +%s)
	exp=$((now + 600))
	good=$(sign "{\"sub\":\"a\",\"exp\":$exp}")
	run "$BIN/wsclient" --count 1 -s '{"op":"ping"}' "$WS?token=$good"
	[[ "$output" == *'"type":"pong"'* ]]
	# validly signed, but not yet valid, or with times that are not numbers
	rejected_with 401 "$WS?token=$(sign "{\"exp\":$exp,\"nbf\":$((now + 3600))}")"
	rejected_with 401 "$WS?token=$(sign "{\"exp\":\"$exp\"}")"
	rejected_with 401 "$WS?token=$(sign "{\"exp\":$exp.5}")"
	rejected_with 401 "$WS?token=$(sign "{\"exp\":$exp,\"nbf\":\"0\"}")"
	rejected_with 401 "$WS?token=$(sign "{\"exp\":$exp,\"iat\":$((now + 3600))}")"
	rejected_with 401 "$WS?token=$(sign "[{\"exp\":$exp}]")"
	# the signature in anything but its one canonical encoding
	rejected_with 401 "$WS?token=${good}="
	rejected_with 401 "$WS?token=${good}=junk"
	rejected_with 401 "$WS?token=${good}junk"
	rejected_with 401 "$WS?token=${good}.x"
	# the last of the 43 characters of a 32-byte signature ends in 2 bits that must be 0
	local last=${good: -1} alt
	alt=$(printf '%s' "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" |
		awk -v c="$last" '{ i = index($0, c) - 1; printf "%s", substr($0, i - i % 4 + 1 + (i % 4 == 0), 1) }')
	[ "$alt" != "$last" ]
	rejected_with 401 "$WS?token=${good%?}$alt"
	# nbf and iat in the past are fine
	run "$BIN/wsclient" --count 1 -s '{"op":"ping"}' "$WS?token=$(sign "{\"exp\":$exp,\"nbf\":$((now - 10)),\"iat\":$((now - 10))}")"
	[[ "$output" == *'"type":"pong"'* ]]
	[ "$(serve_metric 'exchange_serve_rejected_total{reason="auth"}')" -eq 11 ]
	# a header that is not HS256, validly signed
	rejected_with 401 "$WS?token=$(sign "{\"exp\":$exp}" '{"alg":"none"}')"
}

@test "origins: an unlisted browser origin gets 403; listed origins and programs get through" {
	start_serve --allow-origin https://relay.example --allow-origin http://localhost:8080
	rejected_with 403 -H "Origin: https://evil.example" "$WS"
	start ok1 "$BIN/wsclient" -H "Origin: https://relay.example" "$WS"
	start ok2 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 2
	[ "$(serve_metric 'exchange_serve_rejected_total{reason="origin"}')" -eq 1 ]
}

@test "per-address limit: beyond --max-per-ip the upgrade gets 429; a freed slot is reusable" {
	start_serve --max-per-ip 2
	start c1 "$BIN/wsclient" "$WS"
	start c2 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 2
	rejected_with 429 "$WS"
	kill "$(pid_of c1)"
	wait_until 10 serve_clients_eq 1
	start c3 "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 2
}

@test "admin endpoints: /metrics and /api/status only from allowed networks or with an admin token" {
	start_serve --admin-allow 10.0.0.0/8 --auth-secret "$TMP/secret"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" = 403 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/status")" = 403 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ]
	user=$("$ROOT/scripts/mint-token" "$TMP/secret")
	admin=$("$ROOT/scripts/mint-token" "$TMP/secret" --admin)
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $user" "http://127.0.0.1:$PORT/metrics")" = 403 ]
	curl -fs -H "Authorization: Bearer $admin" "http://127.0.0.1:$PORT/metrics" | grep -q '^exchange_serve_admin_rejected_total 3$'
	exec 8>&-
	kill "$(pid_of serve)"
	wait "$(pid_of serve)" || true
	start_serve --admin-allow 127.0.0.0/8
	curl -fs "http://127.0.0.1:$PORT/api/status" | jq -e '.node' >/dev/null
}

@test "configuration: a missing or short secret is a configuration error" {
	run "$BIN/serve" --auth-secret "$TMP/nope" --check
	[ "$status" -eq 2 ]
	printf 'short\n' >"$TMP/short"
	run "$BIN/serve" --auth-secret "$TMP/short" --check
	[ "$status" -eq 2 ]
	run "$BIN/serve" --admin-allow not-a-network --check
	[ "$status" -eq 2 ]
	run "$BIN/serve" --auth-secret "$TMP/secret" --check
	[ "$status" -eq 0 ]
}
