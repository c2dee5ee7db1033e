#include "common/net/reloading_certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace aims {
namespace {

// Modification times (ns) and sizes of both files, to notice a rotation.
std::string Stamp(const std::string& cert, const std::string& key) {
  std::string stamp;
  for (const std::string* path : {&cert, &key}) {
    struct stat st {};
    if (stat(path->c_str(), &st) != 0) return "";
    absl::StrAppend(&stamp, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/",
                    st.st_size, ";");
  }
  return stamp;
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no details";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

struct ReloadingCertificate::Loaded {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  ~Loaded() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

absl::StatusOr<std::unique_ptr<ReloadingCertificate>>
ReloadingCertificate::Load(std::string cert_file, std::string key_file,
                           absl::Duration reload_interval,
                           std::string flag_prefix) {
  std::unique_ptr<ReloadingCertificate> cert(new ReloadingCertificate());
  cert->cert_file_ = std::move(cert_file);
  cert->key_file_ = std::move(key_file);
  cert->reload_interval_ = reload_interval;
  cert->flag_prefix_ = std::move(flag_prefix);
  const std::string stamp = Stamp(cert->cert_file_, cert->key_file_);
  absl::StatusOr<std::shared_ptr<const Loaded>> loaded = cert->Read();
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&cert->mu_);
  cert->current_ = std::move(*loaded);
  cert->stamp_ = stamp;
  cert->next_check_ = absl::Now() + reload_interval;
  return cert;
}

ReloadingCertificate::~ReloadingCertificate() = default;

absl::StatusOr<std::shared_ptr<const ReloadingCertificate::Loaded>>
ReloadingCertificate::Read() const {
  auto loaded = std::make_shared<Loaded>();
  const std::string cert_flag = absl::StrCat("--", flag_prefix_, "cert_file");
  const std::string key_flag = absl::StrCat("--", flag_prefix_, "key_file");
  BIO* bio = BIO_new_file(cert_file_.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, ": cannot read ", cert_file_));
  }
  loaded->leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  if (loaded->leaf != nullptr) {
    loaded->chain = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      sk_X509_push(loaded->chain, extra);
    }
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the chain reads as an error
  if (loaded->leaf == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, ": ", cert_file_, " holds no PEM certificate"));
  }
  bio = BIO_new_file(key_file_.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, ": cannot read ", key_file_));
  }
  loaded->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (loaded->key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, ": ", key_file_, " holds no PEM private key (",
                     OpenSslError(), ")"));
  }
  if (X509_check_private_key(loaded->leaf, loaded->key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": ", key_file_, " is not the key of ", cert_file_));
  }
  return std::shared_ptr<const Loaded>(std::move(loaded));
}

std::shared_ptr<const ReloadingCertificate::Loaded>
ReloadingCertificate::Current() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now >= next_check_) {
    next_check_ = now + reload_interval_;
    const std::string stamp = Stamp(cert_file_, key_file_);
    if (!stamp.empty() && stamp != stamp_) {
      absl::StatusOr<std::shared_ptr<const Loaded>> loaded = Read();
      // A half-written rotation fails to load: keep serving the old pair
      // and look again at the next check.
      if (loaded.ok()) {
        current_ = std::move(*loaded);
        stamp_ = stamp;
        ++reloads_;
      }
    }
  }
  return current_;
}

int ReloadingCertificate::OnHandshake(SSL* ssl, void* self) {
  std::shared_ptr<const Loaded> loaded =
      static_cast<ReloadingCertificate*>(self)->Current();
  // Each call takes its own references, so a later reload cannot free
  // what this connection uses.
  if (SSL_use_certificate(ssl, loaded->leaf) != 1 ||
      SSL_use_PrivateKey(ssl, loaded->key) != 1 ||
      SSL_set1_chain(ssl, loaded->chain) != 1) {
    return 0;
  }
  return 1;
}

absl::Status ReloadingCertificate::Install(SSL_CTX* ctx,
                                           const std::string& client_ca_file) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cert_cb(ctx, &ReloadingCertificate::OnHandshake, this);
  if (!client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, client_ca_file.c_str(), nullptr) !=
        1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag_prefix_, "client_ca_file: cannot load ",
                       client_ca_file, " (", OpenSslError(), ")"));
    }
    STACK_OF(X509_NAME)* names =
        SSL_load_client_CA_file(client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }
  return absl::OkStatus();
}

int ReloadingCertificate::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

}  // namespace aims
