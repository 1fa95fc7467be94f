/* A process's security label, as /proc shows it. */
#include "ucred_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Without a security module that labels processes, attr/current fails with
 * EINVAL for every process until the next boot: after that answer, stop asking. */
static bool no_label_module;

void ucred_read_label(const char *path, char label[UCS_CRED_LABEL_MAX])
{
    ssize_t n = -1;
    int fd;

    label[0] = '\0';
    if (__atomic_load_n(&no_label_module, __ATOMIC_RELAXED))
        return;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, label, UCS_CRED_LABEL_MAX);
        if (n < 0 && errno == EINVAL)
            __atomic_store_n(&no_label_module, true, __ATOMIC_RELAXED);
        close(fd);
    }
    /* A full buffer may be a cut label; no label is better than a wrong one. */
    if (n <= 0 || n == UCS_CRED_LABEL_MAX) {
        label[0] = '\0';
        return;
    }
    while (n > 0 && (label[n - 1] == '\n' || label[n - 1] == '\0'))
        n--;
    label[n] = '\0';
}
