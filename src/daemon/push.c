/* Pyroscope push: a bounded queue in front of one libcurl worker thread.
 *
 * What the server expects was read from Grafana Pyroscope's own handler,
 * grafana/pyroscope pkg/ingester/pyroscope/ingest_handler.go
 * (readInputRawDataFromRequest), and its API page
 * docs/sources/configure-server/about-server-api.md:
 *  - the query gives name, from, until, sampleRate, spyName, units and
 *    aggregationType; the body format is chosen from `format` first and
 *    the Content-Type second, which only matters for the binary trie/tree
 *    types and for multipart/form-data. Folded text is the default
 *    ("groups"), so `format=folded` with a text/plain body is read as
 *    folded lines;
 *  - `format=pprof` makes the server take the whole body as a raw pprof,
 *    and that case is tested before the multipart one: a multipart form
 *    sent with format=pprof would be parsed as a broken pprof and refused.
 *    A form is only read when `format` is absent, with the profile in the
 *    field `profile` (the pyroscope-go client's upload does exactly this:
 *    a form with `profile`, no `format`). So pprof windows go as that form
 *    and without `format`; the name's profile type then comes from the
 *    pprof's sample type ("samples" is Pyroscope's "cpu").
 *  - the app name allows [A-Za-z0-9_./-]; a label value ends at ',' or '}'
 *    and is trimmed (api/model/labelset), hence the checks below.
 *
 * Locking: ps->lock guards the queue, the statistics and the stop state.
 * The worker never holds it across a request or a log line, so
 * pusher_push() waits at most for a few pointer moves. The head of the
 * queue stays in the ring while it is being sent (it is ps->sending); a
 * push that needs its slot takes it out and marks it orphaned, and the
 * worker frees it when the request returns. */
#include "push.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cprof/output.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/time-util.h"

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 30000L
#define BACKOFF_FIRST_NS 1000000000ULL
#define BACKOFF_MAX_NS 60000000000ULL
#define MAX_SOCKETS 8 /* connections curl may hold at once (happy eyeballs: 2) */

struct push_item {
        char *url;
        char *body;
        size_t body_len;
        char *app;
        char *target;
        uint64_t from;
};

enum send_result { SEND_OK, SEND_REJECTED, SEND_RETRY };

struct pusher {
        pthread_mutex_t lock;
        pthread_cond_t wake;    /* the worker: new window, stop */
        pthread_cond_t done;    /* pusher_free: the worker has finished */
        struct push_item **ring;
        size_t max, head, n;
        struct push_item *sending;
        bool sending_orphaned;
        bool stopping, worker_done;
        uint64_t stop_deadline_ns;
        bool queue_full_note;   /* a push dropped a window: the worker logs it once */
        struct pusher_stats stats;

        enum push_format format;
        char *base_url;
        char *host;
        pthread_t thread;
        bool thread_started;

        /* Requests in flight end at this monotonic time (0: no limit but
         * curl's own timeouts); read by curl's progress callback. */
        _Atomic uint64_t abort_at_ns;
        /* The sockets curl has open, so that pusher_free() can wake a
         * request at its deadline by shutting them down. */
        pthread_mutex_t sock_lock;
        int socks[MAX_SOCKETS];
        size_t nsocks;
        bool sockets_refused;

        /* worker only */
        bool down;
        bool queue_full_logged; /* since the server last answered */
        uint64_t logged_codes[10]; /* one bit per HTTP status 0..639 logged once */
        unsigned seed;
};

static void push_item_free(struct push_item *it) {
        if (!it)
                return;
        free(it->url);
        free(it->body);
        free(it->app);
        free(it->target);
        free(it);
}
DEFINE_FREEP(struct push_item, push_item_free)

static bool service_name_valid(const char *s) {
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || strchr("_./-", *s)))
                        return false;
        return true;
}

/* A label value the server reads back unchanged: no separators, no
 * control characters, no space at either end (it is trimmed). */
static bool label_value_valid(const char *s) {
        size_t len = s ? strlen(s) : 0;
        if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
                return false;
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f || strchr(",{}=&", *s))
                        return false;
        return true;
}

