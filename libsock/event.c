/* The epoll-like event API and poll(). Sockets push their epoll registrations
 * onto a ready list when their state changes; a wait looks only at that list. */
#include "sock.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct ucs_epoll {
    struct ucs_epitem *ready;
    struct ucs_epitem **items; /* every registration, to undo them on close */
    int nitems, cap;
};

static void ready_push(struct ucs_epitem *it)
{
    if (it->on_ready_list)
        return;
    it->on_ready_list = true;
    it->next_ready = it->ep->ready;
    if (it->next_ready)
        it->next_ready->pprev_ready = &it->next_ready;
    it->ep->ready = it;
    it->pprev_ready = &it->ep->ready;
}

void sock_wake_for(struct ucs_sock *s, uint32_t events)
{
    for (struct ucs_epitem *it = s->epitems; it; it = it->next_of_sock)
        if (it->events & events)
            ready_push(it);
}

/* Every registration: one for no events still hears of errors and hang-ups. */
void sock_wake(struct ucs_sock *s)
{
    for (struct ucs_epitem *it = s->epitems; it; it = it->next_of_sock)
        ready_push(it);
}

static void ready_remove(struct ucs_epitem *it)
{
    if (!it->on_ready_list)
        return;
    *it->pprev_ready = it->next_ready;
    if (it->next_ready)
        it->next_ready->pprev_ready = it->pprev_ready;
    it->on_ready_list = false;
}

static void item_unlink(struct ucs_epitem *it)
{
    struct ucs_epoll *ep = it->ep;
    struct ucs_epitem **pp = &it->sock->epitems;
    while (*pp != it)
        pp = &(*pp)->next_of_sock;
    *pp = it->next_of_sock;
    ready_remove(it);
    ep->items[it->slot] = ep->items[--ep->nitems];
    ep->items[it->slot]->slot = it->slot;
    free(it);
}

void epoll_forget_sock(struct ucs_sock *s)
{
    while (s->epitems)
        item_unlink(s->epitems);
}

static void epoll_sock_close(struct ucs_sock *s)
{
    struct ucs_epoll *ep = s->u.ep;
    while (ep->nitems)
        item_unlink(ep->items[0]);
    free(ep->items);
    free(ep);
}

/* Not a socket: the calls of sockets answer ENOTSOCK. */
const struct sock_ops epoll_ops = {.close = epoll_sock_close};

int ucs_epoll_create1(int flags)
{
    struct ucs_sock *s;
    if (sock_check_thread() != 0)
        return -1;
    if (flags & ~EPOLL_CLOEXEC)
        return sock_fail(EINVAL);
    s = sock_alloc(&epoll_ops);
    if (!s)
        return -1;
    s->u.ep = calloc(1, sizeof(*s->u.ep));
    if (!s->u.ep) {
        sock_free(s);
        return sock_fail(ENOMEM);
    }
    s->cloexec = flags & EPOLL_CLOEXEC;
    return s->fd;
}

int ucs_epoll_create(int size)
{
    return size <= 0 ? sock_fail(EINVAL) : ucs_epoll_create1(0);
}

static struct ucs_epitem *find_item(struct ucs_sock *s, struct ucs_epoll *ep)
{
    for (struct ucs_epitem *it = s->epitems; it; it = it->next_of_sock)
        if (it->ep == ep)
            return it;
    return NULL;
}

