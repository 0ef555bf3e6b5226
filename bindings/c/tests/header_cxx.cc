// The header on its own, as C++11 (built with -std=c++11 -Wall -Wextra -Wpedantic -Werror).
#include "saslmech.h"
#include "saslmech.h"

#include <cstdint>

static_assert(SASLMECH_OK == 0, "SASLMECH_OK is 0");
static_assert(sizeof(saslmech_result) == sizeof(std::uint32_t), "results are 32-bit");

int header_cxx();
int header_cxx()
{
    saslmech_server_config *config = nullptr;
    if (saslmech_server_config_new(&config) != SASLMECH_OK)
        return 1;
    saslmech_server_config_free(config);
    saslmech_status status = SASLMECH_STATUS_SUCCESS;
    return status == SASLMECH_STATUS_SUCCESS ? 0 : 1;
}
