/* See uploader.h. Plain http:// only; one connection per request. */
#define _POSIX_C_SOURCE 200809L
#include "uploader.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct reply { int status; char retry_after[64]; char *body; size_t body_len; };

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The value of header `name` in the reply head `head` (NUL-terminated), copied into `out`. */
static int header_value(const char *head, const char *name, char *out, size_t out_len) {
    size_t name_len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *key = line + 2;
        if (strncasecmp(key, name, name_len) == 0 && key[name_len] == ':') {
            const char *v = key + name_len + 1;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= out_len) n = out_len - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

/* POSTs the task; 0 with `r` filled, or -1 with `why` saying what failed. */
static int post(const SluiceUploadTask *t, struct reply *r, char *why, size_t why_len) {
    char host[256], port[16] = "80";
    const char *rest = strncmp(t->url, "http://", 7) == 0 ? t->url + 7 : NULL;
    if (!rest) { snprintf(why, why_len, "only http:// here: %s", t->url); return -1; }
    size_t authority = strcspn(rest, "/");
    const char *path = rest[authority] ? rest + authority : "/";
    snprintf(host, sizeof host, "%.*s", (int)authority, rest);
    char *colon = strrchr(host, ':');
    if (colon) { snprintf(port, sizeof port, "%s", colon + 1); *colon = '\0'; }

    struct addrinfo hints = {0}, *addr = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &addr) != 0) { snprintf(why, why_len, "cannot resolve %s", host); return -1; }
    int fd = socket(addr->ai_family, addr->ai_socktype, addr->ai_protocol);
    struct timeval tv = { .tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000 };
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, addr->ai_addr, addr->ai_addrlen) != 0) {
        freeaddrinfo(addr);
        if (fd >= 0) close(fd);
        snprintf(why, why_len, "cannot connect to %s:%s", host, port);
        return -1;
    }
    freeaddrinfo(addr);

    char line[1024];
    int n = snprintf(line, sizeof line, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %zu\r\nConnection: close\r\n",
                     path, host, port, t->body_len);
    int failed = write_all(fd, line, (size_t)n);
    for (size_t i = 0; i < t->n_headers && !failed; i++) {
        n = snprintf(line, sizeof line, "%s: %s\r\n", t->headers[i].key, t->headers[i].value);
        failed = n >= (int)sizeof line || write_all(fd, line, (size_t)n);
    }
    if (!failed) failed = write_all(fd, "\r\n", 2) || write_all(fd, t->body, t->body_len);
    if (failed) { close(fd); snprintf(why, why_len, "write failed"); return -1; }

    /* The reply: head up to the blank line, then Content-Length bytes. */
    size_t cap = 4096, len = 0, head_end = 0, want = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) { cap *= 2; buf = realloc(buf, cap + 1); }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got <= 0) break;
        len += (size_t)got;
        buf[len] = '\0';
        if (!head_end) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            head_end = (size_t)(end - buf) + 4;
            char length[32] = "0";
            end[2] = '\0';
            header_value(buf, "Content-Length", length, sizeof length);
            r->retry_after[0] = '\0';
            header_value(buf, "Retry-After", r->retry_after, sizeof r->retry_after);
            r->status = atoi(buf + 9);
            end[2] = '\r';
            want = head_end + (size_t)strtoul(length, NULL, 10);
        }
        if (len >= want) break;
    }
    close(fd);
    if (!head_end || len < want) { free(buf); snprintf(why, why_len, "no complete reply"); return -1; }
    r->body_len = want - head_end;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, buf + head_end, r->body_len);
    free(buf);
    return 0;
}

static void *loop(void *arg) {
    struct uploader *u = arg;
    for (;;) {
        SluiceUploadTask *task = NULL;
        int32_t status = sluice_upload_take(u->h, -1, &task);
        if (status == SLUICE_ERR_CLOSED) return NULL;
        if (status != SLUICE_OK) { u->errors++; return NULL; }
        __atomic_add_fetch(&u->taken, 1, __ATOMIC_SEQ_CST);
        struct reply r = {0};
        char why[256];
        int32_t done;
        if (u->delay_ms > 0) {
            struct timespec pause = { u->delay_ms / 1000, (long)(u->delay_ms % 1000) * 1000000L };
            nanosleep(&pause, NULL);
        }
        if (post(task, &r, why, sizeof why) == 0) {
            done = sluice_upload_finish(u->h, task->id, r.status, r.retry_after[0] ? r.retry_after : NULL,
                                        (const uint8_t *)r.body, r.body_len, NULL);
            u->sent++;
        } else {
            done = sluice_upload_finish(u->h, task->id, 0, NULL, NULL, 0, why);
            u->failed++;
        }
        free(r.body);
        sluice_upload_task_free(task);
        if (done == SLUICE_STALE || done == SLUICE_ERR_CLOSED) u->late++;
        else if (done != SLUICE_OK) u->errors++;
    }
}

void uploader_start(struct uploader *u, SluiceHandle *h) {
    u->h = h;
    u->sent = u->failed = u->errors = u->late = u->taken = 0;
    pthread_create(&u->thread, NULL, loop, u);
}

int uploader_wait_taken(struct uploader *u, int n, int timeout_ms) {
    struct timespec step = {0, 1000000L};
    for (int waited = 0; waited < timeout_ms; waited++) {
        if (__atomic_load_n(&u->taken, __ATOMIC_SEQ_CST) >= n) return 1;
        nanosleep(&step, NULL);
    }
    return __atomic_load_n(&u->taken, __ATOMIC_SEQ_CST) >= n;
}

void uploader_join(struct uploader *u) {
    pthread_join(u->thread, NULL);
}
