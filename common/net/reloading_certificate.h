// ReloadingCertificate: a server certificate chain and key (PEM files) for
// OpenSSL servers (the HTTP listener), re-read while running so that
// certificates rotate without a restart, as gRPC's file watcher does for
// the gRPC listener.
//
// Contract:
//  - Load() reads both files at once; an unreadable file, a bad PEM or a
//    key that does not match the certificate is an error naming the flag.
//  - Install() makes an SSL_CTX serve the current certificate on every
//    handshake (OpenSSL's certificate callback), TLS 1.2 or newer, and,
//    when `client_ca_file` is given, require and verify client
//    certificates signed by it (mTLS).
//  - At most every `reload_interval`, a handshake checks the files'
//    modification times; changed files are loaded and used from then on.
//    Files that fail to load (e.g. a half-written rotation) keep the
//    previous certificate and are retried at the next check.
//
// Thread-safety: safe; handshakes on many threads share one instance,
// which must outlive the SSL_CTX it is installed in.
#ifndef AIMS_COMMON_NET_RELOADING_CERTIFICATE_H_
#define AIMS_COMMON_NET_RELOADING_CERTIFICATE_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace aims {

class ReloadingCertificate {
 public:
  // `flag_prefix` names the flags in errors ("tls_" -> --tls_cert_file).
  static absl::StatusOr<std::unique_ptr<ReloadingCertificate>> Load(
      std::string cert_file, std::string key_file,
      absl::Duration reload_interval, std::string flag_prefix);
  ~ReloadingCertificate();

  absl::Status Install(SSL_CTX* ctx, const std::string& client_ca_file);

  // Times new files were loaded after the first (for tests and logs).
  int reloads() const;

 private:
  ReloadingCertificate() = default;
  struct Loaded;
  static int OnHandshake(SSL* ssl, void* self);
  absl::StatusOr<std::shared_ptr<const Loaded>> Read() const;
  std::shared_ptr<const Loaded> Current();

  std::string cert_file_;
  std::string key_file_;
  absl::Duration reload_interval_;
  std::string flag_prefix_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Loaded> current_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // modification times last loaded
  int reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aims

#endif  // AIMS_COMMON_NET_RELOADING_CERTIFICATE_H_
