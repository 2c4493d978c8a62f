/* The floor: a hand-written SCF runtime API client with no library, for the benchmark.
 *
 * Usage: raw_client N [split] [probe]   (with SCF_RUNTIME_API / SCF_RUNTIME_API_PORT set)
 * One keep-alive TCP connection with TCP_NODELAY: POST ready, then N times GET next and POST
 * the event back as the response (head and body in one writev). Events up to 8 MB. It parses just enough HTTP (status line, Content-Length)
 * and does no error reporting, retries or JSON; that is the cost libscfruntime is compared to.
 *
 * Diagnostics (for RESULTS.md's "where the time goes"; run.sh does not use them):
 *   split  sends a POST's head and body with two writes, as ureq does;
 *   probe  adds ureq's connection-pool liveness probe (FIONBIO on, a 1-byte MSG_PEEK-less
 *          recv that gets EAGAIN, FIONBIO off) twice around every request. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUF_SIZE (1 << 16)

static char buf[BUF_SIZE];
static int split, probe;
static size_t start, end;
static int fd;

static int fill(void) {
    if (start == end) {
        start = end = 0;
    } else if (end == BUF_SIZE) {
        memmove(buf, buf + start, end - start);
        end -= start;
        start = 0;
    }
    ssize_t n;
    do {
        n = read(fd, buf + end, BUF_SIZE - end);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return 0;
    }
    end += (size_t)n;
    return 1;
}

static int write_all(const char *p, size_t n) {
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

/* Head and body in one system call when the kernel takes it all (it normally does). */
static int writev_all(const char *head, size_t hlen, const char *body, size_t blen) {
    struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
    int cnt = 2;
    struct iovec *v = iov;
    while (cnt > 0) {
        ssize_t w = writev(fd, v, cnt);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return 0;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return 1;
}

/* What ureq's pool does to check a kept-alive connection before and after each request. */
static void liveness_probe(void) {
    if (!probe) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        int on = 1, off = 0;
        char byte;
        ioctl(fd, FIONBIO, &on);
        (void)recv(fd, &byte, 1, 0);
        ioctl(fd, FIONBIO, &off);
    }
}

/* Read one response; copies its body (up to `cap` bytes) to `body` and returns its length, or
 * -1 on failure. */
static long read_response(char *body, size_t cap) {
    char *head_end = NULL;
    for (;;) {
        for (char *p = buf + start; p + 3 < buf + end; p++) {
            if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
                head_end = p;
                break;
            }
        }
        if (head_end) {
            break;
        }
        if (!fill()) {
            return -1;
        }
    }
    *head_end = '\0';
    if (strncmp(buf + start, "HTTP/1.1 200", 12) != 0) {
        return -1;
    }
    size_t len = 0;
    for (char *h = strstr(buf + start, "\r\n"); h; h = strstr(h, "\r\n")) {
        h += 2;
        if (strncasecmp(h, "content-length:", 15) == 0) {
            len = strtoul(h + 15, NULL, 10);
        }
    }
    start = (size_t)(head_end - buf) + 4;
    if (len > cap) {
        return -1;
    }
    size_t got = 0;
    while (got < len) {
        if (start == end && !fill()) {
            return -1;
        }
        size_t take = end - start < len - got ? end - start : len - got;
        memcpy(body + got, buf + start, take);
        start += take;
        got += take;
    }
    return (long)len;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    for (int i = 2; i < argc; i++) {
        split |= strcmp(argv[i], "split") == 0;
        probe |= strcmp(argv[i], "probe") == 0;
    }
    const char *host = getenv("SCF_RUNTIME_API");
    const char *port = getenv("SCF_RUNTIME_API_PORT");
    if (!host || !port) {
        fprintf(stderr, "raw_client: SCF_RUNTIME_API and SCF_RUNTIME_API_PORT must be set\n");
        return 1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "raw_client: %s is not an IPv4 address\n", host);
        return 1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("raw_client: connect");
        return 1;
    }
    size_t cap = 8u << 20;
    char *body = malloc(cap);
    char req[256];
    if (!body) {
        perror("raw_client: malloc");
        return 1;
    }
    static const char ready[] =
        "POST /runtime/init/ready HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\n ";
    static const char next[] = "GET /runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n";
    if (!write_all(ready, sizeof ready - 1) || read_response(body, cap) < 0) {
        fprintf(stderr, "raw_client: ready failed\n");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        long len;
        liveness_probe();
        if (!write_all(next, sizeof next - 1) || (len = read_response(body, cap)) < 0) {
            fprintf(stderr, "raw_client: next failed\n");
            return 1;
        }
        int h = snprintf(req, sizeof req,
                         "POST /runtime/invocation/response HTTP/1.1\r\nhost: x\r\n"
                         "content-length: %ld\r\n\r\n",
                         len);
        liveness_probe();
        int sent;
        if (split) {
            sent = write_all(req, (size_t)h) && write_all(body, (size_t)len);
        } else {
            sent = writev_all(req, (size_t)h, body, (size_t)len);
        }
        if (!sent || read_response(body, cap) < 0) {
            fprintf(stderr, "raw_client: response failed\n");
            return 1;
        }
    }
    close(fd);
    free(body);
    return 0;
}
