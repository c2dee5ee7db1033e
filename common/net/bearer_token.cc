#include "common/net/bearer_token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/hash.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/client_interceptor.h"

namespace aims {
namespace {

// Adds the authorization header before a call's initial metadata leaves.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header)
      : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return absl::StrCat(
      "aims_", absl::WebSafeBase64Escape(absl::string_view(
                   reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

std::string TokenSha256(absl::string_view token) { return Sha256Hex(token); }

bool IsSha256Hex(absl::string_view digest) {
  if (digest.size() != 64) return false;
  for (char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool SameDigest(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::Status ValidateToken(absl::string_view token, absl::string_view field) {
  if (token.size() < kMinTokenBytes || token.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", token.size(), " bytes, must be ",
                     kMinTokenBytes, "..", kMaxTokenBytes));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": only printable ASCII characters without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BearerTokenFrom(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.empty()) return std::string();
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(authorization, kScheme)) {
    return absl::InvalidArgumentError(
        "authorization: expected 'Bearer <token>'");
  }
  return std::string(
      absl::StripAsciiWhitespace(authorization.substr(kScheme.size())));
}

std::string AuthorizationOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::string();
  return std::string(it->second.data(), it->second.size());
}

absl::Status CheckBearerToken(absl::string_view authorization,
                              absl::string_view expected_sha256) {
  if (expected_sha256.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> token = BearerTokenFrom(authorization);
  if (!token.ok()) return absl::UnauthenticatedError(token.status().message());
  if (token->empty()) {
    return absl::UnauthenticatedError(
        "authorization: a bearer token is required");
  }
  if (!SameDigest(TokenSha256(*token), expected_sha256)) {
    return absl::UnauthenticatedError("invalid token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::string line;
  std::getline(in, line);
  std::string token(absl::StripAsciiWhitespace(line));
  if (absl::Status s =
          ValidateToken(token, absl::StrCat("--", flag, " ", path));
      !s.ok()) {
    return s;
  }
  return token;
}

std::shared_ptr<grpc::Channel> WithBearerToken(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, const std::string& token) {
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!token.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenFactory>(token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, credentials, args, std::move(interceptors));
}

}  // namespace aims