static void abs_deadline(uint64_t ns, struct timespec *ts) {
        ts->tv_sec = (time_t) (ns / 1000000000ULL);
        ts->tv_nsec = (long) (ns % 1000000000ULL);
}

/* ---- curl callbacks ---- */

static size_t on_response(char *data, size_t size, size_t nmemb, void *userdata) {
        char *buf = userdata; /* 160 bytes: the start of an error answer for the log */
        size_t have = strlen(buf), len = size * nmemb;
        size_t take = MIN(len, 159 - have);
        memcpy(buf + have, data, take);
        buf[have + take] = '\0';
        return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
        struct pusher *ps = userdata;
        (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
        uint64_t at = atomic_load(&ps->abort_at_ns);
        return at != 0 && now_ns() >= at; /* non-zero aborts the transfer */
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a) {
        struct pusher *ps = userdata;
        (void) purpose;
        pthread_mutex_lock(&ps->sock_lock);
        int fd = -1;
        if (!ps->sockets_refused) {
                fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
                if (fd >= 0 && ps->nsocks < MAX_SOCKETS)
                        ps->socks[ps->nsocks++] = fd;
        }
        pthread_mutex_unlock(&ps->sock_lock);
        return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

/* Closing under sock_lock: pusher_free() never shuts down a number that
 * has been closed and reused for another file. */
static int on_close_socket(void *userdata, curl_socket_t fd) {
        struct pusher *ps = userdata;
        pthread_mutex_lock(&ps->sock_lock);
        for (size_t i = 0; i < ps->nsocks; i++)
                if (ps->socks[i] == fd) {
                        ps->socks[i] = ps->socks[--ps->nsocks];
                        break;
                }
        int r = close(fd);
        pthread_mutex_unlock(&ps->sock_lock);
        return r;
}

/* ---- the worker ---- */

static enum send_result send_one(struct pusher *ps, CURL *curl, const struct push_item *it,
                                 long timeout_ms, char *why, size_t whysize) {
        char errbuf[CURL_ERROR_SIZE] = "", answer[160] = "";
        struct curl_slist *headers = NULL, *h;
        curl_mime *mime = NULL;
        enum send_result result = SEND_RETRY;
        CURLcode c;

        curl_easy_reset(curl); /* keeps the connection cache */
        h = curl_slist_append(headers, "Expect:"); /* no 1 s wait for a 100 Continue */
        if (!h)
                goto oom;
        headers = h;
        if (ps->format == PUSH_FOLDED) {
                h = curl_slist_append(headers, "Content-Type: text/plain");
                if (!h)
                        goto oom;
                headers = h;
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, it->body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) it->body_len);
        } else {
                mime = curl_mime_init(curl);
                curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
                if (!part || curl_mime_name(part, "profile") != CURLE_OK ||
                    curl_mime_filename(part, "profile.pb.gz") != CURLE_OK ||
                    curl_mime_type(part, "application/octet-stream") != CURLE_OK ||
                    curl_mime_data(part, it->body, it->body_len) != CURLE_OK)
                        goto oom;
                curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
        }
        curl_easy_setopt(curl, CURLOPT_URL, it->url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "cprofd/" CPROF_VERSION);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a threaded daemon */
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, MIN(CONNECT_TIMEOUT_MS, timeout_ms));
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_response);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *) answer);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, ps);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, ps);
        curl_easy_setopt(curl, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
        curl_easy_setopt(curl, CURLOPT_CLOSESOCKETDATA, ps);

        c = curl_easy_perform(curl);
        if (c != CURLE_OK) {
                snprintf(why, whysize, "%s", errbuf[0] ? errbuf : curl_easy_strerror(c));
                goto out;
        }
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300)
                result = SEND_OK;
        else if (code == 429 || code >= 500)
                result = SEND_RETRY;
        else
                result = SEND_REJECTED; /* 4xx, and redirects we do not follow */
        for (char *s = answer; *s; s++) /* one log line */
                if ((unsigned char) *s < 0x20)
                        *s = ' ';
        for (size_t len = strlen(answer); len > 0 && answer[len - 1] == ' ';)
                answer[--len] = '\0';
        snprintf(why, whysize, "HTTP %ld%s%s", code, answer[0] ? ": " : "", answer);
        goto out;
