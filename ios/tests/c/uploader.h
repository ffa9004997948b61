/* An app's uploader loop in plain C (what URLSessionUploader does in Swift):
 * take a request from Sluice, POST it over a socket, report what came back. */
#ifndef SLUICE_TEST_UPLOADER_H
#define SLUICE_TEST_UPLOADER_H

#include "sluice.h"

#include <pthread.h>

struct uploader {
    SluiceHandle *h;
    pthread_t thread;
    int sent;     /* requests answered by the upstream */
    int failed;   /* requests with no answer (reported as network errors) */
    int errors;   /* calls that returned an unexpected status */
    int late;     /* answers Sluice no longer waited for (SLUICE_STALE or closed) */
    int delay_ms; /* set before starting: wait this long before sending each request */
    int taken;    /* requests taken so far (atomic: read while the loop runs) */
};

/* Starts the loop on its own thread; it ends when the handle closes. */
void uploader_start(struct uploader *u, SluiceHandle *h);
/* Waits up to timeout_ms until the loop has taken n requests; 1 if it did. */
int uploader_wait_taken(struct uploader *u, int n, int timeout_ms);
/* Waits for the loop to end (call after sluice_close). */
void uploader_join(struct uploader *u);

#endif
