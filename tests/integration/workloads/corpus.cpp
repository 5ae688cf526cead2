/* corpus: C++ with namespaces, a class template, a lambda and std::sort,
 * for demangled names and libstdc++ frames.
 *
 * Expected frames (root first, names as c++filt prints them), by the
 * thread's own CPU clock:
 *   corpus;...;main;corpus::Runner::run(double);corpus::Runner::sort_phase(unsigned long);
 *       ...void std::__introsort_loop<...>(...)...            ~50%
 *       (the comparator lambda and std's helpers inline into it)
 *   corpus;...;corpus::Runner::run(double);[corpus::Runner::hash_phase(unsigned long);]
 *       std::_Hash_bytes(void const*, unsigned long, unsigned long)   ~25%
 *       (libstdc++ is built without frame pointers: the walk skips
 *       hash_phase)
 *   corpus;...;corpus::Runner::lambda_phase(unsigned long);
 *       corpus::Runner::lambda_phase(unsigned long)::{lambda(double)#1}::operator()(double) const
 *                                                               ~12%
 *   corpus;...;corpus::Runner::lambda_phase(unsigned long);
 *       corpus::Accumulator<double>::add_all(std::vector<double, std::allocator<double> > const&)
 *                                                               ~12%
 * Raw (mangled) names of the same: _ZN6corpus6Runner3runEd,
 * _ZN6corpus11AccumulatorIdE7add_allERKSt6vectorIdSaIdEE.
 *
 * Usage: corpus [SECONDS]  run SECONDS of wall time (0 or none: until
 *                          killed). Prints "corpus: ready pid N" first. */
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "common.h"

namespace corpus {

struct Item {
        double key;
        uint32_t id;
};

template <typename T> class Accumulator {
public:
        __attribute__((noipa)) T add_all(const std::vector<T> &v);

private:
        T total_ = T();
};

template <typename T> T Accumulator<T>::add_all(const std::vector<T> &v) {
        for (const T &x : v) {
                total_ = total_ * T(0.5) + x;
                asm volatile("" : "+x"(total_));
        }
        return total_;
}

class Runner {
public:
        explicit Runner(uint64_t seed);
        __attribute__((noipa)) double run(double seconds);

private:
        __attribute__((noipa)) void sort_phase(uint64_t ns);
        __attribute__((noipa)) void hash_phase(uint64_t ns);
        __attribute__((noipa)) void lambda_phase(uint64_t ns);

        uint64_t rng_;
        std::vector<Item> items_;
        std::vector<std::string> parts_;
        std::vector<double> values_;
        Accumulator<double> acc_;
        uint64_t hashes_ = 0;
        double acc_out_ = 0;
};

Runner::Runner(uint64_t seed) : rng_(seed), items_(100000), values_(4096) {
        for (size_t i = 0; i < values_.size(); i++)
                values_[i] = (double) next_rand(&rng_) / 4294967296.0;
        for (int i = 0; i < 8; i++)
                parts_.push_back(std::string(256 + 32 * i, (char) ('a' + i)));
}

/* Sorts a freshly scrambled vector by a custom comparator until ns of CPU
 * time are used: the time is in std::sort's out-of-line introsort loop and
 * the insertion sort, with the lambda inlined into them. */
void Runner::sort_phase(uint64_t ns) {
        uint64_t t0 = thread_cpu_ns();

        do {
                for (size_t i = 0; i < items_.size(); i++) {
                        items_[i].key = (double) next_rand(&rng_);
                        items_[i].id = (uint32_t) i;
                }
                std::sort(items_.begin(), items_.end(), [](const Item &a, const Item &b) {
                        return a.key < b.key || (a.key == b.key && a.id < b.id);
                });
        } while (thread_cpu_ns() - t0 < ns);
}

/* std::hash<std::string>: the time is in libstdc++'s std::_Hash_bytes,
 * an exported function that calls nothing. Nothing here allocates or
 * copies, so no sample lands in a PLT stub of libstdc++ (memcpy@plt,
 * malloc@plt), which no symbol table names. */
void Runner::hash_phase(uint64_t ns) {
        std::hash<std::string> hasher;
        uint64_t t0 = thread_cpu_ns();

        do {
                for (int r = 0; r < 50; r++)
                        for (std::string &p : parts_) {
                                p[0] = (char) ('a' + (hashes_ & 15));
                                hashes_ += hasher(p);
                        }
        } while (thread_cpu_ns() - t0 < ns);
}

/* Half in a lambda kept out of line, half in the class template. */
void Runner::lambda_phase(uint64_t ns) {
        auto step = [](double x) __attribute__((noipa)) {
                for (unsigned i = 0; i < 4096; i++) {
                        x = x * 0.999999 + 0.5;
                        asm volatile("" : "+x"(x));
                }
                return x;
        };
        double x = 1;
        uint64_t t0 = thread_cpu_ns();

        do {
                x = step(x);
                x += acc_.add_all(values_);
        } while (thread_cpu_ns() - t0 < ns);
        acc_out_ += x;
}

/* Phases of about 24, 12 and 12 ms of this thread's CPU time, with jitter
 * so that they never line up with the sampling period. */
double Runner::run(double seconds) {
        uint64_t start = wall_ns();
        uint64_t duration_ns = (uint64_t) (seconds * 1e9);

        for (;;) {
                uint64_t q_ns = 5000000 + next_rand(&rng_) % 2000000;

                sort_phase(4 * q_ns);
                hash_phase(2 * q_ns);
                lambda_phase(2 * q_ns);
                if (duration_ns > 0 && wall_ns() - start >= duration_ns)
                        break;
        }
        return acc_out_ + (double) hashes_ + items_[0].key;
}

} // namespace corpus

static volatile double sink;

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;
        corpus::Runner runner((uint64_t) getpid());

        print_ready("corpus");
        sink = runner.run((double) duration / 1e9);
        return 0;
}
