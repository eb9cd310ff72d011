/* sig: small signal helpers. */
#ifndef NQ_SIG_H
#define NQ_SIG_H

void sig_ignore(int sig);
void sig_default(int sig);
void sig_catch(int sig, void (*handler)(int));
void sig_block(int sig);
void sig_unblock(int sig);

#endif
