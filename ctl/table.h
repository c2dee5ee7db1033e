// Table: fixed-width text tables for aimsctl output.
//
// Thread-safety: plain value.
#ifndef AIMS_CTL_TABLE_H_
#define AIMS_CTL_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace aims::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header)
      : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns separated by two spaces, padded to the widest cell.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace aims::ctl

#endif  // AIMS_CTL_TABLE_H_
