#include "collector/compliance/report_text.h"

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace aims::collector {

std::string RenderMarkdown(const ReportDocument& doc) {
  auto cell = [](const std::string& s) {
    return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}, {"\r", " "}});
  };
  std::string out = absl::StrCat("# ", doc.title, "\n\n");
  for (const auto& [key, value] : doc.facts)
    absl::StrAppend(&out, "- **", key, ":** ", cell(value), "\n");
  for (const ReportTable& t : doc.tables) {
    absl::StrAppend(&out, "\n## ", t.title, "\n\n");
    if (!t.intro.empty()) absl::StrAppend(&out, t.intro, "\n\n");
    if (t.rows.empty()) {
      absl::StrAppend(&out, "None.\n");
      continue;
    }
    std::vector<std::string> header, rule;
    for (const std::string& h : t.header) {
      header.push_back(cell(h));
      rule.push_back("---");
    }
    absl::StrAppend(&out, "| ", absl::StrJoin(header, " | "), " |\n| ",
                    absl::StrJoin(rule, " | "), " |\n");
    for (const auto& row : t.rows) {
      std::vector<std::string> cells;
      for (const std::string& c : row) cells.push_back(cell(c));
      absl::StrAppend(&out, "| ", absl::StrJoin(cells, " | "), " |\n");
    }
  }
  if (!doc.glossary.empty()) {
    absl::StrAppend(&out, "\n## Glossary\n\n");
    for (const auto& [term, meaning] : doc.glossary)
      absl::StrAppend(&out, "- **", term, ":** ", meaning, "\n");
  }
  return out;
}

absl::StatusOr<std::string> RenderCsv(const ReportDocument& doc,
                                      absl::string_view table) {
  auto field = [](std::string s) {
    // A cell a spreadsheet would run as a formula (people's comments travel
    // here) is prefixed with ' unless it is a plain number.
    double number = 0;
    if (!s.empty() && s != "-" && std::strchr("=+-@\t\r", s[0]) != nullptr &&
        !absl::SimpleAtod(s, &number)) {
      s = "'" + s;
    }
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
  };
  std::vector<std::string> names;
  for (const ReportTable& t : doc.tables) {
    names.push_back(t.name);
    if (t.name != table) continue;
    std::string out;
    std::vector<std::string> cells;
    for (const std::string& h : t.header) cells.push_back(field(h));
    absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
    for (const auto& row : t.rows) {
      cells.clear();
      for (const std::string& c : row) cells.push_back(field(c));
      absl::StrAppend(&out, absl::StrJoin(cells, ","), "\r\n");
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "table: '", table, "' is not one of ", absl::StrJoin(names, ", ")));
}

}  // namespace aims::collector
