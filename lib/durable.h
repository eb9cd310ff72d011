/* durable: the one place that decides when data reaches the disk.
 *
 * Callers say what must survive a crash; this module issues the fsyncs.
 * A file is durable after durable_file(); a name created in a directory
 * (by open, link or rename) is durable after durable_dir() on that
 * directory. All functions return 0 or -1 with errno set; EINTR is retried.
 */
#ifndef NQ_DURABLE_H
#define NQ_DURABLE_H

#include <stddef.h>

int durable_file(int fd);
int durable_dir(const char *dir);
int durable_dir_fd(int dirfd);
/* Writes all of data, retrying short writes. */
int durable_write_all(int fd, const char *data, size_t len);
/* Makes tmp's contents durable under the name final: link(tmp, final),
 * then the directory of final is synced, then tmp is removed. The caller
 * must have made the file itself durable (durable_file) first. Fails with
 * EEXIST if final exists. */
int durable_publish(const char *tmp, const char *final);
/* Atomically replaces final by tmp (rename), then syncs the directory
 * of final, so that readers see the old file or the new one, never a
 * mixture, and the new one survives a crash once this returns. The
 * caller must have made tmp durable (durable_file) first. */
int durable_replace(const char *tmp, const char *final);

#endif
