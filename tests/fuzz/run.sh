#!/bin/sh
# A bounded libFuzzer run of one harness on its seed corpus (suite 'fuzz'
# of a -Dfuzz=true build): run.sh HARNESS CORPUS WORKDIR [DICT].
# New inputs go to WORKDIR/corpus, never to the seed corpus in the tree;
# a crashing input is kept as WORKDIR/crash-* and fails the test.
# FUZZ_SECONDS (default 20) bounds the run.  libFuzzer exits 77 on a
# crash by default, which meson counts as a skip: exit 1 instead.
set -eu
harness=$1
corpus=$2
work=$3
dict=${4:-}
rm -rf "$work"
mkdir -p "$work/corpus"
set -- -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
    -timeout=20 -max_len=65536 -print_final_stats=1 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -artifact_prefix="$work/" "$work/corpus" "$corpus"
[ -n "$dict" ] && set -- -dict="$dict" "$@"
exec "$harness" "$@"
