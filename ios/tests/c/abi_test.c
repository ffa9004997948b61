/* The C ABI from C: the scenarios of the Kotlin tests, plus NULLs, bad
 * arguments and use after close. Requests go out through an app-side uploader
 * loop (uploader.c), as on a phone. Run by ios/tests/c_abi.rs under
 * AddressSanitizer (leaks included). Usage: abi_test URL DATA_DIR */
#define _POSIX_C_SOURCE 200809L
#include "sluice.h"
#include "uploader.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, " (last error: %s)\n", sluice_last_error()); \
            failures++;                                               \
        }                                                             \
    } while (0)

#define EXPECT(call, want) \
    do { int32_t got_ = (call); CHECK(got_ == (want), "%s = %d, want %d", #call, got_, (want)); } while (0)

static char config[1024];

static int32_t record_n(SluiceHandle *h, const char *thread, int i) {
    char body[64], n[16];
    snprintf(body, sizeof body, "event %d from %s", i, thread);
    snprintf(n, sizeof n, "%d", i);
    SluiceHeader headers[2] = {{"thread", thread}, {"n", n}};
    return sluice_record(h, (const uint8_t *)body, strlen(body), headers, 2, SLUICE_PRIORITY_NORMAL);
}

struct worker { SluiceHandle *h; char name[16]; int errors; };

struct closer { SluiceHandle *h; int32_t status; };

static void *close_in_thread(void *arg) {
    struct closer *c = arg;
    c->status = sluice_close(c->h);
    return NULL;
}

static void *record_many(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < 1000; i++)
        if (record_n(w->h, w->name, i) != SLUICE_OK) w->errors++;
    return NULL;
}

static void bad_arguments(SluiceHandle *h) {
    const uint8_t body[] = "x";
    SluiceHeader null_key[1] = {{NULL, "v"}};
    SluiceHeader null_value[1] = {{"k", NULL}};
    SluiceHeader empty_key[1] = {{"", "v"}};
    SluiceHeader bad_utf8[1] = {{"\xff\xfe", "v"}};
    EXPECT(sluice_record(h, NULL, 5, NULL, 0, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    CHECK(strstr(sluice_last_error(), "body is NULL") != NULL, "message names the body");
    EXPECT(sluice_record(h, body, 1, NULL, 2, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_record(h, body, 1, null_key, 1, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    CHECK(strstr(sluice_last_error(), "headers[0].key is NULL") != NULL, "message names the key");
    EXPECT(sluice_record(h, body, 1, null_value, 1, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_record(h, body, 1, empty_key, 1, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_record(h, body, 1, bad_utf8, 1, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    CHECK(strstr(sluice_last_error(), "UTF-8") != NULL, "message says UTF-8");
    EXPECT(sluice_record(h, body, 1, NULL, 0, 7), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_record(h, body, 1, NULL, 100000, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_record(h, body, (size_t)1 << 40, NULL, 0, SLUICE_PRIORITY_NORMAL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_set_network(h, 9), SLUICE_ERR_ARGUMENT);
    /* The uploader's calls. */
    EXPECT(sluice_upload_take(h, 0, NULL), SLUICE_ERR_ARGUMENT);
    /* A status no server gives is taken as no answer (for an unknown id: stale). */
    EXPECT(sluice_upload_finish(h, 1, 700, NULL, NULL, 0, NULL), SLUICE_STALE);
    EXPECT(sluice_upload_finish(h, 1, 200, NULL, NULL, 5, NULL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_upload_finish(h, 1, 200, "\xff", NULL, 0, NULL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_upload_finish(h, 123456789, 200, NULL, NULL, 0, NULL), SLUICE_STALE);
    EXPECT(sluice_upload_finish(NULL, 1, 200, NULL, NULL, 0, NULL), SLUICE_ERR_ARGUMENT);
    sluice_upload_task_free(NULL);
    /* An empty body is a valid event. */
    EXPECT(sluice_record(h, NULL, 0, NULL, 0, SLUICE_PRIORITY_LOW), SLUICE_OK);
}

static int log_lines = 0;
static void count_log(int32_t level, const char *message, void *context) {
    (void)level;
    if (message && strstr(message, "purged")) (*(int *)context)++;
}

/* What the Swift layer calls beyond recording: the platform's facts, typed
 * stats, consent, purge, the background task, and the log callback. */
static void platform_and_consent(const char *dir) {
    SluiceHandle *h = NULL;
    EXPECT(sluice_set_log_callback(count_log, &log_lines, SLUICE_LOG_INFO), SLUICE_OK);
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    struct uploader up = {0};
    uploader_start(&up, h);
    SluiceStats stats;
    EXPECT(sluice_stats(h, NULL), SLUICE_ERR_ARGUMENT);

    /* A network without validation (a captive portal) is offline; metered is metered. */
    EXPECT(sluice_set_network_state(h, true, false, false), SLUICE_OK);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(stats.network == SLUICE_NETWORK_OFFLINE && stats.uploads_paused == SLUICE_PAUSED_OFFLINE,
          "not validated: network %d, paused %d", stats.network, stats.uploads_paused);
    for (int i = 0; i < 10; i++) EXPECT(record_n(h, "platform", i), SLUICE_OK);
    EXPECT(sluice_flush(h, 100), SLUICE_PENDING);
    EXPECT(sluice_background_job(h), SLUICE_JOB_ANY_NETWORK);
    EXPECT(sluice_set_network_state(h, true, true, true), SLUICE_OK);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(stats.network == SLUICE_NETWORK_METERED, "metered: %d", stats.network);

    /* Low Power Mode pauses (pause_on_low_battery is on by default); charging lifts it. */
    EXPECT(sluice_set_battery(h, false, 80, true), SLUICE_OK);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(stats.uploads_paused == SLUICE_PAUSED_LOW_BATTERY, "power save: paused %d", stats.uploads_paused);
    EXPECT(sluice_set_battery(h, true, 5, false), SLUICE_OK);
    EXPECT(sluice_run_background_task(h), SLUICE_OK);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(stats.pending_events == 0 && stats.delivered == 10 && stats.last_upload_ms > 0,
          "the background task delivered: pending %llu, delivered %llu", (unsigned long long)stats.pending_events,
          (unsigned long long)stats.delivered);
    EXPECT(sluice_background_job(h), SLUICE_JOB_NONE);

    /* Consent: off purges, refuses records (counted), and lasts across a reopen. */
    EXPECT(sluice_set_network_state(h, false, false, false), SLUICE_OK);
    for (int i = 0; i < 4; i++) EXPECT(record_n(h, "consent", i), SLUICE_OK);
    EXPECT(sluice_set_upload_enabled(h, false), SLUICE_OK);
    EXPECT(record_n(h, "consent", 99), SLUICE_DISABLED);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(!stats.upload_enabled && stats.purged == 4 && stats.dropped == 1 && stats.pending_events == 0 &&
              stats.uploads_paused == SLUICE_PAUSED_UPLOAD_DISABLED,
          "consent off: enabled %d, purged %llu, dropped %llu, pending %llu", stats.upload_enabled,
          (unsigned long long)stats.purged, (unsigned long long)stats.dropped, (unsigned long long)stats.pending_events);
    EXPECT(sluice_background_job(h), SLUICE_JOB_NONE);
    EXPECT(sluice_close(h), SLUICE_OK);
    uploader_join(&up);
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    EXPECT(sluice_stats(h, &stats), SLUICE_OK);
    CHECK(!stats.upload_enabled, "uploads stay off across a reopen");
    EXPECT(sluice_set_upload_enabled(h, true), SLUICE_OK);
    for (int i = 0; i < 3; i++) EXPECT(record_n(h, "purge", i), SLUICE_OK);
    uint64_t purged = 0;
    EXPECT(sluice_purge(h, &purged), SLUICE_OK);
    CHECK(purged == 3, "purge removed %llu", (unsigned long long)purged);
    EXPECT(sluice_purge(h, NULL), SLUICE_OK);
    EXPECT(sluice_close(h), SLUICE_OK);
    EXPECT(sluice_set_upload_enabled(h, true), SLUICE_ERR_CLOSED);
    EXPECT(sluice_purge(h, &purged), SLUICE_ERR_CLOSED);
    EXPECT(sluice_stats(h, &stats), SLUICE_ERR_CLOSED);
    EXPECT(sluice_run_background_task(h), SLUICE_ERR_CLOSED);
    CHECK(log_lines >= 2, "the log callback saw %d purges", log_lines);
    EXPECT(sluice_set_log_callback(NULL, NULL, SLUICE_LOG_INFO), SLUICE_OK);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: abi_test URL DATA_DIR\n"); return 2; }
    snprintf(config, sizeof config,
             "[mobile]\ncommit_interval = \"20ms\"\n"
             "[sinks.up]\ntype = \"http\"\nurl = \"%s\"\nbatch = { linger = \"0ms\" }\n", argv[1]);
    const char *dir = argv[2];
    SluiceHandle *h = NULL;

    CHECK(strncmp(sluice_version(), "sluice ", 7) == 0, "version is %s", sluice_version());
    EXPECT(sluice_open(NULL, config, &h), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_open(dir, NULL, &h), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_open(dir, config, NULL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_open(dir, "[mobile]\nupload_on = 3\n[sinks.up]\ntype = \"null\"\n", &h), SLUICE_ERR_CONFIG);
    CHECK(strstr(sluice_last_error(), "<config>:2") != NULL, "config error names the line");
    CHECK(h == NULL, "a failed open leaves *out alone");

    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    CHECK(h != NULL, "open gives a handle");
    SluiceHandle *second = NULL;
    EXPECT(sluice_open(dir, config, &second), SLUICE_ERR_STORAGE);
    SluiceUploadTask *task = NULL;
    EXPECT(sluice_upload_take(h, 0, &task), SLUICE_PENDING);
    CHECK(task == NULL, "nothing to send before anything was recorded");
    struct uploader up = {0};
    uploader_start(&up, h);

    for (int i = 0; i < 100; i++) EXPECT(record_n(h, "main", i), SLUICE_OK);
    bad_arguments(h);

    pthread_t threads[8];
    struct worker workers[8];
    for (int t = 0; t < 8; t++) {
        workers[t].h = h;
        workers[t].errors = 0;
        snprintf(workers[t].name, sizeof workers[t].name, "t%d", t);
        pthread_create(&threads[t], NULL, record_many, &workers[t]);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].errors == 0, "thread %d had %d errors", t, workers[t].errors);
    }
    EXPECT(sluice_set_power(h, true, false), SLUICE_OK);
    EXPECT(sluice_set_foreground(h, true), SLUICE_OK);
    EXPECT(sluice_flush(h, 20000), SLUICE_OK);
    char *stats = sluice_stats_json(h);
    CHECK(stats != NULL, "stats");
    if (stats) {
        CHECK(strstr(stats, "\"delivered\":8101") != NULL, "stats: %s", stats);
        CHECK(strstr(stats, "\"pending_events\":0") != NULL, "stats: %s", stats);
    }
    sluice_string_free(stats);
    sluice_string_free(NULL);

    /* Offline: flush cannot deliver and says so. */
    EXPECT(sluice_set_network(h, SLUICE_NETWORK_OFFLINE), SLUICE_OK);
    EXPECT(sluice_record_sync(h, (const uint8_t *)"late", 4, NULL, 0, SLUICE_PRIORITY_HIGH), SLUICE_OK);
    EXPECT(sluice_flush(h, 100), SLUICE_PENDING);

    /* A new configuration: the same sink with another batch size applies;
     * invalid text and a store limit (which needs a reopen) are refused. */
    char changed[1100];
    snprintf(changed, sizeof changed, "%s", config);
    char *linger = strstr(changed, "linger = \"0ms\"");
    CHECK(linger != NULL, "the config has a linger to change");
    if (linger) memcpy(linger, "linger = \"1ms\"", strlen("linger = \"1ms\""));
    EXPECT(sluice_set_config(h, changed), SLUICE_OK);
    EXPECT(sluice_set_config(h, "[mobile]\nupload_on = 3\n[sinks.up]\ntype = \"null\"\n"), SLUICE_ERR_CONFIG);
    CHECK(strstr(sluice_last_error(), "<config>:2") != NULL, "set_config names the line: %s", sluice_last_error());
    char limited[1200];
    snprintf(limited, sizeof limited, "[mobile]\ncommit_interval = \"20ms\"\nmax_bytes = \"1MiB\"\n%s", strstr(config, "[sinks.up]"));
    EXPECT(sluice_set_config(h, limited), SLUICE_ERR_CONFIG);
    CHECK(strstr(sluice_last_error(), "store's limits") != NULL, "why: %s", sluice_last_error());
    EXPECT(sluice_set_config(h, NULL), SLUICE_ERR_ARGUMENT);
    EXPECT(sluice_set_config(NULL, config), SLUICE_ERR_ARGUMENT);

    EXPECT(sluice_close(h), SLUICE_OK);
    EXPECT(sluice_set_config(h, config), SLUICE_ERR_CLOSED);
    uploader_join(&up);
    CHECK(up.errors == 0 && up.failed == 0 && up.sent > 0, "uploader: %d sent, %d failed, %d errors", up.sent, up.failed, up.errors);
    EXPECT(sluice_upload_take(h, 0, &task), SLUICE_ERR_CLOSED);
    EXPECT(record_n(h, "main", 0), SLUICE_ERR_CLOSED);
    EXPECT(sluice_flush(h, 10), SLUICE_ERR_CLOSED);
    EXPECT(sluice_set_network(h, SLUICE_NETWORK_UNMETERED), SLUICE_ERR_CLOSED);
    CHECK(sluice_stats_json(h) == NULL, "stats after close is NULL");
    EXPECT(sluice_close(h), SLUICE_OK); /* a second close does nothing */
    EXPECT(sluice_close((SluiceHandle *)(uintptr_t)0xdead), SLUICE_ERR_CLOSED);
    EXPECT(sluice_close(NULL), SLUICE_ERR_ARGUMENT);
    EXPECT(record_n(NULL, "main", 0), SLUICE_ERR_ARGUMENT);
    EXPECT(record_n((SluiceHandle *)(uintptr_t)0xdead, "main", 0), SLUICE_ERR_CLOSED);

    /* Reopen: the event recorded offline was kept and is shipped now. */
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    uploader_start(&up, h);
    EXPECT(sluice_flush(h, 20000), SLUICE_OK);
    EXPECT(sluice_close(h), SLUICE_OK);
    uploader_join(&up);
    CHECK(up.errors == 0 && up.sent > 0, "uploader after reopen: %d sent, %d errors", up.sent, up.errors);

    /* Closing while the app's uploader is sending: close waits for the answer
     * (within its bound) and keeps it, so the batch is not sent again. */
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    struct uploader slow = {0};
    slow.delay_ms = 300;
    uploader_start(&slow, h);
    EXPECT(sluice_record_sync(h, (const uint8_t *)"in flight at close", 18, NULL, 0, SLUICE_PRIORITY_NORMAL), SLUICE_OK);
    CHECK(uploader_wait_taken(&slow, 1, 10000), "the uploader took no request within 10 s");
    EXPECT(sluice_close(h), SLUICE_OK);
    uploader_join(&slow);
    CHECK(slow.sent == 1 && slow.late == 0 && slow.errors == 0, "slow uploader: %d sent, %d late, %d errors",
          slow.sent, slow.late, slow.errors);
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    char *after = sluice_stats_json(h);
    CHECK(after && strstr(after, "\"pending_events\":0") != NULL, "the answered batch was kept: %s", after ? after : "");
    sluice_string_free(after);
    EXPECT(sluice_close(h), SLUICE_OK);

    /* Two closes at once while the uploader is sending: both return once the
     * store is released, and the answer in flight still counts. */
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    uploader_start(&slow, h);
    EXPECT(sluice_record_sync(h, (const uint8_t *)"in flight at two closes", 23, NULL, 0, SLUICE_PRIORITY_NORMAL),
           SLUICE_OK);
    CHECK(uploader_wait_taken(&slow, 1, 10000), "the uploader took no request within 10 s");
    struct closer other = {h, -100};
    pthread_t other_thread;
    pthread_create(&other_thread, NULL, close_in_thread, &other);
    struct timespec apart = {0, 50 * 1000000L};
    nanosleep(&apart, NULL);
    int32_t mine = sluice_close(h);
    pthread_join(other_thread, NULL);
    CHECK(mine == SLUICE_OK && other.status == SLUICE_OK, "two closes returned %d and %d", mine, other.status);
    uploader_join(&slow);
    CHECK(slow.sent == 1 && slow.late == 0 && slow.errors == 0, "uploader at two closes: %d sent, %d late, %d errors",
          slow.sent, slow.late, slow.errors);
    EXPECT(sluice_open(dir, config, &h), SLUICE_OK);
    after = sluice_stats_json(h);
    CHECK(after && strstr(after, "\"pending_events\":0") != NULL, "the batch answered at two closes was kept: %s",
          after ? after : "");
    sluice_string_free(after);
    EXPECT(sluice_close(h), SLUICE_OK);

    platform_and_consent(dir);

    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("all C ABI checks passed\n");
    return 0;
}
