#include "tool_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t tool_parse_size(const char *text)
{
    char *end;
    uint64_t v = strtoull(text, &end, 10);
    switch (*end) {
    case 'K': return v << 10;
    case 'M': return v << 20;
    case 'G': return v << 30;
    default: return v;
    }
}

int tool_parse_peer(char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
    char *comma = strrchr(arg, ',');
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    uint16_t port;

    if (!comma)
        return -1;
    *comma = '\0';
    port = (uint16_t)atoi(comma + 1);
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, arg, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, arg, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}
