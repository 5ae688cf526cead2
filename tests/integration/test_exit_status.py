"""The launched-command form reports the command's exit status on stderr."""
import re

from cprof_test import Test


def body(t):
    r, f = t.record_ok(["-F", "499", "--", t.workload("hot"), "1", "3"],
                       t.path("status3.folded"))
    t.check(re.search(r"exited with status 3\b", r.stderr),
            "stderr says the command 'exited with status 3'", r.stderr)
    t.check(f.of("hot").with_frame("hot_a").total() > 0,
            "the profile of a command exiting 3 has hot_a", f.top())

    r, _ = t.record_ok(["-F", "99", "--", t.workload("hot"), "0.5"],
                       t.path("status0.folded"))
    t.check(not re.search(r"exited with status [1-9]", r.stderr),
            "a command exiting 0 is not reported as failing", r.stderr)


Test("exit-status").run(body)
