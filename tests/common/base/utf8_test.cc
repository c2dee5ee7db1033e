#include "common/base/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace aims {
namespace {

TEST(Utf8Test, CutNeverSplitsACharacter) {
  // "a", "é" (2 bytes), "€" (3 bytes), "😀" (4 bytes).
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  const size_t boundaries[] = {0, 1, 3, 6, 10};
  for (size_t max = 0; max <= text.size() + 2; ++max) {
    size_t want = 0;
    for (size_t b : boundaries) {
      if (b <= max) want = b;
    }
    EXPECT_EQ(CutUtf8(text, max), text.substr(0, want)) << "max " << max;
    EXPECT_TRUE(IsValidUtf8(CutUtf8(text, max)));
  }
}

TEST(Utf8Test, CutStopsBeforeInvalidBytes) {
  EXPECT_EQ(CutUtf8("ab\xFF"
                    "cd",
                    10),
            "ab");
  EXPECT_EQ(CutUtf8("ab\xC3", 10), "ab");              // truncated sequence
  EXPECT_EQ(CutUtf8("ab\xC0\xAF", 10), "ab");          // overlong '/'
  EXPECT_EQ(CutUtf8("ab\xED\xA0\x80", 10), "ab");      // surrogate U+D800
  EXPECT_EQ(CutUtf8("ab\xF4\x90\x80\x80", 10), "ab");  // above U+10FFFF
  EXPECT_EQ(CutUtf8("ab\xE2\x28\xA1", 10), "ab");      // bad continuation
}

TEST(Utf8Test, ValidTextIsRecognised) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii \x01\x7F"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xEF\xBB\xBF"));      // BOM
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));  // 5-byte form
}

}  // namespace
}  // namespace aims
