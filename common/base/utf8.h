// Cutting text that came from outside (names, field paths, values echoed in
// errors and warnings) to a length bound without breaking a UTF-8 character:
// a cut in the middle of a multi-byte character would make the answer invalid
// UTF-8, which JSON and protobuf strings must not be.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_BASE_UTF8_H_
#define AIMS_COMMON_BASE_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace aims {

// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
// character boundary and contains only valid UTF-8: the prefix stops before
// the first invalid or truncated sequence.
absl::string_view CutUtf8(absl::string_view text, size_t max_bytes);

// Whether `text` is entirely valid UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_UTF8_H_
