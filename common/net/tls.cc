#include "common/net/tls.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/channel_arguments.h"

namespace aims {
namespace {

absl::Status CheckPem(const std::string& path, absl::string_view flag,
                      absl::string_view marker) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (!absl::StrContains(text, marker)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": ", path, " holds no PEM ", marker, " block"));
  }
  return absl::OkStatus();
}

unsigned RefreshSeconds(absl::Duration d) {
  return static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(d)));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsServerFiles& files) {
  if (!files.enabled()) {
    if (!files.key_file.empty() || !files.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert_file: required with --tls_key_file or "
          "--tls_client_ca_file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_key_file: required with --tls_cert_file");
  }
  if (absl::Status s =
          CheckPem(files.cert_file, "tls_cert_file", "CERTIFICATE");
      !s.ok())
    return s;
  if (absl::Status s = CheckPem(files.key_file, "tls_key_file", "PRIVATE KEY");
      !s.ok())
    return s;
  const bool mtls = !files.client_ca_file.empty();
  if (mtls) {
    if (absl::Status s =
            CheckPem(files.client_ca_file, "tls_client_ca_file", "CERTIFICATE");
        !s.ok())
      return s;
  }
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key_file, files.cert_file, files.client_ca_file,
          RefreshSeconds(files.reload_interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mtls) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsClientFiles& files, absl::string_view flag_prefix) {
  const std::string ca_flag = absl::StrCat(flag_prefix, "ca_file");
  const std::string cert_flag = absl::StrCat(flag_prefix, "cert_file");
  const std::string key_flag = absl::StrCat(flag_prefix, "key_file");
  if (!files.enabled()) {
    if (!files.cert_file.empty() || !files.key_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", ca_flag, ": required with --", cert_flag, " (TLS)"));
    }
    return grpc::InsecureChannelCredentials();
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", cert_flag, " and --", key_flag, ": give both or neither"));
  }
  if (absl::Status s = CheckPem(files.ca_file, ca_flag, "CERTIFICATE"); !s.ok())
    return s;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider;
  if (!files.cert_file.empty()) {
    if (absl::Status s = CheckPem(files.cert_file, cert_flag, "CERTIFICATE");
        !s.ok())
      return s;
    if (absl::Status s = CheckPem(files.key_file, key_flag, "PRIVATE KEY");
        !s.ok())
      return s;
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            files.key_file, files.cert_file, files.ca_file,
            RefreshSeconds(files.reload_interval));
  } else {
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            files.ca_file, RefreshSeconds(files.reload_interval));
  }
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (!files.cert_file.empty()) options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

void ApplyServerName(const TlsClientFiles& files,
                     grpc::ChannelArguments* args) {
  if (!files.server_name.empty()) {
    args->SetSslTargetNameOverride(files.server_name);
  }
}

bool IsLoopback(absl::string_view host_port) {
  absl::string_view host = host_port;
  if (absl::StartsWith(host, "[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  return absl::StartsWith(host, "127.") || host == "::1" ||
         host == "localhost" || absl::StartsWith(host, "localhost:");
}

}  // namespace aims
