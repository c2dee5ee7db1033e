// Hashes used for evidence: SHA-256 (plan versions, audit chain, profile ids)
// and HMAC-SHA256 (webhook signatures), as lowercase hex.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_BASE_HASH_H_
#define AIMS_COMMON_BASE_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace aims {

std::string Sha256Hex(absl::string_view bytes);
std::string HmacSha256Hex(absl::string_view key, absl::string_view bytes);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_HASH_H_
