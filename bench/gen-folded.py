#!/usr/bin/env python3
"""Generate large, realistic profiles for benchmarks: folded stacks, or the
`perf script` text that folds to them.

The stacks grow as a tree from a few process roots, so neighbouring stacks
share long prefixes as real ones do; depths run up to --max-depth; names
mix C, long C++ template and namespace names (with arguments in the perf
script form, which `cprof collapse` strips), Rust-like paths and kernel
frames. The same --seed gives the same bytes.

  gen-folded.py --lines 50000 --seed 1 > big.folded
  gen-folded.py --lines 50000 --seed 1 --perturb 7 > big-after.folded
  gen-folded.py --lines 50000 --seed 1 --format perf-script > big.perf

--lines is the number of output lines: folded lines, or perf script lines
(headers, frames and blank lines together)."""
import argparse
import random
import sys

NAMESPACES = ['std', 'boost', 'absl', 'folly', 'grpc', 'app', 'app::detail', 'db::storage',
              'net::http', 'v8::internal', 'llvm', 'tensorflow::core']
TYPES = ['int', 'long', 'char const*', 'std::string', 'std::vector<int, std::allocator<int> >',
         'std::map<std::string, std::shared_ptr<Node>, std::less<std::string> >',
         'Request&', 'Response const&', 'unsigned long', 'double']
VERBS = ['process', 'handle', 'dispatch', 'encode', 'decode', 'parse', 'serialize', 'lookup',
         'insert', 'compact', 'flush', 'schedule', 'run', 'poll', 'read', 'write', 'hash',
         'compare', 'visit', 'transform']
NOUNS = ['Request', 'Batch', 'Row', 'Page', 'Frame', 'Token', 'Block', 'Entry', 'Message',
         'Segment', 'Node', 'Buffer', 'Stream', 'Index', 'Chunk']
KERNEL = ['entry_SYSCALL_64_after_hwframe', 'do_syscall_64', '__x64_sys_read', 'ksys_read',
          'vfs_read', 'new_sync_read', 'sock_read_iter', 'tcp_recvmsg', 'tcp_recvmsg_locked',
          'skb_copy_datagram_iter', '__skb_datagram_iter', '_copy_to_user', 'copy_user_generic',
          'asm_sysvec_apic_timer_interrupt', 'handle_softirqs', 'net_rx_action',
          '__napi_poll', 'schedule', '__schedule', 'finish_task_switch.isra.0']
PROCESSES = [('api-server', 4100), ('db worker', 4200), ('java', 4300), ('ingest', 4400)]


class Names:
    """A pool of function names, each with its perf script symbol form."""

    def __init__(self, rng, n):
        self.pool = []
        for _ in range(n):
            kind = rng.random()
            if kind < 0.45:  # long C++: namespace, template, method, arguments
                ns = rng.choice(NAMESPACES)
                cls = rng.choice(NOUNS) + rng.choice(NOUNS)
                tmpl = '<%s>' % ', '.join(rng.sample(TYPES, rng.randint(1, 3))) if rng.random() < 0.5 else ''
                meth = rng.choice(VERBS) + rng.choice(NOUNS)
                base = '%s::%s%s::%s' % (ns, cls, tmpl, meth)
                args = '(%s)' % ', '.join(rng.sample(TYPES, rng.randint(0, 3)))
                self.pool.append((base, base + args + (' const' if rng.random() < 0.3 else ''),
                                  '/usr/lib/libapp.so'))
            elif kind < 0.75:  # C
                name = '%s_%s' % (rng.choice(VERBS), rng.choice(NOUNS).lower())
                self.pool.append((name, name, '/usr/bin/app'))
            elif kind < 0.9:  # Rust-like
                name = '%s::%s::%s' % (rng.choice(['tokio', 'hyper', 'serde_json', 'app']),
                                       rng.choice(NOUNS).lower(), rng.choice(VERBS))
                self.pool.append((name, name, '/usr/bin/app'))
            else:  # libc
                name = rng.choice(['memcpy', '__memmove_avx_unaligned_erms', 'malloc', '_int_free',
                                   'pthread_mutex_lock', '__libc_recv', 'epoll_wait'])
                self.pool.append((name, name, '/usr/lib/x86_64-linux-gnu/libc.so.6'))


