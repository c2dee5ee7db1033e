#include "ctl/csv.h"

#include <sstream>

#include "gtest/gtest.h"

namespace aims::ctl {
namespace {

TEST(CsvTest, QuotesSeparatorsAndNewlinesInFields) {
  std::istringstream in(
      "id,comment,amount\r\n1,\"a, \"\"quoted\"\" "
      "note\",3.5\n2,\"two\nlines\",\n\n");
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> lines;
  ASSERT_TRUE(
      ReadCsv(in, &header, [&](const std::vector<std::string>& r, size_t line) {
        rows.push_back(r);
        lines.push_back(line);
        return absl::OkStatus();
      }).ok());
  EXPECT_EQ(header, (std::vector<std::string>{"id", "comment", "amount"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "a, \"quoted\" note");
  EXPECT_EQ(rows[1][1], "two\nlines");
  EXPECT_EQ(rows[1][2], "");
  EXPECT_EQ(lines, (std::vector<size_t>{2, 3}));
}

TEST(CsvTest, ErrorsNameTheLine) {
  std::vector<std::string> header;
  auto ignore = [](const std::vector<std::string>&, size_t) {
    return absl::OkStatus();
  };
  std::istringstream short_row("a,b\n1,2\n3\n");
  EXPECT_EQ(ReadCsv(short_row, &header, ignore).message(),
            "line 3: 1 fields, the header has 2");
  std::istringstream open_quote("a,b\n1,\"2\n");
  EXPECT_EQ(ReadCsv(open_quote, &header, ignore).message(),
            "line 2: unterminated quoted field");
  std::istringstream empty("");
  EXPECT_NE(ReadCsv(empty, &header, ignore).message().find("header row"),
            std::string::npos);
}

}  // namespace
}  // namespace aims::ctl
