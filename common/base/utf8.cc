#include "common/base/utf8.h"

#include <cstdint>

namespace aims {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when the
// sequence there is invalid or truncated (RFC 3629, table 3-7 of Unicode).
size_t SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t length;
  uint8_t low = 0x80, high = 0xBF;  // bounds of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;   // no overlong forms
    if (b0 == 0xED) high = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;   // no overlong forms
    if (b0 == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

absl::string_view CutUtf8(absl::string_view text, size_t max_bytes) {
  size_t end = 0;
  while (end < text.size()) {
    const size_t n = SequenceLength(text.substr(end));
    if (n == 0 || end + n > max_bytes) break;
    end += n;
  }
  return text.substr(0, end);
}

bool IsValidUtf8(absl::string_view text) {
  return CutUtf8(text, text.size()).size() == text.size();
}

}  // namespace aims
