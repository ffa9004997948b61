/* record() latency from C: N events with two headers from T threads, the
 * clock around each sluice_record call only; offline, so nothing uploads.
 * Prints one JSON line. Usage: record_bench DATA_DIR THREADS N */
#include "sluice.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *screens[] = {"home", "search", "cart", "settings"};
static const char *actions[] = {"tap", "scroll", "swipe", "open", "close", "share", "like", "play", "pause", "buy"};

struct job { SluiceHandle *h; long from, n; long *lat; int errors; };

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *run(void *arg) {
    struct job *j = arg;
    for (long i = 0; i < j->n; i++) {
        long k = j->from + i;
        SluiceHeader headers[2] = {{"screen", screens[k % 4]}, {"action", actions[k % 10]}};
        long t0 = now_ns();
        int32_t s = sluice_record(j->h, (const uint8_t *)"bench.tap", 9, headers, 2, SLUICE_PRIORITY_NORMAL);
        j->lat[k] = now_ns() - t0;
        if (s != SLUICE_OK) j->errors++;
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: record_bench DATA_DIR THREADS N\n"); return 2; }
    int threads = atoi(argv[2]);
    long n = atol(argv[3]);
    if (threads < 1 || threads > 64 || n < threads) { fprintf(stderr, "bad THREADS or N\n"); return 2; }
    SluiceHandle *h;
    const char *config = "[mobile]\nmax_bytes = \"512MiB\"\n[sinks.up]\ntype = \"null\"\n";
    if (sluice_open(argv[1], config, &h) != SLUICE_OK) { fprintf(stderr, "%s\n", sluice_last_error()); return 1; }
    sluice_set_network(h, SLUICE_NETWORK_OFFLINE);
    long *lat = calloc((size_t)n, sizeof *lat);
    pthread_t tid[64];
    struct job jobs[64];
    long per = n / threads;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){h, t * per, per, lat, 0};
        pthread_create(&tid[t], NULL, run, &jobs[t]);
    }
    int errors = 0;
    for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); errors += jobs[t].errors; }
    long m = per * threads;
    qsort(lat, (size_t)m, sizeof *lat, cmp);
    printf("{\"sdk\":\"sluice-c\",\"threads\":%d,\"n\":%ld,\"p50_ns\":%ld,\"p99_ns\":%ld,\"errors\":%d}\n",
           threads, m, lat[m / 2], lat[m * 99 / 100], errors);
    free(lat);
    return sluice_close(h) == SLUICE_OK && errors == 0 ? 0 : 1;
}
