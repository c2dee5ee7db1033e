// SmallFilesystem: a tmpfs of a few MiB mounted for one test, so that a
// process under test runs out of disk space for real (ENOSPC inside its
// writes); FillUp leaves it almost no room. Mounting needs root or
// CAP_SYS_ADMIN: tests skip when mounted() is false.
//
// Thread-safety: not thread-safe; one owner.
#ifndef AIMS_TESTS_TESTING_SMALL_FILESYSTEM_H_
#define AIMS_TESTS_TESTING_SMALL_FILESYSTEM_H_

#include <cstdint>
#include <string>

namespace aims::testing {

class SmallFilesystem {
 public:
  // Mounts a tmpfs of `mib` MiB at `path` (created if missing).
  SmallFilesystem(const std::string& path, int mib);
  ~SmallFilesystem();  // unmounts (lazily: open files may remain)
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Writes zeros to `path` until its filesystem has about `leave` bytes free;
// false if the ballast could not be written.
bool FillUp(const std::string& path, uint64_t leave);

}  // namespace aims::testing

#endif  // AIMS_TESTS_TESTING_SMALL_FILESYSTEM_H_
