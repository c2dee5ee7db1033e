// MappedFile on real files: the view is the file's bytes, an empty file an
// empty view, and a missing file or a directory an error naming the path.
#include "common/base/mapped_file.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/mapped_file_test_" + name;
}

TEST(MappedFileTest, ViewsTheWholeFile) {
  const std::string path = TempPath("data");
  std::string bytes(100000, 'x');
  bytes[0] = '\0';
  bytes.back() = 'z';
  std::ofstream(path, std::ios::binary) << bytes;
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->data(), bytes);
  // Moved, the view moves with it.
  MappedFile moved = std::move(*mapped);
  EXPECT_EQ(moved.data().size(), bytes.size());
  EXPECT_TRUE(mapped->data().empty());
  std::remove(path.c_str());
}

TEST(MappedFileTest, EmptyFileIsAnEmptyView) {
  const std::string path = TempPath("empty");
  std::ofstream(path).close();
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_TRUE(mapped->data().empty());
  std::remove(path.c_str());
}

TEST(MappedFileTest, ErrorsNameThePath) {
  const std::string missing = TempPath("missing");
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(missing);
  ASSERT_FALSE(mapped.ok());
  EXPECT_TRUE(absl::IsNotFound(mapped.status()));
  EXPECT_EQ(mapped.status().message(),
            missing + ": cannot read: No such file or directory");
  mapped = MappedFile::Open(::testing::TempDir());
  ASSERT_FALSE(mapped.ok());
  EXPECT_TRUE(
      absl::StrContains(mapped.status().message(), "not a regular file"))
      << mapped.status();
}

}  // namespace
}  // namespace aims
