// Conversions between rocksdb::Slice and absl::string_view: absl's
// string_view is its own type in this build (not std::string_view), so the
// two do not convert implicitly.
//
// Contract: both views alias the same bytes; nothing is copied, so the
// result lives only as long as the bytes it views (an iterator's key() and
// value() until the iterator moves).
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_ROCKS_SLICE_H_
#define AIMS_COMMON_ROCKS_SLICE_H_

#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"

namespace aims {

inline absl::string_view ToStringView(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

inline rocksdb::Slice ToSlice(absl::string_view view) {
  return rocksdb::Slice(view.data(), view.size());
}

}  // namespace aims

#endif  // AIMS_COMMON_ROCKS_SLICE_H_
