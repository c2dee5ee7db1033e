#include "common/intake/json_syntax.h"

#include "gtest/gtest.h"

namespace aims {
namespace {

struct Case {
  const char* text;
  size_t offset;
  const char* what;
};

TEST(JsonSyntaxTest, ValidTextsHaveNoError) {
  for (const char* ok :
       {"{}", " [ ] ", "[1, -0.5e+3, \"a\\u00e9\\n\", true, false, null]",
        "{\"k\": {\"n\": [[]]}}", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "1e308", "1e-999"}) {
    EXPECT_FALSE(FindJsonSyntaxError(ok).has_value()) << ok;
  }
}

TEST(JsonSyntaxTest, ErrorsNameTheOffsetAndWhat) {
  const Case cases[] = {
      {"", 0, "unexpected end of input (truncated?)"},
      {"[1, 2", 5, "unexpected end of input (truncated?)"},
      {"{\"a\": \"unterminated", 19, "unexpected end of input (truncated?)"},
      {"[1 2]", 3, "expected ',' or ']', found '2'"},
      {"{\"a\" 1}", 5, "expected ':', found '1'"},
      {"{a: 1}", 1, "expected a member name in quotes, found 'a'"},
      {"[NaN]", 1, "expected a JSON value, found 'N'"},
      {"[1e999]", 1, "number 1e999 is beyond the range of a double"},
      {"[-1e400]", 1, "number -1e400 is beyond the range of a double"},
      {"[01]", 2, "expected ',' or ']', found '1'"},
      {"[1.]", 3, "expected a digit, found ']'"},
      {"[tru]", 4, "expected 'true', found ']'"},
      {"\"a\tb\"", 2, "control character in a string"},
      {"\"\\x\"", 2,
       "expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u), found "
       "'x'"},
      {"\"\xff\"", 1, "invalid UTF-8"},
      {"\"\xc0\xaf\"", 1, "invalid UTF-8"},      // overlong
      {"\"\xed\xa0\x80\"", 1, "invalid UTF-8"},  // surrogate
      {"\"\xe2\x82", 1, "unexpected end of input (truncated?)"},
      {"{} {}", 3, "unexpected content after the JSON value"},
  };
  for (const Case& c : cases) {
    auto error = FindJsonSyntaxError(c.text);
    ASSERT_TRUE(error.has_value()) << c.text;
    EXPECT_EQ(error->offset, c.offset) << c.text;
    EXPECT_EQ(error->what, c.what) << c.text;
  }
}

TEST(JsonSyntaxTest, LineAndColumn) {
  auto error = FindJsonSyntaxError("[\n  1,\n  x]");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->offset, 9u);
  EXPECT_EQ(error->line, 3u);
  EXPECT_EQ(error->column, 3u);
}

TEST(JsonSyntaxTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  auto error = FindJsonSyntaxError(deep);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->what, "nested deeper than 1024 levels");
  EXPECT_EQ(error->offset, 1024u);
}

}  // namespace
}  // namespace aims
