/* The BPF stack copy ring's reader thread (src/sample/copy-reader.c), on a
 * real ring fed by a BPF program (copy-reader-feed.bpf.c): records come
 * out whole and in order, records sent without a wakeup are read when the
 * loop asks, a stop reads what is left, and a handler's error ends a
 * take. Needs root (BPF). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy-reader-feed.skel.h"
#include "sample/copy-reader.h"
#include "tap.h"

struct seen {
        uint32_t next;   /* the sequence number expected next */
        uint32_t count;
        uint32_t bad;    /* out of order, or not the size they say */
        uint32_t fail_at; /* the handler fails at this count (0: never) */
};

static int handle(void *userdata, void *data, size_t size) {
        struct seen *s = userdata;
        uint32_t head[2];

        if (s->fail_at && s->count + 1 == s->fail_at)
                return -EIO;
        if (size < sizeof(head)) {
                s->bad++;
                return 0;
        }
        memcpy(head, data, sizeof(head));
        if (head[0] != s->next || head[1] != size || ((uintptr_t) data & 7))
                s->bad++;
        s->next = head[0] + 1;
        s->count++;
        return 0;
}

static int feed(struct copy_reader_feed_bpf *skel, uint32_t first, uint32_t n, uint32_t size, uint64_t flags) {
        LIBBPF_OPTS(bpf_test_run_opts, opts);
        skel->bss->first = first;
        skel->bss->n = n;
        skel->bss->size = size;
        skel->bss->flags = flags;
        int r = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.feed), &opts);
        return r < 0 ? -errno : (int) opts.retval;
}

/* takes until want records were handled or 2 s passed, as the loop
 * polls (every 10 ms here) */
static int take_until(struct copy_reader *cr, struct seen *s, uint32_t want) {
        for (int i = 0; i < 200 && s->count < want; i++) {
                int r = copy_reader_take(cr, handle, s);
                if (r < 0)
                        return r;
                if (s->count < want)
                        usleep(10000);
        }
        return 0;
}

int main(void) {
        struct copy_reader_feed_bpf *skel = copy_reader_feed_bpf__open_and_load();
        struct copy_reader *cr = NULL;
        struct seen s = {};

        CHECK(skel != NULL, "load the feeder program (root, BPF)%s%s", skel ? "" : ": ",
              skel ? "" : strerror(errno));
        if (!skel)
                return tap_done();
        int fd = bpf_map__fd(skel->maps.ring);
        CHECK(copy_reader_new(fd, &cr) == 0, "start the reader");
        if (!cr)
                return tap_done();

        /* without a wakeup the kernel never signals the ring: the reader
         * reads them when a take kicks it, by the next take */
        CHECK(feed(skel, 0, 100, 64, BPF_RB_NO_WAKEUP) == 0, "feed 100 records without a wakeup");
        CHECK(take_until(cr, &s, 100) == 0, "take");
        CHECK(s.count == 100 && s.bad == 0, "100 records in order, whole and 8-aligned (%u, %u bad)",
              s.count, s.bad);

        /* batches of copies with a wakeup each (cprof's program forces
         * one once 1 MiB waits), sizes not a multiple of 8: 10 MiB in
         * all through a 1 MiB ring */
        uint32_t sent = 100;
        size_t queued = 0;
        for (int b = 0; b < 20; b++) {
                uint32_t size = 1000 + 37 * (uint32_t) b;
                CHECK(feed(skel, sent, 500, size, BPF_RB_FORCE_WAKEUP) == 0, "feed batch %d", b);
                sent += 500;
                /* the reader empties the ring into its queue while nobody
                 * takes: wait until the batch is there (the queue only
                 * grows, so its peak is its size), at most 2 s */
                queued += 500 * (8 + ((size + 7) & ~7u));
                for (int i = 0; i < 200 && copy_reader_peak(cr) < queued; i++)
                        usleep(10000);
                CHECK(copy_reader_peak(cr) == queued, "batch %d is queued (%zu of %zu bytes)", b,
                      copy_reader_peak(cr), queued);
        }
        CHECK(skel->bss->failed == 0, "the 1 MiB ring never filled (%u records refused)", skel->bss->failed);
        CHECK(take_until(cr, &s, sent) == 0, "take the batches");
        CHECK(s.count == sent && s.bad == 0, "%u records of %u in order (%u bad)", s.count, sent, s.bad);

        /* a stop reads what the ring still holds: nothing is lost at the
         * end of a recording */
        CHECK(feed(skel, sent, 300, 200, BPF_RB_NO_WAKEUP) == 0, "feed 300 more, no wakeup");
        sent += 300;
        copy_reader_stop(cr);
        copy_reader_stop(cr); /* idempotent */
        CHECK(copy_reader_take(cr, handle, &s) == 0 && s.count == sent && s.bad == 0,
              "after stop, take has all %u (%u)", sent, s.count);
        CHECK(copy_reader_dropped(cr) == 0, "none dropped");
        cr = copy_reader_free(cr);

        /* a handler's error ends the take and is returned */
        CHECK(copy_reader_new(fd, &cr) == 0, "start a second reader");
        struct seen f = { .next = sent, .fail_at = 3 };
        CHECK(feed(skel, sent, 10, 64, BPF_RB_FORCE_WAKEUP) == 0, "feed 10");
        copy_reader_stop(cr);
        CHECK(copy_reader_take(cr, handle, &f) == -EIO && f.count == 2,
              "the handler's -EIO at the third record ends the take (%u handled)", f.count);
        copy_reader_free(cr);

        copy_reader_feed_bpf__destroy(skel);
        return tap_done();
}
