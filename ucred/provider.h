/*
 * What a layer above ucred/ plugs into it. ucred/ calls nothing above itself:
 * a socket layer with descriptors of its own (libucstack's libsock/) registers
 * the range it hands out and a callback that finds a descriptor's peer, and
 * getpeerucred() dispatches those descriptors to it; the credential table
 * registers what to do with a credential whose last reference goes. Private
 * to ucstack: libucred exports these for libucstack alone.
 */
#ifndef UCS_UCRED_PROVIDER_H
#define UCS_UCRED_PROVIDER_H

#include "cred.h"

#include <stdbool.h>

/* The peer of fd: 0 with *peer borrowed (valid until the socket closes), or a
 * negative errno as getpeerucred() documents it: -EBADF (no such descriptor),
 * -ENOTSUP (not a stream socket), -ENOTCONN (not connected), -EINVAL
 * (connected, peer's credential unknown). Called on the caller's thread. */
typedef int (*ucs_ucred_peer_fn)(int fd, const struct ucs_cred **peer);

/* From now on getpeerucred() asks peer about descriptors in [fd_lo, fd_hi).
 * Registering the same range and callback again does nothing. Returns 0, or
 * -1 with errno EINVAL (an empty range, no callback), EBUSY (another provider
 * holds part of the range) or ENOSPC (too many providers). Never undone: a
 * library's callbacks live as long as the process. */
int ucs_ucred_register_provider(int fd_lo, int fd_hi, ucs_ucred_peer_fn peer);

/* Called with a credential whose last reference is being released, on any
 * thread. It returns true when it took the credential (the table withdraws
 * what it published of it on the stack's thread, then frees it with
 * ucs_cred_free()); false, and the credential is freed at once. One hook;
 * NULL removes it. */
void ucs_cred_on_last_release(bool (*hook)(struct ucs_cred *cred));

/* ucred/'s own side (provider.c): the provider registered for fd, NULL for
 * the kernel's; and the offer of a credential whose last reference went to
 * the release hook (true when the hook took it). */
ucs_ucred_peer_fn ucred_provider_of(int fd);
bool ucred_last_release(struct ucs_cred *cred);

#endif
