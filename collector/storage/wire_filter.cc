#include "collector/storage/wire_filter.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace aims::collector {

using google::protobuf::internal::WireFormatLite;

bool CopyWithoutField(absl::string_view message, absl::Span<const int> path,
                      std::string* out) {
  if (path.empty()) {
    out->append(message.data(), message.size());
    return true;
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(message.data()),
      static_cast<int>(message.size()));
  std::string child;
  for (;;) {
    const int start = input.CurrentPosition();
    const uint32_t tag = input.ReadTag();
    if (tag == 0) {
      return static_cast<size_t>(input.CurrentPosition()) == message.size();
    }
    const bool on_path = WireFormatLite::GetTagFieldNumber(tag) == path[0] &&
                         WireFormatLite::GetTagWireType(tag) ==
                             WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (!on_path) {
      if (!WireFormatLite::SkipField(&input, tag)) return false;
      out->append(message.data() + start, input.CurrentPosition() - start);
      continue;
    }
    uint32_t length = 0;
    if (!input.ReadVarint32(&length)) return false;
    const int payload = input.CurrentPosition();
    if (!input.Skip(static_cast<int>(length))) return false;
    if (path.size() == 1) continue;  // the field to drop
    child.clear();
    if (!CopyWithoutField(message.substr(payload, length), path.subspan(1),
                          &child)) {
      return false;
    }
    AppendLengthDelimited(path[0], child, out);
  }
}

namespace {

// Calls `fn(tag, field, payload)` for each top-level field of `message`:
// `field` its whole wire form, `payload` a length-delimited field's
// contents (empty for other wire types). False when `message` is not valid
// wire format or `fn` returned false.
template <typename Fn>
bool WalkFields(absl::string_view message, Fn fn) {
  if (message.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return false;
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(message.data()),
      static_cast<int>(message.size()));
  for (;;) {
    const int start = input.CurrentPosition();
    const uint32_t tag = input.ReadTag();
    if (tag == 0) {
      return static_cast<size_t>(input.CurrentPosition()) == message.size();
    }
    absl::string_view payload;
    if (WireFormatLite::GetTagWireType(tag) ==
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!input.ReadVarint32(&length)) return false;
      const int at = input.CurrentPosition();
      if (!input.Skip(static_cast<int>(length))) return false;
      payload = message.substr(static_cast<size_t>(at), length);
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return false;
    }
    const absl::string_view field =
        message.substr(start, input.CurrentPosition() - start);
    if (!fn(tag, field, payload)) return false;
  }
}

}  // namespace

bool SplitFields(absl::string_view message, absl::Span<const int> fields,
                 std::string* kept, std::string* taken) {
  return WalkFields(message, [&](uint32_t tag, absl::string_view field,
                                 absl::string_view) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    std::string* out =
        std::find(fields.begin(), fields.end(), number) != fields.end() ? taken
                                                                        : kept;
    out->append(field.data(), field.size());
    return true;
  });
}

bool ForEachLengthDelimited(
    absl::string_view message,
    const std::function<bool(int number, absl::string_view payload)>& fn) {
  return WalkFields(
      message, [&](uint32_t tag, absl::string_view, absl::string_view payload) {
        return WireFormatLite::GetTagWireType(tag) !=
                   WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
               fn(WireFormatLite::GetTagFieldNumber(tag), payload);
      });
}

void AppendLengthDelimited(int number, absl::string_view payload,
                           std::string* out) {
  uint8_t header[10];  // two varints of at most 5 bytes
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(number,
                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED),
      header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(payload.size()), end);
  out->append(reinterpret_cast<const char*>(header), end - header);
  out->append(payload.data(), payload.size());
}

std::optional<absl::string_view> SoleField(absl::string_view message,
                                           int field) {
  if (message.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(message.data()),
      static_cast<int>(message.size()));
  const uint32_t tag = input.ReadTag();
  if (WireFormatLite::GetTagFieldNumber(tag) != field ||
      WireFormatLite::GetTagWireType(tag) !=
          WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
    return std::nullopt;
  }
  // As protobuf's parser: a length is a varint of at most 5 bytes below
  // 2^31 (ReadVarint32 would accept 10 bytes and drop the high bits).
  const int length_at = input.CurrentPosition();
  uint32_t length = 0;
  if (!input.ReadVarint32(&length) || input.CurrentPosition() - length_at > 5 ||
      length > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  const size_t start = static_cast<size_t>(input.CurrentPosition());
  if (start + length != message.size()) return std::nullopt;
  return message.substr(start, length);
}

}  // namespace aims::collector
