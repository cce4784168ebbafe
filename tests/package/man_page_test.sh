#!/usr/bin/env bash
# The man page and the bash completion kept true: every option that `mediabatch COMMAND --help`
# lists is in doc/mediabatch.1 and among the completion's options for that command; the page
# renders without a warning; the completion completes commands, options and option values.
# Usage: man_page_test.sh MEDIABATCH SOURCE_DIR
set -euo pipefail
mb=$1
src=$2
page=$src/doc/mediabatch.1
completion=$src/doc/mediabatch.bash-completion
command -v man >/dev/null || { echo "man_page_test: man is missing (scripts/install-deps.sh)" >&2; exit 1; }
status=0
fail() { echo "man_page_test: $*" >&2; status=1; }

# The page as plain text, with roff's \- as -.
text=$(sed 's/\\-/-/g' "$page")
# shellcheck source=/dev/null
source "$completion"
for command in exec convert thumbs video dicom flac; do
  options=$("$mb" "$command" --help | grep -oE '^ +(-[a-zA-Z0-9],)?--[a-z0-9-]+' | tr ',' '\n' | tr -d ' ' | sort -u)
  [ -n "$options" ] || fail "$command --help lists no options"
  completes=" $(_mediabatch_options "$command" | tr -s ' \n' ' ') "
  for option in $options; do
    grep -qE -- "(^|[ \"])$option([ \"]|$)" <<<"$text" || fail "$command $option is not in doc/mediabatch.1"
    [[ $completes == *" $option "* ]] || fail "$command $option is not completed (doc/mediabatch.bash-completion)"
  done
  grep -qE -- "^\.B $command$" <<<"$text" || fail "the command $command has no entry in doc/mediabatch.1"
done

warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
[ -z "$warnings" ] || fail "man -l warns: $warnings"
MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "COMMON OPTIONS" || fail "man -l renders no COMMON OPTIONS"

complete_line() {  # complete_line WORD... (the last one being completed): prints the candidates
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  _mediabatch
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() {  # expect GOT WANT
  [ "$1" = "$2" ] || fail "completion: got '$1', want '$2'"
}
expect "$(complete_line mediabatch fl)" "flac "
expect "$(complete_line mediabatch video --deint)" "--deinterlace "
expect "$(complete_line mediabatch video --deinterlace "")" "auto off on "
expect "$(complete_line mediabatch thumbs --format "")" "jpg png webp "
expect "$(complete_line mediabatch video --format "")" "mkv ogv "
expect "$(complete_line mediabatch dicom -j 2 --window "")" "file minmax "
expect "$(complete_line mediabatch flac --order i)" "input "
expect "$(complete_line mediabatch report m)" "merge "
expect "$(complete_line mediabatch exec -j 2 -- bas)" "$(compgen -c -- bas | sort | tr '\n' ' ')"
[ $status = 0 ] && echo "man_page_test: ok"
exit $status
