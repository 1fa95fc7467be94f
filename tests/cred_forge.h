/*
 * A stack built to lie, as any program linking the library can be: it
 * rewrites, in its own credential table (memory it maps writable, found in
 * /proc/self/maps), the claim of its own credential, so that the option it
 * sends next names a lie. Test-side only: the library has no forging hook.
 */
#ifndef UCS_TESTS_CRED_FORGE_H
#define UCS_TESTS_CRED_FORGE_H

#ifdef __cplusplus
extern "C" {
#endif

/* lie: "honest" (what it was), "root" (every id 0), "egid" (egid 0),
 * "groups" (0,27,4242) or "label" (system_u:system_r:kernel_t:s0). Returns how
 * many claims it rewrote (0: none found), -1 for an unknown lie. */
int cred_forge(const char *lie);

#ifdef __cplusplus
}
#endif

#endif
