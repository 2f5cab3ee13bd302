#!/usr/bin/env bats
# Fuzzing: the kept corpus and every crasher found so far replay without a crash (always),
# and a short libFuzzer run of every harness (bounded; `make fuzz` runs longer).

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

@test "fuzz: the corpus and kept crashers replay cleanly through every harness" {
	for h in normalize lines b64url; do
		files=("$ROOT"/tests/fuzz/corpus/"$h"/*)
		crashers=("$ROOT"/tests/fuzz/crashers/"$h"-*)
		[ -e "${crashers[0]}" ] || crashers=()
		run "$BIN/fuzz-$h" "${files[@]}" "${crashers[@]}"
		[ "$status" -eq 0 ]
		[[ "$output" == *"inputs replayed"* ]]
	done
}

@test "fuzz: a bounded libFuzzer run of every harness finds nothing" {
	command -v clang >/dev/null || { echo "clang is not installed (make deps)"; return 1; }
	before=$(ls "$ROOT/tests/fuzz/crashers" | wc -l)
	run make -C "$ROOT" -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
	echo "$output" | tail -5
	[ "$status" -eq 0 ]
	[ "$(ls "$ROOT/tests/fuzz/crashers" | wc -l)" -eq "$before" ]
}
