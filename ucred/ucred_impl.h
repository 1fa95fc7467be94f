/* ucred/'s private parts: the layout of a ucred_t and the helpers its files share. */
#ifndef UCS_UCRED_IMPL_H
#define UCS_UCRED_IMPL_H

#include <ucred.h>

#include "cred.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Every ucred_t is ucred_size() bytes: this header plus room for the most
 * supplementary groups a process can have. A field that is unknown holds -1
 * (a pid of 0 or less is unknown too), a missing label is "", no pidfd is -1.
 */
struct ucred_s {
    pid_t pid;
    int pidfd;
    struct ucs_pidfd *shared_pidfd; /* pidfd's holder when it is shared (a stack peer's), else NULL */
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    int ngroups;
    char label[UCS_CRED_LABEL_MAX];
    gid_t groups[];
};

/* The most groups a ucred_t holds: the system's NGROUPS_MAX, fixed for the process. */
size_t ucred_groups_max(void);

/* A new ucred_t with every field unknown, registered as ours; NULL with errno
 * EAGAIN (or the injected error). */
ucred_t *ucred_alloc(void);

/* Replaces what uc holds (allocating it when *ucp is NULL) with cred and pidfd,
 * which the ucred_t then owns; with pidfd -1, the pidfd cred shares (a peer's:
 * a reference, no system call), if any. Returns 0, or -1 with errno EAGAIN or
 * ENOMEM (more groups than a ucred_t holds) and nothing changed, pidfd not taken. */
int ucred_store(ucred_t **ucp, const struct ucs_cred *cred, int pidfd);

/* The same for what the kernel tells of a TCP peer: the uid its socket
 * belongs to, as the effective uid, and the process holding it (pid -1 and
 * pidfd -1 when unknown); every other field unknown. Returns 0, or -1 with
 * errno EAGAIN and nothing changed, pidfd not taken. */
int ucred_store_socket_owner(ucred_t **ucp, pid_t pid, uid_t owner, int pidfd);

/* getpeerucred() on a kernel socket of family AF_INET or AF_INET6 (kernel_tcp.c). */
int ucred_tcp_peer(int fd, int family, ucred_t **ucp);

/* All of ucred/'s memory comes from here. NULL with errno EAGAIN (tests make
 * it fail with another: tests/ucred_alloc_fault.h). */
void *ucred_mem_alloc(size_t size);

/* The registry of the ucred_t pointers this library made. */
int ucred_registry_add(const void *p);      /* 0, or -1 with errno EAGAIN */
bool ucred_registry_contains(const void *p);
bool ucred_registry_remove(const void *p); /* false when p was not registered */

/* Reads a /proc attr/current file into label: "" when unreadable, empty, or too
 * long to hold whole. */
void ucred_read_label(const char *path, char label[UCS_CRED_LABEL_MAX]);

#endif
