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

bool SplitFields(absl::string_view message, absl::Span<const int> fields,
                 std::string* kept, std::string* taken) {
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
    if (!WireFormatLite::SkipField(&input, tag)) return false;
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    std::string* out =
        std::find(fields.begin(), fields.end(), number) != fields.end() ? taken
                                                                        : kept;
    out->append(message.data() + start, input.CurrentPosition() - start);
  }
}

bool ForEachLengthDelimited(
    absl::string_view message,
    const std::function<bool(int number, absl::string_view payload)>& fn) {
  if (message.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return false;
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(message.data()),
      static_cast<int>(message.size()));
  for (;;) {
    const uint32_t tag = input.ReadTag();
    if (tag == 0) {
      return static_cast<size_t>(input.CurrentPosition()) == message.size();
    }
    if (WireFormatLite::GetTagWireType(tag) !=
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&input, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!input.ReadVarint32(&length)) return false;
    const int payload = input.CurrentPosition();
    if (!input.Skip(static_cast<int>(length))) return false;
    if (!fn(WireFormatLite::GetTagFieldNumber(tag),
            message.substr(static_cast<size_t>(payload), length))) {
      return false;
    }
  }
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
