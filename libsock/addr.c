#include "addr.h"

#include "lwip/netif.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int addr_from_sockaddr(int family, const struct sockaddr *addr, socklen_t len, ip_addr_t *ip, u16_t *port)
{
    if (!addr)
        return EFAULT;
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        if (len < (socklen_t)sizeof(*in))
            return EINVAL;
        if (in->sin_family != AF_INET)
            return EAFNOSUPPORT;
        ip_addr_set_ip4_u32_val(*ip, in->sin_addr.s_addr);
        *port = ntohs(in->sin_port);
        return 0;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    if (len < (socklen_t)sizeof(*in6))
        return EINVAL;
    if (in6->sin6_family != AF_INET6)
        return EAFNOSUPPORT;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        uint32_t v4;
        memcpy(&v4, &in6->sin6_addr.s6_addr[12], 4);
        ip_addr_set_ip4_u32_val(*ip, v4);
    } else {
        IP_SET_TYPE_VAL(*ip, IPADDR_TYPE_V6);
        memcpy(ip_2_ip6(ip)->addr, in6->sin6_addr.s6_addr, 16);
        ip6_addr_clear_zone(ip_2_ip6(ip));
    }
    *port = ntohs(in6->sin6_port);
    return 0;
}

void addr_to_sockaddr(int family, const ip_addr_t *ip, u16_t port, struct sockaddr *addr, socklen_t *len)
{
    struct sockaddr_storage ss;
    socklen_t full;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = IP_IS_V4(ip) ? ip_2_ip4(ip)->addr : 0;
        full = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (IP_IS_V4(ip) && !ip_addr_isany(ip)) {
            in6->sin6_addr.s6_addr[10] = 0xff;
            in6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(&in6->sin6_addr.s6_addr[12], &ip_2_ip4(ip)->addr, 4);
        } else if (IP_IS_V6(ip)) {
            memcpy(in6->sin6_addr.s6_addr, ip_2_ip6(ip)->addr, 16);
        }
        full = sizeof(*in6);
    }
    if (addr && len)
        memcpy(addr, &ss, *len < full ? *len : full);
    if (len)
        *len = full;
}

bool addr_is_local(const ip_addr_t *ip)
{
    struct netif *n;
    if (ip_addr_isany(ip))
        return true;
    if (IP_IS_V4(ip) && ip4_addr_isloopback(ip_2_ip4(ip)))
        return true;
    NETIF_FOREACH(n) {
        if (IP_IS_V4(ip) && ip4_addr_cmp(ip_2_ip4(ip), netif_ip4_addr(n)))
            return true;
        if (IP_IS_V6(ip)) {
            for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
                if (ip6_addr_isvalid(netif_ip6_addr_state(n, i)) &&
                    ip6_addr_cmp_zoneless(ip_2_ip6(ip), netif_ip6_addr(n, i)))
                    return true;
        }
    }
    return false;
}
