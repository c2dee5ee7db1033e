#include "tests/testing/small_filesystem.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace aims::testing {

SmallFilesystem::SmallFilesystem(const std::string& path, int mib)
    : path_(path) {
  mkdir(path.c_str(), 0755);
  const std::string options = absl::StrCat("size=", mib, "m");
  if (mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    error_ = std::strerror(errno);
  }
}

SmallFilesystem::~SmallFilesystem() {
  if (mounted_) umount2(path_.c_str(), MNT_DETACH);
}

bool FillUp(const std::string& path, uint64_t leave) {
  struct statvfs fs;
  if (statvfs(path.substr(0, path.rfind('/')).c_str(), &fs) != 0) return false;
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
  uint64_t to_write = free_bytes > leave ? free_bytes - leave : 0;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  const std::string zeros(64 << 10, '\0');
  size_t chunk = zeros.size();
  // Smaller and smaller writes when the disk is nearly full, so that not
  // even a page is left when `leave` is 0.
  while (to_write > 0) {
    const ssize_t n =
        write(fd, zeros.data(), std::min<uint64_t>(chunk, to_write));
    if (n > 0) {
      to_write -= static_cast<uint64_t>(n);
    } else if (n < 0 && errno == ENOSPC && chunk > 1) {
      chunk /= 8;
    } else {
      break;
    }
  }
  close(fd);
  return leave > 0 ? to_write == 0 : true;
}

}  // namespace aims::testing
