// MappedFile: a whole file, read-only, as one view of its bytes (mmap), so
// that a large input (aimsctl backfill's) costs no copy and its pages are
// the kernel's to drop and read again.
//
// Thread-safety: the view is immutable; a MappedFile is movable, not
// copyable.
#ifndef AIMS_COMMON_BASE_MAPPED_FILE_H_
#define AIMS_COMMON_BASE_MAPPED_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aims {

class MappedFile {
 public:
  // NOT_FOUND, PERMISSION_DENIED or INTERNAL naming `path` and the reason.
  // An empty file maps to an empty view.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view data() const {
    return absl::string_view(static_cast<const char*>(data_), size_);
  }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}

  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace aims

#endif  // AIMS_COMMON_BASE_MAPPED_FILE_H_
