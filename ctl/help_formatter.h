// aimsctl's help layout: CLI11's, with descriptions, option texts and
// footers wrapped to 80 columns, and each option shown with its kind and
// default only (the descriptions say which options go together).
//
// Thread-safety: the formatter is immutable once made.
#ifndef AIMS_CTL_HELP_FORMATTER_H_
#define AIMS_CTL_HELP_FORMATTER_H_

#include <memory>

#include "CLI/CLI.hpp"

namespace aims::ctl {

std::shared_ptr<CLI::Formatter> NewHelpFormatter();

}  // namespace aims::ctl

#endif  // AIMS_CTL_HELP_FORMATTER_H_
