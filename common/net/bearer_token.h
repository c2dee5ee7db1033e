// Bearer tokens: how aims' clients present a secret and how servers check
// it without storing it.
//
// Contract:
//  - A token is an opaque string of 16..512 printable ASCII characters
//    without spaces; NewToken() makes one from 32 random bytes
//    ("aims_" + 43 base64url characters).
//  - Servers store only TokenSha256(token) (64 lowercase hex digits) and
//    compare digests in constant time (SameDigest).
//  - Clients send "authorization: Bearer <token>" (gRPC metadata or HTTP
//    header). BearerTokenFrom() extracts it; an absent header gives "".
//  - ReadTokenFile() reads a token from a file (first line, whitespace
//    trimmed), naming `flag` in errors. Token files should be mode 0600.
//  - WithBearerToken() makes a channel that adds the header to every call;
//    it works on plaintext loopback channels too, where gRPC's call
//    credentials are not sent.
//
// Thread-safety: stateless functions; the interceptors are thread-safe.
#ifndef AIMS_COMMON_NET_BEARER_TOKEN_H_
#define AIMS_COMMON_NET_BEARER_TOKEN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc {
class ServerContextBase;
class Channel;
class ChannelArguments;
class ChannelCredentials;
}  // namespace grpc

namespace aims {

inline constexpr size_t kMinTokenBytes = 16;
inline constexpr size_t kMaxTokenBytes = 512;

std::string NewToken();
std::string TokenSha256(absl::string_view token);
bool IsSha256Hex(absl::string_view digest);
// Constant-time equality of two digests of the same length.
bool SameDigest(absl::string_view a, absl::string_view b);
// Checks length and characters; the error names `field`.
absl::Status ValidateToken(absl::string_view token, absl::string_view field);

// "Bearer <token>" (scheme case-insensitive) -> "<token>"; anything else
// that is not empty -> INVALID_ARGUMENT; empty -> "".
absl::StatusOr<std::string> BearerTokenFrom(absl::string_view authorization);

// The gRPC call's "authorization" metadata ("" when absent).
std::string AuthorizationOf(const grpc::ServerContextBase& context);

// For a single-token server (the agent's intake): OK when
// `expected_sha256` is empty or the bearer token's digest equals it;
// UNAUTHENTICATED otherwise.
absl::Status CheckBearerToken(absl::string_view authorization,
                              absl::string_view expected_sha256);

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag);

// A channel to `target` whose calls carry `token` (none when empty).
std::shared_ptr<grpc::Channel> WithBearerToken(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, const std::string& token);

}  // namespace aims

#endif  // AIMS_COMMON_NET_BEARER_TOKEN_H_