oom:
        snprintf(why, whysize, "%s", strerror(ENOMEM));
out:
        curl_mime_free(mime);
        curl_slist_free_all(headers);
        return result;
}

static uint64_t jitter(struct pusher *ps, uint64_t backoff) {
        /* between half and all of it, so a fleet that lost its server at
         * once does not come back in lockstep */
        uint64_t half = backoff / 2;
        return half + (uint64_t) ((double) rand_r(&ps->seed) / RAND_MAX * (double) half);
}

static bool code_logged_once(struct pusher *ps, const char *why) {
        long code = 0;
        if (sscanf(why, "HTTP %ld", &code) != 1 || code < 0 || code >= 640)
                code = 0;
        uint64_t bit = 1ULL << (code % 64);
        if (ps->logged_codes[code / 64] & bit)
                return true;
        ps->logged_codes[code / 64] |= bit;
        return false;
}

static void *worker(void *userdata) {
        struct pusher *ps = userdata;
        CURL *curl = NULL;
        uint64_t backoff = 0, next_attempt = 0;
        char why[256];

        pthread_mutex_lock(&ps->lock);
        for (;;) {
                if (ps->queue_full_note) {
                        ps->queue_full_note = false;
                        if (!ps->queue_full_logged) {
                                ps->queue_full_logged = true;
                                pthread_mutex_unlock(&ps->lock);
                                log_warning("pyroscope: queue full (%zu windows), dropping the oldest",
                                            ps->max);
                                pthread_mutex_lock(&ps->lock);
                        }
                        continue;
                }
                uint64_t t = now_ns();
                if (ps->stopping && t >= ps->stop_deadline_ns)
                        break;
                if (ps->n == 0) {
                        if (ps->stopping)
                                break;
                        pthread_cond_wait(&ps->wake, &ps->lock);
                        continue;
                }
                if (t < next_attempt) {
                        uint64_t until = next_attempt;
                        if (ps->stopping && ps->stop_deadline_ns < until)
                                until = ps->stop_deadline_ns;
                        struct timespec ts;
                        abs_deadline(until, &ts);
                        pthread_cond_timedwait(&ps->wake, &ps->lock, &ts);
                        continue;
                }

                struct push_item *it = ps->ring[ps->head];
                ps->sending = it;
                ps->sending_orphaned = false;
                long timeout_ms = REQUEST_TIMEOUT_MS;
                if (ps->stopping)
                        timeout_ms = MAX(1L, MIN(timeout_ms, (long) ((ps->stop_deadline_ns - t) / 1000000)));
                pthread_mutex_unlock(&ps->lock);

                enum send_result r = SEND_RETRY;
                if (!curl)
                        curl = curl_easy_init();
                if (curl)
                        r = send_one(ps, curl, it, timeout_ms, why, sizeof why);
                else
                        snprintf(why, sizeof why, "cannot start a curl session");

                bool was_down = ps->down, log_rejected = false;
                if (r == SEND_RETRY) {
                        backoff = backoff ? MIN(backoff * 2, BACKOFF_MAX_NS) : BACKOFF_FIRST_NS;
                        next_attempt = now_ns() + jitter(ps, backoff);
                        ps->down = true;
                } else {
                        backoff = next_attempt = 0;
                        ps->down = false; /* it answered, even if to refuse */
                        ps->queue_full_logged = false;
                        log_rejected = r == SEND_REJECTED && !code_logged_once(ps, why);
                }
                if (ps->down != was_down) {
                        if (ps->down)
                                log_warning("pyroscope: cannot push to '%s': %s; retrying with backoff, "
                                            "keeping up to %zu windows", ps->base_url, why, ps->max);
                        else
                                log_notice("pyroscope: '%s' is reachable again", ps->base_url);
                }
                if (log_rejected)
                        log_warning("pyroscope: '%s' refused the window of %s/%s from %llu (%s), "
                                    "dropping it (logged once per status)", ps->base_url, it->app,
                                    it->target, (unsigned long long) it->from, why);

                pthread_mutex_lock(&ps->lock);
                bool orphan = ps->sending_orphaned;
                ps->sending = NULL;
                ps->sending_orphaned = false;
                if (r == SEND_OK) {
                        ps->stats.sent++;
                        if (orphan) /* counted as dropped when it left the queue, yet it arrived */
                                ps->stats.dropped--;
                } else {
                        ps->stats.failed_attempts++;
                        if (r == SEND_REJECTED && !orphan)
                                ps->stats.dropped++;
                }
                if (r != SEND_RETRY || orphan) {
                        if (!orphan) {
                                ps->head = (ps->head + 1) % ps->max;
                                ps->n--;
                        }
                        push_item_free(it);
                }
        }
        pthread_mutex_unlock(&ps->lock);

        curl_easy_cleanup(curl);

        pthread_mutex_lock(&ps->lock);
        ps->worker_done = true;
        pthread_cond_broadcast(&ps->done);
        pthread_mutex_unlock(&ps->lock);
        return NULL;
}

