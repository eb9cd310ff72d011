/* ipme: the addresses of this machine, for "the MX points back to me".
 *
 * The list is the addresses of the network interfaces (getifaddrs), plus
 * 0.0.0.0 and :: (which always mean this host), plus the addresses listed
 * in control/moreipme (for NAT or a load balancer that forwards to us),
 * minus those listed in control/notipme (for an address that is ours but
 * belongs to another mail server, as in a test setup). Both files are
 * optional and are read relative to the current directory, one address
 * per line.
 *
 * ipme_init returns 0, or -1 with errno set when the interfaces or a
 * control file cannot be read: the caller must treat that as a temporary
 * failure, since guessing could loop mail back to us.
 */
#ifndef NQ_IPME_H
#define NQ_IPME_H

#include "ipaddr.h"

int ipme_init(void);
int ipme_is(const struct ipaddr *ip);

#endif
