"""A Python call chain with known shares, for unwinding through CPython's
perf trampolines (python3.12+ -X perf): main -> outer -> middle, which
spends about 3/4 of its time in leaf_a and 1/4 in leaf_b. Runs for the
CPU seconds given (default 3) and prints its pid first."""
import os
import sys
import time


def leaf_a(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def leaf_b(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def middle():
    return leaf_a(30000) + leaf_a(30000) + leaf_a(30000) + leaf_b(30000)


def outer(seconds):
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        middle()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print(f"py-chain: ready pid {os.getpid()}", flush=True)
    outer(seconds)


main()
