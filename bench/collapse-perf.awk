#!/usr/bin/awk -f
# Minimal collapse of `perf script -F comm,tid,ip,sym` output into folded
# stacks (comm;root;...;leaf COUNT), used by bench-record.py when cprof has
# no `collapse` command. A record is a header line ("comm tid") followed by
# one "addr sym" line per frame, leaf first, and a blank line.
function flush(   s, i) {
        if (comm == "")
                return
        s = comm
        for (i = n; i >= 1; i--)
                s = s ";" f[i]
        count[s]++
        comm = ""
        n = 0
}
/^[^ \t]/ || /^ +[^ \t]+ +[0-9]+ *$/ {
        flush()
        comm = $1
        n = 0
        next
}
/^[ \t]*$/ { flush(); next }
{
        sym = $2
        for (i = 3; i <= NF; i++)
                sym = sym " " $i
        if (sym == "")
                sym = "[unknown]"
        f[++n] = sym
}
END {
        flush()
        for (s in count)
                print s, count[s]
}
