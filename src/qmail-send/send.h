/* qmail-send internals: one header for the scheduler's few files.
 *   main.c     configuration, the event loop, signals, logging
 *   msgs.c     the message table, retry heaps, info/ files, todo/ intake
 *   deliver.c  jobs and delivery slots, the pipes to the spawn helpers
 *   bounce.c   failure reports, bounce messages, finishing messages
 *   dsn.c      the RFC 3464 form of a bounce (control/bouncedsn)
 */
#ifndef NQ_SEND_H
#define NQ_SEND_H

#include <stddef.h>
#include <time.h>

#include "route.h"
#include "str.h"

#define CHANNELS 2
#define CH_LOCAL 0
#define CH_REMOTE 1
#define NOT_IN_HEAP ((size_t)-1)

struct msg {
	unsigned long id;
	unsigned long birth, birth_nsec;
	unsigned long next[CHANNELS];   /* when the channel is due */
	unsigned long qp;
	unsigned nrecip;
	unsigned pending[CHANNELS];     /* recipients still to deliver */
	unsigned inflight[CHANNELS];
	unsigned failed;                /* failed, bounce not yet sent */
	size_t heap[CHANNELS];
	unsigned char busy[CHANNELS];   /* a job is open on the channel */
	unsigned char finishing;        /* qmail-clean asked to remove it */
	unsigned char marker;           /* todo/ID removal outstanding */
	unsigned char on_disk;          /* info/ID exists (else it is in mem) */
	time_t bounce_retry;            /* bounce injection failed: not before */
	struct str *mem;                /* info/ID's content, not yet written */
	struct msg *hnext;
};

struct config {
	struct route route;
	unsigned long concurrency[CHANNELS];
	unsigned long lifetime;
	struct str bouncefrom, bouncehost, doublebounceto, doublebouncehost;
	int localtime;
	int dsn;                      /* control/bouncedsn: RFC 3464 bounces */
	unsigned long dsnmaxbytes;    /* longer originals: header only */
};

extern struct config cfg;
extern time_t now;
extern int exiting;

/* main.c */
void log_line(const char *first, ...);  /* pieces, NULL-terminated, "\n" added */
void log_safe(struct str *out, const char *s, size_t len);
void log_flush(void);
#define say(...) log_line(__VA_ARGS__, (const char *)0)

/* msgs.c */
struct msg *msgs_find(unsigned long id);
void msgs_forget(struct msg *m);
void msgs_schedule(struct msg *m, int c);   /* (re)insert in the channel heap */
struct msg *msgs_due(int c);               /* pops a due message, or NULL */
unsigned long msgs_wakeup(int c);          /* earliest due time, 0 none */
void msgs_all_now(void);                   /* ALRM */
void msgs_startup_scan(void);
void msgs_rescan(void);
void msgs_todo_wanted(void);
int msgs_todo_step(unsigned max);          /* takes in up to max new messages */
int msgs_todo_busy(void);
void msgs_todo_after_finish(void);         /* a finished message freed an ID */
void msgs_hint(unsigned long id);          /* an ID read from lock/trigger */
int msgs_hints_step(unsigned max);         /* takes in up to max hinted messages */
int msgs_hints_busy(void);
int msgs_hints_full(void);                 /* stop reading lock/trigger */
void msgs_hints_retry(void);               /* a message was forgotten */
unsigned long msgs_hints_wakeup(void);     /* when waiting hints are due, 0 none */
unsigned long msgs_count(void);
int msgs_write_header(int fd, const struct msg *m);
int msgs_info_flush(struct msg *m);        /* info held in memory to info/ID */
void msgs_done_note(struct msg *m);        /* finished: note it if no info/ID says so */
void msgs_info_name(struct str *fn, unsigned long id);

/* deliver.c */
void deliver_init(void);
int deliver_fd(int c);          /* the report pipe to poll */
int deliver_read(int c);        /* 0 ok, -1 helper gone */
void deliver_dispatch(void);
unsigned deliver_inflight(void);
int deliver_slots_free(int c);
void deliver_status(void);

/* bounce.c */
void finish_check(struct msg *m);  /* bounce and/or remove when all done */
void bounce_add(struct msg *m, unsigned idx, const char *recip, size_t rlen,
                const char *report, size_t len);
int clean_fd(void);
int clean_read(void);           /* 0 ok, -1 qmail-clean gone */
void clean_request(char kind, struct msg *m);
void clean_sweep(void);
void bounce_retry_due(void);
unsigned long bounce_wakeup(void);

/* dsn.c: the parts of an RFC 3464 bounce, around bounce.c's text. */
void dsn_boundary(struct str *out, unsigned long id);
void dsn_head(struct str *out, const struct str *boundary);
void dsn_status_part(struct str *out, const struct str *boundary, unsigned long birth,
                     const struct str *reports);
void dsn_message_part(struct str *out, const struct str *boundary, int headers_only);
void dsn_end(struct str *out, const struct str *boundary, int ends_in_newline);

#endif
