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
  # Drop absl's "Flags from <file>" lines and the trailing --helpfull hint.
  "$1" --help 2>&1 | grep -v '^  Flags from ' |
    sed '/^Try --helpfull/,$d' | cat -s | sed '${/^$/d}'
}

# aimsctl (CLI11): the commands that `aimsctl [COMMAND...] --help` lists
# under "Subcommands:", one per line, groups (nc, plan, ...) expanded.
ctl_commands() {
  local ctl="$1"
  shift
  local sub
  for sub in $("$ctl" "$@" --help | awk '/^Subcommands:/ {on = 1; next}
      on && /^$/ {exit} on && /^  [a-z]/ {print $1}'); do
    echo "$* $sub" | sed 's/^ //'
    ctl_commands "$ctl" "$@" "$sub"
  done
}

# aimsctl's help and that of each of its commands (exits 0, on stdout).
ctl_reference() {
  local ctl="$1" command
  echo
  echo "## \`aimsctl\`"
  echo
  echo '```text'
  "$ctl" --help
  echo '```'
  ctl_commands "$ctl" | while read -r command; do
    echo
    echo "### \`aimsctl $command\`"
    echo
    echo '```text'
    # shellcheck disable=SC2086  # words of the command
    "$ctl" $command --help
    echo '```'
  done
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
  for bin in collector/aims-collector agent/aims-agent; do
    name=$(basename "$bin")
    echo
    echo "## \`$name\`"
    echo
    echo '```text'
    help_of "$build/$bin"
    echo '```'
  done
  ctl_reference "$build/ctl/aimsctl"
} > "$out"
