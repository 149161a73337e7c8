# shellcheck shell=bash
# split_into NAME STRING: set the array NAME to the words of STRING as a shell would split them
# (quotes kept: -k "a or b" is one word; an empty '' is a word), by Python's shlex, never eval.
# A STRING that does not parse (an unclosed quote) ends the calling script: one line, exit 2.
# Needs bash >= 4.4 (mapfile -d, namerefs); sourced by scripts/nightly.sh.
if [ "${BASH_VERSINFO[0]}" -lt 4 ] || { [ "${BASH_VERSINFO[0]}" -eq 4 ] && [ "${BASH_VERSINFO[1]}" -lt 4 ]; }; then
    echo "nightly: needs bash >= 4.4 (this is bash $BASH_VERSION)" >&2
    exit 2
fi

split_into() {
    local -n _words=$1
    local tmp
    tmp=$(mktemp)
    if ! python -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' \
        "$2" >"$tmp" 2>/dev/null; then
        rm -f "$tmp"
        echo "nightly: cannot split $1 into options (an unclosed quote?): $2" >&2
        exit 2
    fi
    mapfile -d '' -t _words <"$tmp"
    rm -f "$tmp"
}
