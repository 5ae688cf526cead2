"""Return address minus one: caller_tail ends with a call, so the return
address is the first byte of decoy_next; cprof must name the caller
caller_tail, never decoy_next."""
import re
import subprocess

from cprof_test import Test


def check_layout(t, exe):
    """caller_tail's last instruction is a call and decoy_next starts right
    after it: otherwise the workload does not test what it should."""
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", exe],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"<caller_tail>:\n((?:\s+[0-9a-f]+:.*\n)+)\s*\n"
                  r"([0-9a-f]+) <decoy_next>:", dis)
    t.require(m, "objdump: decoy_next directly follows caller_tail")
    insns = [l.split(":", 1) for l in m.group(1).strip().splitlines()]
    last_addr, last = int(insns[-1][0], 16), insns[-1][1].split()
    t.require(last[0] == "call" and "spin_noreturn" in insns[-1][1],
              "objdump: caller_tail ends with `call spin_noreturn`",
              m.group(1))
    t.require(last_addr + 5 == int(m.group(2), 16),
              "objdump: the call's return address is decoy_next's first byte",
              m.group(0))


def body(t):
    exe = t.workload("retaddr")
    check_layout(t, exe)
    _, f = t.record_ok(["-F", "999", "--", exe, "2"], t.path("retaddr.folded"))
    t.check("decoy_next" not in f.frames(), "decoy_next never appears",
            "\n".join(";".join(s) for s, _ in f.with_frame("decoy_next").stacks))
    spin = f.with_frame("spin_noreturn")
    t.check(spin.total() >= 0.8 * f.total(), f"spin_noreturn in "
            f"{spin.total()} of {f.total()} samples", f.top())
    good = spin.where(lambda s: s[0] == "retaddr" and
                      "main;run;caller_tail;spin_noreturn" in ";".join(s)).total()
    t.check(good >= 0.99 * spin.total(),
            f"{good} of {spin.total()} spin_noreturn samples have "
            f"main;run;caller_tail;spin_noreturn", spin.top())


Test("retaddr").run(body)
