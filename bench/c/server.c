/* A fixed-cost SCF runtime API for benchmarks: it hands out the same event as fast as it can.
 *
 * Usage: server WARMUP COUNT [EVENT]
 * Environment: BENCH_EVENT_SIZE=N serves a JSON event of exactly N bytes instead of EVENT;
 * BENCH_PATHS=aws serves the AWS Lambda runtime paths (/2018-06-01/runtime/...) instead of
 * SCF's, for peers written against AWS. Besides "per_invocation_ns N" it prints one line
 * "stats {json}" with the median, p99 and mean of the per-invocation times (the gap between
 * two consecutive results), the server's own CPU time per invocation, and how many results
 * had the wrong length ("bad"; an echo must answer with the event's size, +-64 bytes).
 * BENCH_MARK_AT=N prints "mark N" once N results are in, so the runner can sample the client's
 * memory mid-run (the same process again at the end: growth without a restart in between).
 * Listens on 127.0.0.1 (a free port, printed as "port N" on stdout), serves one client at a
 * time (connections are reused: keep-alive), answers ready, next (the event, with request_id,
 * memory_limit_in_mb and time_limit_in_ms headers) and response/error posts with 200. After
 * WARMUP results it starts the clock; after WARMUP+COUNT results it prints
 * "per_invocation_ns N" and exits once the client has closed its connection.
 * One thread, blocking sockets, no allocation per request: its own cost is the same for every
 * client it serves. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 16)

struct conn {
    int fd;
    char buf[BUF_SIZE];
    size_t start, end;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read more bytes into the buffer; 0 on EOF or error. */
static int fill(struct conn *c) {
    if (c->start > 0 && c->start == c->end) {
        c->start = c->end = 0;
    }
    if (c->end == BUF_SIZE) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
        if (c->end == BUF_SIZE) {
            return 0; /* a header larger than the buffer */
        }
    }
    ssize_t n;
    do {
        n = read(c->fd, c->buf + c->end, BUF_SIZE - c->end);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return 0;
    }
    c->end += (size_t)n;
    return 1;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Discard `n` body bytes. */
static int skip(struct conn *c, size_t n) {
    while (n > 0) {
        if (c->start == c->end && !fill(c)) {
            return 0;
        }
        size_t have = c->end - c->start;
        size_t take = have < n ? have : n;
        c->start += take;
        n -= take;
    }
    return 1;
}

/* Skip a chunked body. */
static int skip_chunked(struct conn *c) {
    for (;;) {
        char *line_end;
        while ((line_end = memchr(c->buf + c->start, '\n', c->end - c->start)) == NULL) {
            if (!fill(c)) {
                return 0;
            }
        }
        size_t size = strtoul(c->buf + c->start, NULL, 16);
        c->start = (size_t)(line_end - c->buf) + 1;
        if (!skip(c, size + 2)) { /* data + CRLF; the last chunk's CRLF ends the body */
            return 0;
        }
        if (size == 0) {
            return 1;
        }
    }
}

/* Read one request head; sets method/path (NUL-terminated in the buffer) and the body framing.
 * Returns 0 on EOF. */