def gen_stacks(rng, n_stacks, max_depth):
    """Distinct stacks as tuples of indexes into the name pool (root first),
    grown by extending or branching off earlier stacks."""
    names = Names(rng, 4000)
    stacks, seen = [], set()
    roots = [(p, tuple(rng.randrange(len(names.pool)) for _ in range(rng.randint(3, 6))))
             for p in PROCESSES]
    while len(stacks) < n_stacks:
        if stacks and rng.random() < 0.85:
            proc, base, _ = stacks[rng.randrange(max(0, len(stacks) - 50), len(stacks))]
            cut = rng.randint(max(1, len(base) // 2), len(base))
            frames = base[:cut]
        else:
            proc, frames = rng.choice(roots)
        grow = rng.randint(1, 8)
        frames = frames + tuple(rng.randrange(len(names.pool)) for _ in range(grow))
        frames = frames[:max_depth]
        kernel = tuple(rng.sample(range(len(KERNEL)), rng.randint(2, 8))) if rng.random() < 0.2 else ()
        key = (proc, frames, kernel)
        if key in seen:
            continue
        seen.add(key)
        stacks.append(key)
    return names, stacks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lines', type=int, default=50000)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--max-depth', type=int, default=90)
    ap.add_argument('--format', choices=['folded', 'perf-script'], default='folded')
    ap.add_argument('--perturb', type=int, default=None,
                    help='seed for an "after" profile: same stacks, counts shifted, some gone or new')
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = sys.stdout

    if a.format == 'folded':
        names, stacks = gen_stacks(rng, a.lines, a.max_depth)
        counts = [max(1, int(rng.paretovariate(1.2))) for _ in stacks]
        if a.perturb is not None:
            prng = random.Random(a.perturb)
            counts = [0 if prng.random() < 0.02 else max(1, int(c * prng.uniform(0.5, 1.8)))
                      for c in counts]
        lines = []
        for (proc, frames, kernel), c in zip(stacks, counts):
            if c == 0:
                continue
            parts = [proc[0].replace(' ', '_')] + [names.pool[f][0] for f in frames] + \
                    [KERNEL[k] + '_[k]' for k in kernel]
            lines.append('%s %d\n' % (';'.join(parts), c))
        lines.sort()
        out.writelines(lines)
        return

    # perf script: about 40% of stacks repeat, as samples of hot paths do
    names, stacks = gen_stacks(rng, max(1, a.lines // 40), a.max_depth)
    written, t = 0, 1000.0
    buf = []
    while written < a.lines:
        proc, frames, kernel = stacks[min(len(stacks) - 1, int(rng.paretovariate(0.9)) - 1)] \
            if rng.random() < 0.4 else rng.choice(stacks)
        tid = proc[1] + rng.randint(0, 7)
        t += 0.001001
        buf.append('%s %d/%d [%03d] %.6f:    1001001 cpu-clock: \n'
                   % (proc[0], proc[1], tid, rng.randint(0, 7), t))
        for k in reversed(kernel):
            buf.append('\tffffffff81%06x %s+0x%x ([kernel.kallsyms])\n'
                       % (rng.randrange(1 << 24), KERNEL[k], rng.randrange(1, 0x400)))
        for f in reversed(frames):
            base, sym, mod = names.pool[f]
            buf.append('\t%16x %s+0x%x (%s)\n' % (0x400000 + f * 0x40, sym, rng.randrange(1, 0x200), mod))
        buf.append('\n')
        written += len(kernel) + len(frames) + 2
        if len(buf) > 10000:
            out.writelines(buf)
            buf = []
    out.writelines(buf)


if __name__ == '__main__':
    main()
