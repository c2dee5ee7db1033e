#!/usr/bin/env bash
# Writes docs/config-reference.md from the binaries' own --help, so the
# reference cannot drift from the code. ctest's docs.config_reference runs
# this into a temporary file and fails when the committed page differs.
#   scripts/gen-config-reference.sh BUILD_DIR [OUTPUT]   (default OUTPUT:
#   docs/config-reference.md)
set -euo pipefail
build="${1:?usage: gen-config-reference.sh BUILD_DIR [OUTPUT]}"
out="${2:-$(dirname "$0")/../docs/config-reference.md}"

help_of() {
  # Drop absl's "Flags from <source path>" lines (they name the build
  # machine's checkout) and the trailing --helpfull hint.
  # (--help exits 1 by absl's convention.)
  { "$1" --help 2>&1 || true; } | grep -v '^  Flags from ' |
    sed '/^Try --helpfull/,$d' | cat -s | sed '${/^$/d}'
}

{
  echo "# Configuration reference"
  echo
  echo "Generated from each binary's \`--help\` by"
  echo "\`scripts/gen-config-reference.sh\`; \`ctest -R docs.config_reference\`"
  echo "fails when this page and the binaries disagree. Every flag can also be"
  echo "set as \`AIMS_<FLAG>\` in the environment or as \`name = value\` lines in"
  echo "\`--config=FILE\`; the command line wins, then the environment, then the"
  echo "file. Durations are written like \`90s\`, \`10m\`, \`336h\`."
  for bin in collector/aims-collector agent/aims-agent ctl/aimsctl; do
    name=$(basename "$bin")
    echo
    echo "## \`$name\`"
    echo
    echo '```text'
    help_of "$build/$bin"
    echo '```'
  done
} > "$out"
