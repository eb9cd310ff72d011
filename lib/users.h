/* users: which local user handles a local address (qmail-users(5)).
 *
 * users_lookup decides it the way qmail-lspawn does. The address is
 * lowercased and looked up in users/cdb (built by qmail-newu): a simple
 * ("=") assignment for the whole address wins; otherwise the longest
 * wildcard ("+") assignment whose prefix starts the address applies, and
 * what follows the prefix, in its original case, is appended to the
 * entry's ext. An address users/cdb does not list (or every address, when
 * users/cdb does not exist) is handed to qmail-getpw, whose output
 * "user\0uid\0gid\0home\0dash\0ext\0" is parsed.
 *
 * Paths are relative to the current directory: callers chdir to the
 * install root first. The cdb layout is qmail's, so a users/cdb written by
 * qmail's qmail-newu works here and ours works with qmail:
 *   key ""           value: the last bytes of all wildcard prefixes
 *   key "!" loc "\0" value: user\0uid\0gid\0home\0dash\0ext  (simple)
 *   key "!" loc      value: user\0uid\0gid\0home\0dash\0pre  (wildcard)
 * with loc lowercased.
 *
 * Failures: users_lookup returns -1 for anything that may go away by
 * itself (users/cdb unreadable or corrupt, qmail-getpw not runnable or
 * failing, an NFS error on a home directory); users_reason() then says
 * what happened in a sentence fit for a delivery report. It returns 0 only
 * when nobody handles the address: qmail-getpw found no user and there is
 * no "alias" user. qmail reports that case as a temporary failure
 * ("Unable to find alias user!"), and qmail-lspawn should do the same.
 *
 * qmail-getpw is waited for by its pid: a caller must not reap children
 * it did not start (waitpid(-1) from a SIGCHLD handler) during a lookup.
 */
#ifndef NQ_USERS_H
#define NQ_USERS_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

struct users_entry {
	struct str user;
	unsigned long uid;
	unsigned long gid;
	struct str home;
	struct str dash;
	struct str ext;
};
#define USERS_ENTRY_INIT                                                                           \
	{                                                                                          \
		STR_INIT, 0, 0, STR_INIT, STR_INIT, STR_INIT                                       \
	}

/* 1 found (out filled), 0 no such user, -1 temporary failure. out must be
 * initialised (USERS_ENTRY_INIT or a previous lookup); it is reused. */
int users_lookup(const char *local, size_t len, struct users_entry *out);
/* users_lookup's first half, which never blocks for long (a few reads of
 * users/cdb): 1 found in users/cdb (out filled), 0 not listed there (or no
 * users/cdb: users_lookup would ask qmail-getpw), -1 failure, as users_lookup. */
int users_lookup_assign(const char *local, size_t len, struct users_entry *out);
/* Why the last users_lookup returned -1 (or 0). Never NULL. */
const char *users_reason(void);
void users_entry_free(struct users_entry *e);

/* qmail-getpw as users_lookup runs it: the program (default
 * AUTO_PREFIX "/bin/qmail-getpw"), and, for a root caller, the uid and gid
 * it runs under (qmail: qmailp and nofiles). -1 keeps the caller's ids. */
void users_getpw_program(const char *path);
void users_getpw_ids(long uid, long gid);

/* Parses qmail-getpw's output, or a users/cdb value with the wildcard rest
 * already appended: user\0uid\0gid\0home\0dash\0ext with the final NUL
 * optional. 1 ok, 0 malformed. */
int users_parse(const char *s, size_t len, struct users_entry *out);

#endif
