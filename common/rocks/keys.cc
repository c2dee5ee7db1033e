#include "common/rocks/keys.h"

namespace aims {
namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;

}  // namespace

void AppendUint64BigEndian(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::string Uint64BigEndian(uint64_t value) {
  std::string out;
  out.reserve(kEncodedUint64Bytes);
  AppendUint64BigEndian(value, &out);
  return out;
}

uint64_t ReadUint64BigEndian(absl::string_view bytes, size_t offset) {
  uint64_t value = 0;
  for (size_t i = 0; i < kEncodedUint64Bytes; ++i) {
    const size_t at = offset + i;
    // Past the end: zero, so a prefix decodes as its smallest extension.
    const uint8_t byte =
        at < bytes.size() ? static_cast<uint8_t>(bytes[at]) : 0;
    value = (value << 8) | byte;
  }
  return value;
}

void AppendSortableInt64(int64_t value, std::string* out) {
  AppendUint64BigEndian(static_cast<uint64_t>(value) ^ kSignBit, out);
}

int64_t ReadSortableInt64(absl::string_view bytes, size_t offset) {
  return static_cast<int64_t>(ReadUint64BigEndian(bytes, offset) ^ kSignBit);
}

void AppendSortableMillis(absl::Time t, std::string* out) {
  // ToUnixMillis rounds down and saturates the infinities at INT64_MIN/MAX.
  AppendSortableInt64(absl::ToUnixMillis(t), out);
}

absl::Time ReadSortableMillis(absl::string_view bytes, size_t offset) {
  return absl::FromUnixMillis(ReadSortableInt64(bytes, offset));
}

}  // namespace aims