int ucs_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    struct ucs_sock *e = sock_get(epfd), *s;
    struct ucs_epitem *it;

    if (!e)
        return -1;
    if (!ucs_is_stack_fd(fd))
        return sock_fail(EPERM);
    if (!(s = sock_get(fd)))
        return -1;
    if (e->ops != &epoll_ops || fd == epfd || s->ops == &epoll_ops)
        return sock_fail(EINVAL);
    if (op != EPOLL_CTL_DEL && !event)
        return sock_fail(EFAULT);
    it = find_item(s, e->u.ep);
    switch (op) {
    case EPOLL_CTL_ADD:
        if (it)
            return sock_fail(EEXIST);
        if (e->u.ep->nitems == e->u.ep->cap) {
            int cap = e->u.ep->cap ? 2 * e->u.ep->cap : 64;
            struct ucs_epitem **items = realloc(e->u.ep->items, (size_t)cap * sizeof(*items));
            if (!items)
                return sock_fail(ENOMEM);
            e->u.ep->items = items;
            e->u.ep->cap = cap;
        }
        if (!(it = calloc(1, sizeof(*it))))
            return sock_fail(ENOMEM);
        it->ep = e->u.ep;
        it->sock = s;
        it->fd = fd;
        it->next_of_sock = s->epitems;
        s->epitems = it;
        it->slot = e->u.ep->nitems;
        e->u.ep->items[e->u.ep->nitems++] = it;
        break;
    case EPOLL_CTL_MOD:
        if (!it)
            return sock_fail(ENOENT);
        break;
    case EPOLL_CTL_DEL:
        if (!it)
            return sock_fail(ENOENT);
        item_unlink(it);
        return 0;
    default: return sock_fail(EINVAL);
    }
    it->events = event->events;
    it->data = event->data.u64;
    ready_push(it); /* evaluated at the next wait, as the kernel does on ADD and MOD */
    return 0;
}

/* Reports what is ready on the list; level-triggered items stay on it. */
static int collect(struct ucs_epoll *ep, struct epoll_event *events, int max)
{
    struct ucs_epitem **pp = &ep->ready;
    int n = 0;

    while (*pp && n < max) {
        struct ucs_epitem *it = *pp;
        uint32_t ev = sock_events(it->sock) & (it->events | EPOLLERR | EPOLLHUP);
        if (it->events & EPOLLONESHOT && !(it->events & ~(EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)))
            ev = 0; /* a fired one-shot stays disarmed until EPOLL_CTL_MOD */
        if (ev) {
            events[n].events = ev;
            events[n].data.u64 = it->data;
            n++;
            if (it->events & EPOLLONESHOT)
                it->events &= EPOLLONESHOT | EPOLLET;
        }
        if (!ev || (it->events & (EPOLLET | EPOLLONESHOT))) {
            ready_remove(it); /* *pp is now the next item */
        } else {
            pp = &it->next_ready;
        }
    }
    return n;
}

/* A zero timeout reads no clock; others one at the start and then every few
 * steps (sock_past). */
int ucs_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms)
{
    struct ucs_sock *e = sock_get(epfd);
    uint64_t deadline;
    unsigned turns = 0;

    if (!e)
        return -1;
    if (e->ops != &epoll_ops || maxevents <= 0)
        return sock_fail(EINVAL);
    if (!events)
        return sock_fail(EFAULT);
    deadline = timeout_ms <= 0 ? UINT64_MAX : sock_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int n;
        sock_poll_stack();
        n = collect(e->u.ep, events, maxevents);
        if (n || timeout_ms == 0 || sock_past(deadline, &turns))
            return n;
    }
}

int ucs_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
    uint64_t deadline = timeout_ms <= 0 ? UINT64_MAX : sock_now_ms() + (uint64_t)timeout_ms;
    bool stack_fds = false;
    unsigned turns = 0;

    for (nfds_t i = 0; i < nfds; i++)
        stack_fds |= ucs_is_stack_fd(fds[i].fd);
    if (stack_fds && sock_check_thread() != 0)
        return -1;
    for (;;) {
        int ready = 0;
        if (stack_fds)
            sock_poll_stack();
        for (nfds_t i = 0; i < nfds; i++) {
            struct ucs_sock *s;
            fds[i].revents = 0;
            if (!ucs_is_stack_fd(fds[i].fd)) {
                if (fds[i].fd >= 0 && poll(&fds[i], 1, 0) < 0)
                    return -1;
            } else if (!(s = sock_get(fds[i].fd)) || s->ops == &epoll_ops) {
                fds[i].revents = POLLNVAL;
            } else {
                fds[i].revents = (short)(sock_events(s) & ((uint32_t)(uint16_t)fds[i].events | POLLERR | POLLHUP));
            }
            ready += fds[i].revents != 0;
        }
        if (ready || timeout_ms == 0 || sock_past(deadline, &turns))
            return ready;
    }
}
