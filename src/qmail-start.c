/* qmail-start: starts the queue daemons (qmail-start(8)).
 *
 *   qmail-start [defaultdelivery [logger arg ...]]
 *
 * Connects qmail-send to qmail-lspawn, qmail-rspawn and qmail-clean with
 * pipes, starts each under its own user and then becomes qmail-send, so
 * that a supervisor's signals (TERM, ALRM, HUP) reach the scheduler.
 * defaultdelivery (default ./Mailbox) goes to qmail-lspawn for
 * qmail-local. With a logger, qmail-send's log goes to the logger's
 * stdin; otherwise to qmail-start's own stdout.
 *
 * Users, as qmail: qmail-send qmails, qmail-lspawn root, qmail-rspawn
 * qmailr, qmail-clean qmailq, the logger qmaill; all with group qmail,
 * the logger with nofiles. In a user instance (etc/ids mode=user) or when
 * not started as root, everything keeps the caller's ids.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "ids.h"

static struct ids ids;
static int switch_ids;

static void become(enum ids_role role, long gid)
{
	gid_t g = (gid_t)gid;
	if (!switch_ids) return;
	if (setgroups(1, &g) == -1 || setgid(g) == -1) die_temp_sys("unable to set group");
	if (setuid((uid_t)ids.uid[role]) == -1) die_temp_sys("unable to set user");
}

static void move_fd(int from, int to)
{
	if (from == to) return;
	if (dup2(from, to) == -1) die_temp_sys("unable to arrange descriptors");
	close(from);
}

int main(int argc, char **argv)
{
	int pipes[8][2]; /* 0,1 lspawn in/out; 2,3 rspawn; 4,5 clean; 6 logger */
	char *dd = argc > 1 ? argv[1] : "./Mailbox";
	char *lspawn_argv[3], *rspawn_argv[2], *clean_argv[2], *send_argv[2];
	int haslogger = argc > 2;

	die_init("qmail-start");
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	if (ids_load(&ids) == -1) die_temp_sys("unable to read etc/ids");
	switch_ids = ids.system && geteuid() == 0;

	for (int i = 0; i < 7; ++i)
		if (pipe(pipes[i]) == -1) die_temp_sys("unable to create pipes");
	/* keep the pipes clear of 0..8, which we rearrange below */
	for (int i = 0; i < 7; ++i)
		for (int k = 0; k < 2; ++k) {
			int fd;
			if (pipes[i][k] >= 9) continue;
			fd = fcntl(pipes[i][k], F_DUPFD, 9);
			if (fd == -1) die_temp_sys("unable to arrange descriptors");
			close(pipes[i][k]);
			pipes[i][k] = fd;
		}

	if (haslogger) {
		switch (fork()) {
		case -1: die_temp_sys("unable to fork");
		case 0:
			move_fd(pipes[6][0], 0);
			for (int i = 0; i < 7; ++i) {
				if (i != 6) close(pipes[i][0]);
				close(pipes[i][1]);
			}
			become(IDS_QMAILL, ids.gid_nofiles);
			execvp(argv[2], argv + 2);
			die_temp_sys("unable to run ", argv[2]);
		}
	}

	lspawn_argv[0] = "qmail-lspawn";
	lspawn_argv[1] = dd;
	lspawn_argv[2] = 0;
	rspawn_argv[0] = "qmail-rspawn";
	rspawn_argv[1] = 0;
	clean_argv[0] = "qmail-clean";
	clean_argv[1] = 0;
	for (int h = 0; h < 3; ++h) {
		static const enum ids_role roles[3] = {IDS_ALIAS, IDS_QMAILR, IDS_QMAILQ};
		static const char *const progs[3] = {AUTO_PREFIX "/bin/qmail-lspawn",
		                                     AUTO_PREFIX "/bin/qmail-rspawn",
		                                     AUTO_PREFIX "/bin/qmail-clean"};
		char **av = h == 0 ? lspawn_argv : h == 1 ? rspawn_argv : clean_argv;
		switch (fork()) {
		case -1: die_temp_sys("unable to fork");
		case 0:
			move_fd(pipes[2 * h][0], 0);      /* requests from qmail-send */
			move_fd(pipes[2 * h + 1][1], 1);  /* answers to qmail-send */
			if (haslogger) dup2(pipes[6][1], 2);
			for (int fd = 3; fd < 9; ++fd) close(fd);
			for (int i = 0; i < 7; ++i) {
				close(pipes[i][0]);
				close(pipes[i][1]);
			}
			if (h > 0) become(roles[h], ids.gid_qmail); /* lspawn stays root */
			execv(progs[h], av);
			die_temp_sys("unable to run ", progs[h]);
		}
	}

	/* qmail-send: 3/4 lspawn, 5/6 rspawn, 7/8 clean */
	move_fd(pipes[0][1], 3);
	move_fd(pipes[1][0], 4);
	move_fd(pipes[2][1], 5);
	move_fd(pipes[3][0], 6);
	move_fd(pipes[4][1], 7);
	move_fd(pipes[5][0], 8);
	if (haslogger) {
		if (dup2(pipes[6][1], 1) == -1 || dup2(pipes[6][1], 2) == -1)
			die_temp_sys("unable to arrange descriptors");
	}
	for (int i = 0; i < 7; ++i)
		for (int k = 0; k < 2; ++k)
			if (pipes[i][k] > 8) close(pipes[i][k]);
	become(IDS_QMAILS, ids.gid_qmail);
	send_argv[0] = "qmail-send";
	send_argv[1] = 0;
	execv(AUTO_PREFIX "/bin/qmail-send", send_argv);
	die_temp_sys("unable to run qmail-send");
}
