/* ids: the uids and gids of qmail's users and groups for this install.
 *
 * scripts/install.sh writes PREFIX/etc/ids when it installs:
 *   mode=system            (or mode=user for a user instance)
 *   alias=UID:GID  qmaild=..  qmaill=..  qmailp=..  qmailq=..  qmailr=..
 *   qmails=..  qmail=GID  nofiles=GID
 * In a system install these are qmail's users, looked up by name at
 * install time; in a user instance every entry is the installing user.
 * Nothing is compiled in, so the same build serves both.
 *
 * A missing file reads as a user instance owned by the current real uid,
 * so a tree that predates ids keeps working. A file that exists but cannot
 * be read or parsed is an error (-1, errno set): callers fail temporarily
 * rather than guess whom to run as.
 */
#ifndef NQ_IDS_H
#define NQ_IDS_H

enum ids_role { IDS_ALIAS, IDS_QMAILD, IDS_QMAILL, IDS_QMAILP, IDS_QMAILQ,
                IDS_QMAILR, IDS_QMAILS, IDS_ROLES };

struct ids {
	int system;               /* 1 system install, 0 user instance */
	long uid[IDS_ROLES];
	long gid[IDS_ROLES];      /* primary group of each user */
	long gid_qmail;
	long gid_nofiles;
};

/* Reads AUTO_PREFIX/etc/ids. 0 ok, -1 error. */
int ids_load(struct ids *out);
/* Parses the file's contents. 0 ok, -1 malformed. */
int ids_parse(const char *s, unsigned long len, struct ids *out);

#endif
