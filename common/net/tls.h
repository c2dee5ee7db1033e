// TLS for aims' gRPC connections: server and channel credentials from PEM
// files that are re-read while running (certificate rotation without a
// restart), and the rule for when plaintext is allowed.
//
// Contract:
//  - ServerCredentialsFor() returns TLS credentials when `cert_file` is set
//    (then `key_file` is required), requiring and verifying client
//    certificates against `client_ca_file` when that is set (mTLS). Files
//    are checked at once (a missing or unreadable file is an error naming
//    its flag) and watched every `reload_interval` afterwards.
//  - ChannelCredentialsFor() returns TLS credentials when `ca_file` is set
//    (the server must present a certificate signed by it), with a client
//    certificate when `cert_file`/`key_file` are set; otherwise plaintext.
//  - PlaintextAllowed(): plaintext is accepted on loopback addresses, and
//    elsewhere only when explicitly asked for.
//
// Thread-safety: free functions; the credentials are safe to share.
#ifndef AIMS_COMMON_NET_TLS_H_
#define AIMS_COMMON_NET_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace grpc {
class ChannelArguments;
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace aims {

struct TlsServerFiles {
  std::string cert_file;       // --tls_cert_file
  std::string key_file;        // --tls_key_file
  std::string client_ca_file;  // --tls_client_ca_file (mTLS when set)
  absl::Duration reload_interval = absl::Seconds(60);
  bool enabled() const { return !cert_file.empty(); }
};

struct TlsClientFiles {
  std::string ca_file;    // verifies the server (TLS when set)
  std::string cert_file;  // client certificate for mTLS
  std::string key_file;
  // Name to verify in the server certificate instead of the target's host.
  std::string server_name;
  absl::Duration reload_interval = absl::Seconds(60);
  bool enabled() const { return !ca_file.empty(); }
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsServerFiles& files);
// `flag_prefix` names the client's flags in errors ("collector_" ->
// --collector_ca_file, --collector_cert_file, --collector_key_file).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsClientFiles& files, absl::string_view flag_prefix);
// Sets the TLS server-name override when `files.server_name` is set.
void ApplyServerName(const TlsClientFiles& files, grpc::ChannelArguments* args);

// True when `host_port` binds or targets a loopback address (127.0.0.0/8,
// ::1, localhost).
bool IsLoopback(absl::string_view host_port);

}  // namespace aims

#endif  // AIMS_COMMON_NET_TLS_H_
