#include "stack_hooks.h"

#include "attest.h"
#include "cred_table.h"
#include "link_attest.h"

const struct ucs_link_creds ucs_credlink_stack_hooks = {
    .table_open = ucs_cred_table_open,
    .table_reap = ucs_cred_table_reap,
    .table_close = ucs_cred_table_close,
    .open = ucs_attest_open,
    .close = ucs_attest_close,
    .step = ucs_attest_step,
    .complete = ucs_attest_complete,
    .peer = ucs_attest_peer,
    .get_stats = ucs_attest_get_stats,
    .is_frame = link_attest_is_frame,
    .frame_in = link_attest_frame_in,
    .send_echoes = link_attest_send_echoes,
};
