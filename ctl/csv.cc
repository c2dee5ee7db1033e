#include "ctl/csv.h"

#include "absl/strings/str_cat.h"

namespace aims::ctl {
namespace {

constexpr size_t kMaxColumns = 10000;
constexpr size_t kMaxField = 1 << 20;

// Reads one record; false at end of input. `line` counts physical lines.
absl::Status ReadRecord(std::istream& in, std::vector<std::string>* fields,
                        size_t* line, bool* got) {
  fields->clear();
  *got = false;
  std::string field;
  bool quoted = false, any = false;
  const size_t start_line = *line + 1;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          field.push_back('"');
          in.get();
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++*line;
        field.push_back(static_cast<char>(c));
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++*line;
      break;
    } else if (c != '\r') {
      field.push_back(static_cast<char>(c));
    }
    if (field.size() > kMaxField) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", start_line, ": field longer than 1 MiB"));
    }
    if (fields->size() > kMaxColumns) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", start_line, ": more than ", kMaxColumns, " columns"));
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", start_line, ": unterminated quoted field"));
  }
  if (!any) return absl::OkStatus();
  if (c == EOF) ++*line;
  fields->push_back(std::move(field));
  *got = true;
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadCsv(std::istream& in, std::vector<std::string>* header,
                     const std::function<absl::Status(
                         const std::vector<std::string>&, size_t line)>& row) {
  size_t line = 0;
  bool got = false;
  if (absl::Status s = ReadRecord(in, header, &line, &got); !s.ok()) return s;
  if (!got || header->empty() ||
      (header->size() == 1 && (*header)[0].empty())) {
    return absl::InvalidArgumentError(
        "line 1: a header row naming the columns is required");
  }
  std::vector<std::string> fields;
  for (;;) {
    const size_t record_line = line + 1;
    if (absl::Status s = ReadRecord(in, &fields, &line, &got); !s.ok())
      return s;
    if (!got) return absl::OkStatus();
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != header->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", record_line, ": ", fields.size(),
                       " fields, the header has ", header->size()));
    }
    if (absl::Status s = row(fields, record_line); !s.ok()) return s;
  }
}

}  // namespace aims::ctl
