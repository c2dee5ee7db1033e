#include "common/net/http_flags.h"

#include "absl/flags/flag.h"
#include "absl/time/time.h"

ABSL_FLAG(int, http_max_connections, 512,
          "HTTP: open connections at most; a new one beyond is closed at once "
          "and counted (_http_connections_refused_total).");
ABSL_FLAG(int, http_max_connections_per_client, 128,
          "HTTP: open connections of one client IP address at most, so that "
          "one client cannot take every connection.");
ABSL_FLAG(absl::Duration, http_header_timeout, absl::Seconds(10),
          "HTTP: the TLS handshake and the whole request head must arrive "
          "within this; a slower connection is closed and counted "
          "(_http_timeouts_total).");
ABSL_FLAG(absl::Duration, http_idle_timeout, absl::Seconds(30),
          "HTTP: a kept-alive connection that sends no new request within "
          "this is closed.");

namespace aims {

void ApplyHttpFlags(HttpServerOptions* options) {
  options->max_connections = absl::GetFlag(FLAGS_http_max_connections);
  options->max_connections_per_client =
      absl::GetFlag(FLAGS_http_max_connections_per_client);
  options->header_timeout = absl::GetFlag(FLAGS_http_header_timeout);
  options->idle_timeout = absl::GetFlag(FLAGS_http_idle_timeout);
}

}  // namespace aims