static int read_head(struct conn *c, char *method, size_t mlen, char *path, size_t plen,
                     size_t *content_length, int *chunked, int *expect_continue) {
    char *head_end;
    for (;;) {
        head_end = NULL;
        if (c->end - c->start >= 4) {
            for (char *p = c->buf + c->start; p + 3 < c->buf + c->end; p++) {
                if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
                    head_end = p;
                    break;
                }
            }
        }
        if (head_end) {
            break;
        }
        if (!fill(c)) {
            return 0;
        }
    }
    *head_end = '\0';
    char *line = c->buf + c->start;
    c->start = (size_t)(head_end - c->buf) + 4;
    *content_length = 0;
    *chunked = 0;
    *expect_continue = 0;
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2) {
        return 0;
    }
    snprintf(method, mlen, "%.*s", (int)(sp1 - line), line);
    snprintf(path, plen, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    for (char *h = strstr(line, "\r\n"); h; h = strstr(h, "\r\n")) {
        h += 2;
        if (strncasecmp(h, "content-length:", 15) == 0) {
            *content_length = strtoul(h + 15, NULL, 10);
        } else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked")) {
            *chunked = 1;
        } else if (strncasecmp(h, "expect:", 7) == 0 && strstr(h, "100-continue")) {
            *expect_continue = 1; /* libcurl (awslambdaric) waits for it before a POST body */
        }
    }
    return 1;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s WARMUP COUNT [EVENT]\n", argv[0]);
        return 2;
    }
    long warmup = atol(argv[1]);
    long count = atol(argv[2]);
    const char *event = argc > 3 ? argv[3] : "{\"key1\":\"test value 1\",\"key2\":\"test value 2\"}";
    size_t event_len = strlen(event);
    const char *size_env = getenv("BENCH_EVENT_SIZE");
    if (size_env && atol(size_env) >= 8) {
        /* {"d":"xxx...x"}: valid JSON of exactly the asked size. */
        event_len = (size_t)atol(size_env);
        char *e = malloc(event_len);
        if (!e) {
            perror("server: malloc");
            return 1;
        }
        memcpy(e, "{\"d\":\"", 6);
        memset(e + 6, 'x', event_len - 8);
        memcpy(e + event_len - 2, "\"}", 2);
        event = e;
    }
    const char *paths = getenv("BENCH_PATHS");
    int aws = paths && strcmp(paths, "aws") == 0;
    const char *next_path = aws ? "/2018-06-01/runtime/invocation/next" : "/runtime/invocation/next";
    /* Every result's arrival time, preallocated: nothing is allocated per request. */
    long long *stamps = malloc(sizeof *stamps * (size_t)(count + 1));
    if (!stamps) {
        perror("server: malloc");
        return 1;
    }
    long bad = 0;
    struct rusage ru_start;
    const char *mark_env = getenv("BENCH_MARK_AT");
    long mark_at = mark_env ? atol(mark_env) : 0;

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("server: listen");
        return 1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    static struct conn c;
    long results = 0, next_id = 0;
    long long started = now_ns();
    /* Without a warm-up the clock runs from the start (spawn and init included). */
    stamps[0] = started;
    getrusage(RUSAGE_SELF, &ru_start);
    char method[16], path[256], head[512];
    while (results < warmup + count) {
        c.fd = accept(lfd, NULL, NULL);
        if (c.fd < 0) {
            perror("server: accept");
            return 1;
        }
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.start = c.end = 0;
        size_t clen;
        int chunked, expect_continue;
        while (read_head(&c, method, sizeof method, path, sizeof path, &clen, &chunked,
                         &expect_continue)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (expect_continue && !write_all(c.fd, cont, sizeof cont - 1)) {
                break;
            }
            if (!(chunked ? skip_chunked(&c) : skip(&c, clen))) {
                break;
            }
            if (strcmp(path, next_path) == 0) {
                int n = aws ? snprintf(head, sizeof head,
                                       "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: bench-%ld\r\n"
                                       "Lambda-Runtime-Deadline-Ms: 99999999999999\r\n"
                                       "Lambda-Runtime-Invoked-Function-Arn: "
                                       "arn:aws:lambda:us-east-1:000000000000:function:bench\r\n"
                                       "Lambda-Runtime-Trace-Id: Root=1-0-0\r\n"
                                       "content-type: application/json\r\ncontent-length: %zu\r\n\r\n",
                                       next_id++, event_len)
                            : snprintf(head, sizeof head,
                                       "HTTP/1.1 200 OK\r\nrequest_id: bench-%ld\r\n"
                                       "memory_limit_in_mb: 128\r\ntime_limit_in_ms: 3000\r\n"
                                       "content-type: application/json\r\ncontent-length: %zu\r\n\r\n",
                                       next_id++, event_len);
                /* One write for head and body, like a server that builds the response whole. */
                char out[1024];
                if ((size_t)n + event_len <= sizeof out) {
                    memcpy(out, head, (size_t)n);
                    memcpy(out + n, event, event_len);
                    write_all(c.fd, out, (size_t)n + event_len);
                } else {
                    write_all(c.fd, head, (size_t)n);
                    write_all(c.fd, event, event_len);
                }
                continue;
            }
            static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            static const char accepted[] = "HTTP/1.1 202 Accepted\r\ncontent-length: 15\r\n\r\n{\"status\":\"OK\"}";
            size_t plen = strlen(path);
            int is_result =
                strcmp(method, "POST") == 0 &&
                (aws ? (strncmp(path, "/2018-06-01/runtime/invocation/", 31) == 0 &&
                        ((plen > 9 && strcmp(path + plen - 9, "/response") == 0) ||
                         (plen > 6 && strcmp(path + plen - 6, "/error") == 0)))
                     : (strcmp(path, "/runtime/invocation/response") == 0 ||
                        strcmp(path, "/runtime/invocation/error") == 0));
            if (aws) {
                write_all(c.fd, accepted, sizeof accepted - 1);
            } else {
                write_all(c.fd, ok, sizeof ok - 1);
            }
            if (is_result) {
                results++;
                if (mark_at > 0 && results == mark_at) {
                    printf("mark %ld\n", results);
                    fflush(stdout);
                }
                if (results == 1) {
                    /* For cold-start runs: the runner compares this with its spawn time. */
                    printf("first_result_mono_ns %lld\n", now_ns());
                    fflush(stdout);
                }
                /* An echo answers with the event: the same size, give or take the blanks a
                 * JSON re-encoding adds (Python's json.dumps writes `{"d": "..."}`) or the seed's
                 * "Echoing request: '...'" wrapping. */
                if (!chunked && (clen + 64 < event_len || clen > event_len + 64)) {
                    bad++;
                }
                if (results == warmup) {
                    started = now_ns();
                    stamps[0] = started;
                    getrusage(RUSAGE_SELF, &ru_start);
                } else if (results > warmup) {
                    stamps[results - warmup] = now_ns();
                }
                if (results == warmup + count) {
                    long long elapsed = now_ns() - started;
                    struct rusage ru_end;
                    getrusage(RUSAGE_SELF, &ru_end);
                    long long cpu_ns =
                        ((long long)(ru_end.ru_utime.tv_sec - ru_start.ru_utime.tv_sec) +
                         (ru_end.ru_stime.tv_sec - ru_start.ru_stime.tv_sec)) * 1000000000LL +
                        ((long long)(ru_end.ru_utime.tv_usec - ru_start.ru_utime.tv_usec) +
                         (ru_end.ru_stime.tv_usec - ru_start.ru_stime.tv_usec)) * 1000LL;
                    for (long i = 0; i < count; i++) {
                        stamps[i] = stamps[i + 1] - stamps[i];
                    }
                    qsort(stamps, (size_t)count, sizeof *stamps, cmp_ll);
                    printf("per_invocation_ns %lld\n", elapsed / count);
                    printf("stats {\"count\":%ld,\"size\":%zu,\"mean_ns\":%lld,\"median_ns\":%lld,"
                           "\"p99_ns\":%lld,\"server_cpu_ns\":%lld,\"bad\":%ld}\n",
                           count, event_len, elapsed / count, stamps[count / 2],
                           stamps[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1],
                           cpu_ns / count, bad);
                    fflush(stdout);
                    /* Done. Hold the connection until stdin closes, so the runner can read the
                     * client's memory while it still runs (a client exits on EOF); then leave
                     * and the runner stops the client, which is in its next long poll. */
                    while (getchar() != EOF) {
                    }
                    return 0;
                }
            }
        }
        close(c.fd);
    }
    close(lfd);
    return 0;
}
