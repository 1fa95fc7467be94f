/* The ucstack instance of a child role of ucstack-bench (node.h). */
#include "node.h"

#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <stdio.h>
#include <string.h>

static struct ucs_stack *stack;

struct ucs_stack *node_start(const struct role_args *a, const char *port_line, const char *ip)
{
    char text[1024], err[256], eal[512], attest[300] = "";
    struct ucs_config cfg;
    bool virtio = !strncmp(port_line, "virtio_user", 11);

    bench_eal_args(eal, sizeof(eal), a->core, a->prefix, virtio);
    /* The two ends of a cable attest each other beside its socket. */
    if (virtio || !strncmp(port_line, "net_vhost", 9))
        snprintf(attest, sizeof(attest), "attest = %s %s.attest\n", virtio ? "connect" : "listen", a->path);
    snprintf(text, sizeof(text), "eal = %s\nport = %s\nipv4 = %s/24\nhost_local = yes\n%s", eal, port_line, ip, attest);
    if (ucs_config_parse(text, &cfg, err, sizeof(err)) != 0)
        bench_fail("config: %s", err);
    stack = ucs_stack_create(&cfg, err, sizeof(err));
    if (!stack)
        bench_fail("stack: %s", err);
    if (a->nocred)
        ucs_set_cred_option(false);
    return stack;
}

struct ucs_stack *node_start_cable(const struct role_args *a, bool server)
{
    char port_line[512];
    uint64_t deadline = bench_now_ns() + 30000000000ull;

    snprintf(port_line, sizeof(port_line), server ? "net_vhost0,iface=%s,queues=1" : "virtio_user0,path=%s,queues=1",
             a->path);
    node_start(a, port_line, server ? BENCH_SERVER_IP : BENCH_CLIENT_IP);
    while (!server && !ucs_stack_links_up(stack)) {
        if (bench_now_ns() > deadline)
            bench_fail("the cable did not come up in 30 s");
        ucs_stack_poll(stack);
    }
    if (!server)
        fprintf(stderr, "client: link up\n");
    return stack;
}

void node_poll(void)
{
    ucs_stack_poll(stack);
}

static bool alive(long pid)
{
    char path[64], state = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r")))
        return false;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
        state = 0;
    fclose(f);
    return state && state != 'Z' && state != 'X';
}

/* Lets the last segments (FIN, ACK, RST) leave before the port closes. The
 * client also keeps its end of the cable open until the server has exited (at
 * most 10 s): a frame still in the ring when the virtio side goes away is lost,
 * and the server would wait for it. */
void node_finish(long peer_pid)
{
    uint64_t deadline = bench_now_ns() + 10000000000ull;
    for (int i = 0; i < 1000; i++)
        ucs_stack_poll(stack);
    while (peer_pid > 0 && alive(peer_pid) && bench_now_ns() < deadline) {
        for (int i = 0; i < 1000; i++)
            ucs_stack_poll(stack);
    }
    ucs_stack_destroy(stack);
    stack = NULL;
}
