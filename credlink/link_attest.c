#include "link_attest.h"

#include "port.h"
#include "attest.h"

#include <string.h>

#define ETH_HEADER 14
#define ETH_MIN_FRAME 60
#define MAX_ECHOES 8

bool link_attest_is_frame(const void *data, uint16_t len)
{
    const uint8_t *f = data;
    return len >= ETH_HEADER && (f[12] << 8 | f[13]) == UCS_ATTEST_ETHERTYPE;
}

bool link_attest_frame_in(struct ucs_attest *a, const void *data, uint16_t len)
{
    return ucs_attest_cable_frame(a, (const uint8_t *)data + ETH_HEADER, (size_t)(len - ETH_HEADER));
}

void link_attest_send_echoes(const struct ucs_attest *a, struct ucs_port *port, const uint8_t mac[6])
{
    uint8_t nonces[MAX_ECHOES][UCS_ATTEST_NONCE];
    unsigned n = ucs_attest_echoes(a, nonces, MAX_ECHOES);

    for (unsigned i = 0; i < n; i++) {
        struct ucs_attest_msg m;
        void *handle;
        uint8_t *f = ucs_port_tx_alloc(port, ETH_MIN_FRAME, &handle);

        if (!f)
            return;
        memset(f, 0, ETH_MIN_FRAME);
        memset(f, 0xff, 6); /* broadcast: the cable has one other end */
        memcpy(f + 6, mac, 6);
        f[12] = UCS_ATTEST_ETHERTYPE >> 8;
        f[13] = UCS_ATTEST_ETHERTYPE & 0xff;
        ucs_attest_msg_init(&m, UCS_ATTEST_ECHO, nonces[i]);
        memcpy(f + ETH_HEADER, &m, sizeof(m));
        ucs_port_tx_queue(port, handle, 0);
    }
}