/* ---- the API ---- */

static int cond_init_monotonic(pthread_cond_t *c) {
        pthread_condattr_t a;
        int r = pthread_condattr_init(&a);
        if (r)
                return -r;
        r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        if (!r)
                r = pthread_cond_init(c, &a);
        pthread_condattr_destroy(&a);
        return -r;
}

int pusher_new(const struct pusher_options *o, struct pusher **ret) {
        if (!o || !o->url || o->queue_max == 0 ||
            (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0))
                return -EINVAL;

        char hostbuf[256];
        const char *host = o->host;
        if (!host) {
                if (gethostname(hostbuf, sizeof hostbuf) < 0)
                        return -errno;
                hostbuf[sizeof hostbuf - 1] = '\0';
                host = hostbuf;
        }
        if (!label_value_valid(host))
                return -EINVAL;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -ENOMEM;
        struct pusher *ps = calloc(1, sizeof *ps);
        if (!ps) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        pthread_mutex_init(&ps->lock, NULL);
        pthread_mutex_init(&ps->sock_lock, NULL);
        int r = cond_init_monotonic(&ps->wake);
        if (r < 0) {
                pthread_mutex_destroy(&ps->lock);
                pthread_mutex_destroy(&ps->sock_lock);
                free(ps);
                curl_global_cleanup();
                return r;
        }
        r = cond_init_monotonic(&ps->done);
        if (r < 0) {
                pthread_cond_destroy(&ps->wake);
                pthread_mutex_destroy(&ps->lock);
                pthread_mutex_destroy(&ps->sock_lock);
                free(ps);
                curl_global_cleanup();
                return r;
        }
        /* from here pusher_free() can take a half-built pusher apart */
        ps->format = o->format;
        ps->max = o->queue_max;
        ps->seed = (unsigned) now_ns() ^ (unsigned) getpid();
        ps->ring = calloc(o->queue_max, sizeof *ps->ring);
        ps->base_url = strdup(o->url);
        ps->host = strdup(host);
        if (!ps->ring || !ps->base_url || !ps->host) {
                pusher_free(ps, 0);
                return -ENOMEM;
        }
        size_t len = strlen(ps->base_url);
        while (len > 0 && ps->base_url[len - 1] == '/')
                ps->base_url[--len] = '\0';

        r = pthread_create(&ps->thread, NULL, worker, ps);
        if (r) {
                pusher_free(ps, 0);
                return -r;
        }
        ps->thread_started = true;
        *ret = ps;
        return 0;
}

static int serialize(const struct profile *p, enum push_format format, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -errno;
        int r = format == PUSH_FOLDED ? folded_write(p, f) : pprof_write(p, f);
        if (fclose(f) != 0 && r >= 0)
                r = -EIO;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int build_url(const struct pusher *ps, const char *app, const char *target, uint64_t from,
                     uint64_t until, unsigned hz, char **ret) {
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "%s.cpu{host=%s,target=%s,service_name=%s}", app, ps->host, target, app) < 0)
                return -ENOMEM;
        /* curl ignores the handle here since 7.82 (Debian 12 has 7.88) */
        char *esc = curl_easy_escape(NULL, name, 0);
        if (!esc)
                return -ENOMEM;
        int n = asprintf(ret, "%s/ingest?name=%s&from=%llu&until=%llu%s&sampleRate=%u"
                         "&spyName=cprof&units=samples&aggregationType=sum",
                         ps->base_url, esc, (unsigned long long) from, (unsigned long long) until,
                         ps->format == PUSH_FOLDED ? "&format=folded" : "", hz);
        curl_free(esc);
        return n < 0 ? -ENOMEM : 0;
}

