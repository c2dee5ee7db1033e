#!/usr/bin/env bash
# `--help` of every binary: exit 0, the binary's main flags listed, and
# nothing of the machine that built it - no source or build directory, no
# absl "Flags from <file>:" headings, no absl warning about a missing usage
# message. --helpfull (absl binaries) is checked for paths too.
#   help_test.sh SOURCE_DIR BUILD_DIR BINARY:FLAG,FLAG... ...
set -uo pipefail
source_dir="$1" build_dir="$2"
shift 2
failed=0
fail() { echo "FAIL $*"; failed=1; }
for spec in "$@"; do
  bin="${spec%%:*}" flags="${spec#*:}"
  modes=(--help)
  [ "$(basename "$bin")" != aimsctl ] && modes+=(--helpfull)
  for mode in "${modes[@]}"; do
    if ! help=$("$bin" "$mode" 2>&1); then fail "$bin $mode exits non-zero"; fi
    for bad in "$source_dir" "$build_dir" "Flags from " SetProgramUsageMessage; do
      if grep -qF -- "$bad" <<<"$help"; then
        fail "$bin $mode prints '$bad':"
        grep -nF -- "$bad" <<<"$help" | head -3
      fi
    done
    IFS=, read -ra wanted <<<"$flags"
    for flag in "${wanted[@]}"; do
      grep -qF -- "$flag" <<<"$help" || fail "$bin $mode does not list $flag"
    done
  done
  echo "ok $(basename "$bin")"
done
exit "$failed"
