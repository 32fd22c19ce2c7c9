#!/usr/bin/awk -f
# awk -f tap_failures.awk FILE.tap: the failing tests of a node --test TAP
# file, one block each: name, location and the first lines of the error.
# Parents whose only failure is a subtest ("subtestsFailed") are left
# out: their subtest is listed.  A test made by a helper in another file
# (tests/browser/lib.mjs's steps) is located at the first line of its
# stack in a *.test.mjs file, where it failed.
function flush() {
    if (loc !~ /\.test\.mjs:/ && stackloc != "")
        loc = stackloc
    if (name != "" && type != "'subtestsFailed'")
        printf "FAILED %s%s\n%s", name, (loc != "" ? "  (" loc ")" : ""), err
    name = ""; type = ""; loc = ""; err = ""; inerr = 0; instack = 0
    stackloc = ""
}
/^ *not ok [0-9]+ - / {
    flush()
    name = $0; sub(/^ *not ok [0-9]+ - /, "", name)
    next
}
name == "" { next }
/^ *\.\.\.$/ { flush(); next }
/^ *location: / { loc = $0; sub(/^ *location: /, "", loc); gsub(/'/, "", loc); inerr = 0; next }
/^ *stack: / { instack = 1; inerr = 0; next }
instack && stackloc == "" && match($0, /[^ (]*\.test\.mjs:[0-9]+:[0-9]+/) {
    stackloc = substr($0, RSTART, RLENGTH)
    sub(/^file:\/\//, "", stackloc)
    next
}
/^ *[a-zA-Z_]+: / { instack = 0 }
/^ *failureType: / { type = $0; sub(/^ *failureType: /, "", type); inerr = 0; next }
/^ *error: / {
    line = $0; sub(/^ *error: /, "", line)
    if (line == "|-" || line == "|") {
        inerr = 1; nerr = 0; match($0, /^ */); errindent = RLENGTH
    }
    else err = "    " line "\n"
    next
}
inerr {
    match($0, /^ */)
    line = substr($0, RLENGTH + 1)
    if (line != "" && RLENGTH <= errindent) { inerr = 0; next }
    if (line != "" && nerr < 4) { err = err "    " substr(line, 1, 200) "\n"; nerr++ }
    next
}
END { flush() }
