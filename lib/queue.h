/* queue: the on-disk queue layout shared by qmail-queue, qmail-send,
 * qmail-clean, qmail-qread and qmail-qstat (docs/QUEUE.md explains it).
 *
 * Every message lives in one immutable file, mess/ID, written once by
 * qmail-queue and made durable with one file fsync and one directory
 * fsync. ID is the file's inode number. The file is
 *   a 64-byte header  "NQM1 birth_sec birth_nsec qp uid msglen envlen"
 *   the message       (msglen bytes, starting with qmail-queue's Received:)
 *   the envelope      (envlen bytes: Fsender\0Trecip\0...\0)
 * qmail-send keeps its own, non-durable state in info/ID (which
 * recipients are done, when to retry) and the failure reports in
 * bounce/ID; both can be rebuilt from mess/ID, so losing them in a crash
 * repeats deliveries but never loses one.
 *
 * Functions return 0 on success and -1 on failure with errno set
 * (EINVAL for a file whose contents do not parse).
 */
#ifndef NQ_QUEUE_H
#define NQ_QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

#define QUEUE_DIR "queue"
/* The most deliveries qmail-send runs at once per channel (qmail's
 * compile-time limit is 120); qmail-showctl prints it. */
#define QUEUE_CONCURRENCY_MAX 500
#define QUEUE_HEADER_LEN 64
#define QUEUE_INFO_HEADER_LEN 96

struct queue_header {
	unsigned long birth;      /* seconds since the epoch */
	unsigned long birth_nsec; /* with the inode, identifies the message */
	unsigned long qp;         /* pid of the qmail-queue that wrote it */
	unsigned long uid;        /* real uid of qmail-queue's caller */
	unsigned long msglen;
	unsigned long envlen;
};

/* Writes exactly QUEUE_HEADER_LEN bytes into out. */
void queue_header_format(char *out, const struct queue_header *h);
int queue_header_parse(const char *s, size_t len, struct queue_header *h);
/* Reads and checks the header of an open message file; the file must be
 * exactly as long as the header says. */
int queue_header_read(int fd, struct queue_header *h);
/* Reads the envelope of an open message file into env. */
int queue_envelope_read(int fd, const struct queue_header *h, struct str *env);
/* Checks env ("F...\0T...\0...\0"): 1 well formed, 0 not. */
int queue_envelope_valid(const char *env, size_t len);

/* "mess/123" and the like, relative to the queue directory. */
void queue_path(struct str *out, const char *dir, unsigned long id);

/* pool/: emptied message files that qmail-clean keeps for qmail-queue
 * to write the next message into, so that a steady flow of mail
 * allocates and frees no inodes (docs/QUEUE.md, "pool/"). Slots are
 * named pool/0 .. pool/QUEUE_POOL_SLOTS-1; both sides probe a few slots
 * from a starting point derived from seed; a taker that finds nothing
 * there reads the directory, a giver gives up.
 * queue_pool_take renames a pooled file to dest: 0 taken, -1 none (or
 * no pool/); the taker must still check what it got (one link, ours).
 * queue_pool_give moves the file at path, which the caller has emptied
 * while the name was still its own, into a free slot (atomically: it is
 * in one place or the other): 0 given, -1 the pool is full or cannot be
 * used (the caller unlinks). After a 0 the file is no longer the caller's:
 * a qmail-queue may be writing the next message into it already. */
#define QUEUE_POOL_SLOTS 4096
#define QUEUE_POOL_PROBES 8
int queue_pool_take(const char *dest, unsigned long seed);
int queue_pool_give(const char *path, unsigned long seed);

/* info/ID: qmail-send's state for one message.
 *   a 96-byte header "NQI1 birth_sec birth_nsec next_local next_remote nrecip"
 *   the sender, NUL-terminated
 *   per recipient: status byte, channel byte ('L' or 'R'), address, NUL
 * Status bytes: QUEUE_TODO, QUEUE_DONE, QUEUE_FAILED (report in bounce/ID).
 * Statuses and retry times are rewritten in place. */
#define QUEUE_TODO '.'
#define QUEUE_DONE 'D'
#define QUEUE_FAILED 'F'

struct queue_info {
	unsigned long birth;
	unsigned long birth_nsec;
	unsigned long next[2]; /* [0] local, [1] remote */
	unsigned long nrecip;
	struct str sender;
	struct str recips;     /* the raw recipient records */
};

void queue_info_format_header(char *out, const struct queue_info *in);
int queue_info_parse(const char *s, size_t len, struct queue_info *out);
/* Offset of the sender in an info file. */
#define QUEUE_INFO_SENDER_AT QUEUE_INFO_HEADER_LEN

#endif
