/* The delivery engine inside the running server: knows every queued
 * message, tries each when it is due, records the outcome per recipient,
 * retries with backoff, bounces, and removes what is done. Loop only. */
#ifndef MW_QUEUE_DELIVER_H
#define MW_QUEUE_DELIVER_H

/* Reads the queue and starts delivering. After pool_start(). */
void deliver_start(void);
/* Settings or the queue changed (meta.queue_gen, bumped by the CLI). */
void deliver_reload(void);
/* The server is stopping: ends sessions; nothing new starts. Safe to
 * call more than once. */
void deliver_stop(void);
/* A message was just queued (called by submit). */
void deliver_queued(const char *id);

#endif
