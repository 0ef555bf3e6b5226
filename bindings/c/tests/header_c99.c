/* The header on its own, as strict C99 (built with -std=c99 -Wall -Wextra -Wpedantic -Werror). */
#include "saslmech.h"
#include "saslmech.h" /* the include guard works */

/* The numbers are part of the ABI. */
typedef char check_ok[SASLMECH_OK == 0 ? 1 : -1];
typedef char check_size[sizeof(saslmech_result) == 4 ? 1 : -1];

int header_c99(void);
int header_c99(void)
{
    saslmech_status status = SASLMECH_STATUS_CHALLENGE;
    saslmech_mechanism mech = SASLMECH_MECH_PLAIN;
    return (int)status + (int)mech;
}