int pusher_push(struct pusher *ps, const char *app, const char *target, const struct profile *p,
                uint64_t from_unix_s, uint64_t until_unix_s, unsigned sample_rate_hz) {
        if (!ps || !p || !service_name_valid(app) || !label_value_valid(target) ||
            from_unix_s >= until_unix_s || sample_rate_hz == 0)
                return -EINVAL;

        _cleanup_(push_item_freep) struct push_item *it = calloc(1, sizeof *it);
        if (!it)
                return -ENOMEM;
        it->from = from_unix_s;
        it->app = strdup(app);
        it->target = strdup(target);
        if (!it->app || !it->target)
                return -ENOMEM;
        int r = build_url(ps, app, target, from_unix_s, until_unix_s, sample_rate_hz, &it->url);
        if (r < 0)
                return r;
        r = serialize(p, ps->format, &it->body, &it->body_len);
        if (r < 0)
                return r;

        struct push_item *dropped = NULL;
        pthread_mutex_lock(&ps->lock);
        if (ps->n == ps->max) {
                struct push_item *oldest = ps->ring[ps->head];
                if (oldest == ps->sending)
                        ps->sending_orphaned = true; /* the worker frees it */
                else
                        dropped = oldest;
                ps->head = (ps->head + 1) % ps->max;
                ps->n--;
                ps->stats.dropped++;
                ps->queue_full_note = true;
        }
        ps->ring[(ps->head + ps->n) % ps->max] = TAKE_PTR(it);
        ps->n++;
        ps->stats.queued++;
        pthread_cond_signal(&ps->wake);
        pthread_mutex_unlock(&ps->lock);

        push_item_free(dropped);
        return 0;
}

void pusher_get_stats(struct pusher *ps, struct pusher_stats *ret) {
        pthread_mutex_lock(&ps->lock);
        *ret = ps->stats;
        pthread_mutex_unlock(&ps->lock);
}

struct pusher *pusher_free(struct pusher *ps, uint64_t grace_ns) {
        if (!ps)
                return NULL;

        if (ps->thread_started) {
                uint64_t deadline = now_ns() + grace_ns;
                pthread_mutex_lock(&ps->lock);
                ps->stopping = true;
                ps->stop_deadline_ns = deadline;
                atomic_store(&ps->abort_at_ns, deadline);
                pthread_cond_signal(&ps->wake);
                struct timespec ts;
                abs_deadline(deadline, &ts);
                while (!ps->worker_done)
                        if (pthread_cond_timedwait(&ps->done, &ps->lock, &ts) == ETIMEDOUT)
                                break;
                bool done = ps->worker_done;
                pthread_mutex_unlock(&ps->lock);

                if (!done) {
                        /* a request is still in flight: wake its poll() now rather
                         * than at curl's next progress call, and refuse the
                         * reconnect curl may try */
                        pthread_mutex_lock(&ps->sock_lock);
                        ps->sockets_refused = true;
                        for (size_t i = 0; i < ps->nsocks; i++)
                                shutdown(ps->socks[i], SHUT_RDWR);
                        pthread_mutex_unlock(&ps->sock_lock);
                }
                pthread_join(ps->thread, NULL);
        }

        if (ps->n > 0)
                log_warning("pyroscope: %zu windows not pushed to '%s' before exit", ps->n,
                            ps->base_url);
        for (size_t i = 0; i < ps->n; i++)
                push_item_free(ps->ring[(ps->head + i) % ps->max]);
        free(ps->ring);
        free(ps->base_url);
        free(ps->host);
        pthread_cond_destroy(&ps->wake);
        pthread_cond_destroy(&ps->done);
        pthread_mutex_destroy(&ps->lock);
        pthread_mutex_destroy(&ps->sock_lock);
        free(ps);
        curl_global_cleanup();
        return NULL;
}
