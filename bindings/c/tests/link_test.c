/* A program built only from the installed files through pkg-config (tests/capi_install.rs):
 * one PLAIN exchange between this library's client and server. */
#include <saslmech.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    saslmech_server_config *config = NULL;
    saslmech_credentials *creds = NULL;
    saslmech_client *client = NULL;
    saslmech_server *server = NULL;
    saslmech_status status = 0;
    saslmech_request *request = NULL;
    saslmech_request_kind kind = 0;
    const saslmech_identity *identity = NULL;
    const uint8_t *ir = NULL, *user = NULL;
    size_t ir_len = 0, user_len = 0;
    bool has_ir = false;
    int ok;

    ok = saslmech_server_config_new(&config) == SASLMECH_OK &&
         saslmech_credentials_new(&creds) == SASLMECH_OK &&
         saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_AUTHCID, (const uint8_t *)"tim", 3) ==
             SASLMECH_OK &&
         saslmech_credentials_set(creds, SASLMECH_CREDENTIAL_PASSWORD, (const uint8_t *)"pw", 2) ==
             SASLMECH_OK &&
         saslmech_client_new(SASLMECH_MECH_PLAIN, creds, NULL, 0, &client) == SASLMECH_OK &&
         saslmech_client_start(client, &has_ir, &ir, &ir_len) == SASLMECH_OK && has_ir &&
         saslmech_server_new(config, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS, &server) ==
             SASLMECH_OK &&
         saslmech_server_start(server, ir, ir_len, &status) == SASLMECH_OK &&
         status == SASLMECH_STATUS_REQUEST &&
         saslmech_server_request(server, &request, &kind) == SASLMECH_OK &&
         kind == SASLMECH_REQUEST_VERIFY_PASSWORD &&
         saslmech_request_answer_password(request, (const uint8_t *)"pw", 2) == SASLMECH_OK &&
         saslmech_server_status(server, &status) == SASLMECH_OK &&
         status == SASLMECH_STATUS_SUCCESS &&
         saslmech_server_identity(server, &identity) == SASLMECH_OK &&
         saslmech_identity_authcid(identity, &user, &user_len) == SASLMECH_OK && user_len == 3 &&
         memcmp(user, "tim", 3) == 0 && saslmech_client_finish(client, NULL, 0) == SASLMECH_OK;
    saslmech_server_free(server);
    saslmech_client_free(client);
    saslmech_credentials_free(creds);
    saslmech_server_config_free(config);
    printf("link_test: %s, saslmech %s\n", ok ? "ok" : "FAILED", saslmech_version());
    return ok ? 0 : 1;
}
