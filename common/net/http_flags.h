// The --http_* flags that aims-agent and aims-collector share: connection
// bounds and deadlines of their HTTP listener (common/net/http_server.h).
// Defined once here; common/base/cli.h counts this file among a binary's
// own flags (environment, config file, --help).
//
// Thread-safety: call from main() after the flags are parsed.
#ifndef AIMS_COMMON_NET_HTTP_FLAGS_H_
#define AIMS_COMMON_NET_HTTP_FLAGS_H_

#include "common/net/http_server.h"

namespace aims {

// Sets max_connections, max_connections_per_client, header_timeout and
// idle_timeout from the flags; checked by ValidateHttpLimits().
void ApplyHttpFlags(HttpServerOptions* options);

}  // namespace aims

#endif  // AIMS_COMMON_NET_HTTP_FLAGS_H_
